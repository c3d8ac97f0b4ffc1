"""Who holds a reservation, and whether it is still alive.

A reservation is held by one sweeper process, named ``host:pid:token``. On the same host a dead
pid means a dead holder at once (a resumed sweep need not wait); elsewhere the holder is dead when
its heartbeat is older than ``stale_after_seconds``.
"""
from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timezone

_TOKEN = uuid.uuid4().hex[:8]


def current_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_TOKEN}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def is_alive(owner: str | None, heartbeat_at: datetime | None, *, stale_after_seconds: float,
             now: datetime | None = None) -> bool:
    if owner == current_owner():
        return True
    if owner:  # no owner yet (a trial just asked): only its age can tell
        host, _, rest = owner.partition(":")
        pid_text = rest.partition(":")[0]
        if host == socket.gethostname() and pid_text.isdigit() and not _pid_alive(int(pid_text)):
            return False
    if heartbeat_at is None:
        return False
    now = now or datetime.now(timezone.utc)
    if heartbeat_at.tzinfo is None:
        heartbeat_at = heartbeat_at.replace(tzinfo=timezone.utc)
    return (now - heartbeat_at).total_seconds() <= stale_after_seconds
