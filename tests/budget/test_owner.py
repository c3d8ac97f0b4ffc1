import subprocess
import sys
from datetime import datetime, timedelta, timezone

from budgetsweep.budget.owner import current_owner, is_alive


def test_this_process_is_alive_and_a_dead_pid_on_this_host_is_not():
    now = datetime.now(timezone.utc)
    assert is_alive(current_owner(), None, stale_after_seconds=60)
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = current_owner().split(":")[0]
    dead = f"{host}:{proc.stdout.strip()}:token"
    assert not is_alive(dead, now, stale_after_seconds=60)  # fresh heartbeat, but the process is gone


def test_elsewhere_and_ownerless_holders_live_by_their_heartbeat():
    now = datetime.now(timezone.utc)
    for owner in ("otherhost:123:t", None):
        assert is_alive(owner, now - timedelta(seconds=30), stale_after_seconds=60, now=now)
        assert not is_alive(owner, now - timedelta(seconds=90), stale_after_seconds=60, now=now)
        assert not is_alive(owner, None, stale_after_seconds=60, now=now)
