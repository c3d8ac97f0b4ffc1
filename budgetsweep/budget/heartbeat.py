"""A sweeper's liveness in the ledger, for other sweepers sharing its study."""
from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class Heartbeat:
    """Keeps this sweeper's reservations alive for other sweepers sharing the study."""

    def __init__(self, ledger: Any, seconds: float) -> None:
        """``ledger``: a ``budgetsweep.budget.ledger.Ledger``; ``seconds``: between beats."""
        self._ledger, self._seconds = ledger, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="budgetsweep-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._seconds):
            try:
                self._ledger.heartbeat()
            except Exception as exc:  # a missed beat only makes our reservations look older
                log.debug("heartbeat failed: %s", exc)
