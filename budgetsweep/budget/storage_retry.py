"""The study's storage, riding out a database that is busy for a moment, and naming what failed when it is not.

SQLite waits for a lock (the busy timeout, ``storage.SQLITE_TIMEOUT_S``) in most cases, but answers
"database is locked" at once in a few: a read while the last connection of another process cleans up
the write-ahead log, or while another connection recovers it after a crash; a write whose read
snapshot another writer made stale. Each is over a moment later. Optuna's ``RDBStorage`` turns any
such error into ``StorageInternalError`` ("... due to invalid data in the commit, e.g. exceeding max
length"), which would end a sweep and blame the data.

``RetryingRDBStorage`` is Optuna's ``RDBStorage`` whose reads and writes are tried again, a few times
over about ``RETRY_SECONDS``, when the error under Optuna's is one of those transient ones. Retrying
is safe: Optuna runs each call in one transaction, rolled back when it fails, so a failed call wrote
nothing. Any other error, or one that outlasts the retries, is raised as before; ``explain`` turns
it into a sentence naming the database's own error, for the sweep's last line.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from optuna.storages import RDBStorage

log = logging.getLogger(__name__)

# sqlite3's and SQLAlchemy's wording of an error that is over once another connection lets go
TRANSIENT = ("database is locked", "database table is locked", "locking protocol", "queuepool limit")
RETRY_SECONDS = 10.0
_FIRST_WAIT_S = 0.05

# RDBStorage's methods that each run one transaction (the others, get_all_trials or create_new_trial,
# call these, so they are not retried twice over). Not create_new_study: it commits the study, then reads
# its id (get_study_id_from_name, retried); retried as a whole, a failed read would insert the committed
# study again. Its insert, a first write, is waited for by SQLite's own busy timeout.
RETRIED = (
    "delete_study", "set_study_user_attr", "set_study_system_attr",
    "get_study_id_from_name", "get_study_name_from_id", "get_study_directions", "get_study_user_attrs",
    "get_study_system_attrs", "get_all_studies", "_create_new_trial", "_set_trial_param",
    "get_trial_id_from_study_id_trial_number", "set_trial_state_values", "set_trial_intermediate_value",
    "set_trial_user_attr", "set_trial_system_attr", "get_trial", "_get_trials", "_get_best_trial_id",
)


def database_error(exc: BaseException) -> BaseException:
    """The database's own error under ``exc`` (as Optuna raises it): the driver's exception that the first
    SQLAlchemy error of the chain (``__cause__``, else ``__context__``) wraps, or that SQLAlchemy error (a
    pool timeout); the chain's innermost exception when it has none. Not simply the innermost: a call made
    while another exception was being handled (a job's failure, Ctrl-C) chains that exception under the
    driver's as its ``__context__``."""
    from sqlalchemy.exc import SQLAlchemyError

    seen = set()
    link: BaseException | None = exc
    innermost = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, SQLAlchemyError):
            orig = getattr(link, "orig", None)
            return orig if isinstance(orig, BaseException) else link
        seen.add(id(link))
        innermost = link
        link = link.__cause__ or link.__context__
    return innermost


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (as Optuna raises it) comes from a database that is busy for a moment."""
    from sqlalchemy.exc import OperationalError, TimeoutError as PoolTimeout

    inner = database_error(exc)
    chain = [exc, inner]
    if not any(isinstance(e, (OperationalError, PoolTimeout)) or type(e).__name__ == "OperationalError"
               for e in chain):
        return False
    text = " ".join(str(e) for e in chain).lower()
    return any(words in text for words in TRANSIENT)


def call_retrying(call: Callable[..., Any], *args: Any, what: str = "the study's storage", **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``, tried again while it fails transiently, for up to ``RETRY_SECONDS``
    (waits 0.05 s, doubling, at most 1 s); the last error is raised."""
    deadline = time.monotonic() + RETRY_SECONDS
    wait = _FIRST_WAIT_S
    while True:
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + wait > deadline:
                raise
            log.debug("%s was busy (%s); trying again in %.2f s", what, database_error(exc), wait)
            time.sleep(wait)
            wait = min(1.0, wait * 2)


class RetryingRDBStorage(RDBStorage):
    """Optuna's ``RDBStorage`` (same constructor), whose calls in ``RETRIED`` ride out a busy database."""

    def __getstate__(self) -> dict[str, Any]:
        # RDBStorage's own drops a version manager that a storage opened without alembic
        # (storage._checked_storage) does not have; unpickling builds engine and version manager again
        state = self.__dict__.copy()
        for key in ("scoped_session", "engine", "_version_manager"):
            state.pop(key, None)
        return state


def _retrying(name: str) -> Callable[..., Any]:
    plain = getattr(RDBStorage, name)

    def method(self: RDBStorage, *args: Any, **kwargs: Any) -> Any:
        return call_retrying(plain, self, *args, what=f"the study's storage ({name})", **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = plain.__doc__
    return method


for _name in RETRIED:
    if hasattr(RDBStorage, _name):  # an Optuna without one of them keeps its own
        setattr(RetryingRDBStorage, _name, _retrying(_name))


def explain(exc: BaseException, storage: str) -> str | None:
    """A sentence naming the database error under ``exc``: Optuna's ``StorageInternalError``, or an SQLAlchemy
    error raised as is (the ledger's, in the same database); None for any other exception. ``storage``: the URL
    to name (masked)."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import SQLAlchemyError

    if not isinstance(exc, (StorageInternalError, SQLAlchemyError)):
        return None
    inner = database_error(exc)
    detail = f"{type(inner).__name__}: {str(inner).splitlines()[0] if str(inner) else '(no message)'}"
    busy = " (still busy: another process holds it)" if is_transient(exc) else ""
    return f"the study's database {storage} failed{busy}: {detail}"
