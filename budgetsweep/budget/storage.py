"""The one database of a sweep: where it is by default, how it is opened, how it is shown.

The Optuna study and the budget ledger share it. With no ``hydra.sweeper.storage`` it is an SQLite
file at ``outputs/budgetsweep.db`` under the directory the command was started from (not under the
timestamped sweep directory, so rerunning the command later finds the same study).

Passwords never reach logs, records or result files: the job gets the URL with the password
masked, and the full URL through the environment variable ``BUDGETSWEEP_STORAGE_URL``, which the
sweeper sets for the jobs it launches (local, joblib and submitit launchers pass the environment on).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from budgetsweep.storage_url import mask_url as mask

STORAGE_ENV = "BUDGETSWEEP_STORAGE_URL"
WAL_ENV = "BUDGETSWEEP_SQLITE_WAL"
DEFAULT_DB = Path("outputs") / "budgetsweep.db"
ALLOWED = "an SQLAlchemy database URL such as sqlite:///outputs/budgetsweep.db or postgresql://user:password@host/db"
SQLITE_TIMEOUT_S = 60  # a busy SQLite file waits this long instead of failing at once



def default_storage_url(base_dir: str | os.PathLike) -> str:
    path = (Path(base_dir) / DEFAULT_DB).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    create_with_umask(path)
    return f"sqlite:///{path}"


def create_with_umask(path: str | os.PathLike) -> None:
    """Create the (empty, so new) SQLite file ``path`` unless it exists, with mode 0666 minus the
    process umask, as ``open()`` would: SQLite itself creates files 0644 whatever the umask, so a
    group-writable umask (a team sharing a study) would not reach the study's database, nor its
    ``-wal`` and ``-shm`` files, which SQLite gives the database file's mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except FileExistsError:
        pass
    except OSError:
        pass  # a directory that does not exist or cannot be written: check_url says so


def absolute_sqlite(url: str, base_dir: str | os.PathLike) -> str:
    """An SQLite URL with a relative path made absolute against ``base_dir``, so jobs that change
    directory (``hydra.job.chdir=true``) open the same file."""
    from sqlalchemy.engine import make_url

    if not is_sqlite(url):
        return url
    try:
        parsed = make_url(url)
    except Exception:
        return url  # check_url reports it
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return url
    if not os.path.isabs(database):
        database = str((Path(base_dir) / database).resolve())
        url = parsed.set(database=database).render_as_string(hide_password=False)
    create_with_umask(database)
    return url


def has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password is not None
    except Exception:
        return False


def is_sqlite(url: str) -> bool:
    return str(url).startswith("sqlite")


def wal_enabled() -> bool:
    return os.environ.get(WAL_ENV, "1") != "0"


def begin_immediate(engine) -> None:
    """Every transaction of SQLite ``engine`` starts with ``BEGIN IMMEDIATE`` (explicit, file lock taken).

    pysqlite opens transactions lazily, only before writes, and would commit each CREATE on its own: a
    read-check-insert (a ledger reservation) could interleave with another process's, and a new schema
    could be seen half made. Taking the lock up front makes both one transaction."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def tune_sqlite(engine) -> None:
    """WAL journal and synchronous=NORMAL on every connection of ``engine``.

    SQLite's default (rollback journal, fsync on every commit) costs ~15-20 ms per commit here, and
    a trial makes about fifteen (ask, params, attributes, ledger, tell). In WAL mode with
    synchronous=NORMAL a commit survives the process being killed (only an OS crash or power loss
    may lose the last commits), and readers do not block the writer. WAL needs a local file
    system: set BUDGETSWEEP_SQLITE_WAL=0 for a database on NFS (or use PostgreSQL there).
    """
    import sqlite3

    from sqlalchemy import event

    if not wal_enabled():
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # kept by the file; a no-op once set
        except sqlite3.OperationalError:  # another connection is busy: the next one will set it
            pass
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine.dispose()  # connections opened before the listener get replaced


def engine_kwargs(url: str) -> dict:
    if is_sqlite(url):
        return {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    return {"pool_pre_ping": True}


def check_url(url, key: str = "hydra.sweeper.storage") -> str:
    """A clear error before any job runs when ``url`` is not a database URL SQLAlchemy can use."""
    from sqlalchemy.engine import make_url

    if not isinstance(url, str) or not url:
        raise ValueError(f"{key}={url!r} is not a storage; allowed: {ALLOWED}")
    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except Exception as exc:
        raise ValueError(f"{key}={mask(url)!r} cannot be opened ({type(exc).__name__}: {mask(str(exc))}); "
                         f"allowed: {ALLOWED}") from None
    if is_sqlite(url) and parsed.database not in (None, "", ":memory:"):
        parent = Path(parsed.database).parent
        if not parent.is_dir():
            raise ValueError(f"{key}={url!r} cannot be opened: folder {parent} does not exist; "
                             f"allowed: {ALLOWED}")
    if is_sqlite(url) and parsed.database in (None, "", ":memory:"):
        raise ValueError(f"{key}={url!r} is an in-memory database, which jobs in other processes cannot "
                         f"see and which does not survive the sweep; allowed: {ALLOWED}")
    return url


def _head_revision() -> str | None:
    """Optuna's newest schema revision, read from its migration scripts' ``revision`` and
    ``down_revision`` lines (the one no other script names as its parent), without alembic."""
    import re
    from pathlib import Path

    import optuna.storages._rdb as rdb

    revisions, parents = set(), set()
    for script in (Path(rdb.__file__).parent / "alembic" / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        own = re.search(r'^revision\s*=\s*["\']([^"\']+)', text, re.M)
        parent = re.search(r'^down_revision\s*=\s*["\']([^"\']+)', text, re.M)
        if own:
            revisions.add(own.group(1))
        if parent:
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _create_checked(url: str, kwargs: dict) -> None:
    """Create Optuna's schema in a new, empty database as RDBStorage would (its tables, its version
    row, alembic's revision stamp at the newest revision) and stamp it checked, without importing
    alembic. All of it is one transaction (on SQLite too: one commit, not one per table, and never a
    half-made schema). Several processes doing it at once: one commits, the others fail with "already
    exists" (a creation race, retried by the caller, when the tables are there); a database that is
    not empty is left alone."""
    import optuna
    from optuna.storages._rdb import models
    from sqlalchemy import Column, MetaData, String, Table, create_engine, inspect, insert

    head = _head_revision()
    engine = create_engine(url, **kwargs)
    if is_sqlite(url):  # pysqlite would commit each CREATE on its own: run them in one explicit transaction
        begin_immediate(engine)
    try:
        if head is None or inspect(engine).get_table_names():
            return
        alembic_version = Table("alembic_version", MetaData(),
                                Column("version_num", String(32), primary_key=True, nullable=False))
        meta = _meta_table()
        with engine.begin() as conn:
            models.BaseModel.metadata.create_all(conn, checkfirst=False)
            alembic_version.create(conn, checkfirst=False)
            meta.create(conn, checkfirst=False)
            conn.execute(insert(models.VersionInfoModel.__table__).values(
                version_info_id=1, schema_version=models.SCHEMA_VERSION, library_version=optuna.__version__))
            conn.execute(insert(alembic_version).values(version_num=head))
            conn.execute(insert(meta).values(meta_key=SCHEMA_KEY, meta_value=f"{optuna.__version__}|{head}"))
    finally:
        engine.dispose()


def _creation_race(exc: BaseException) -> bool:
    """Another process creating the same tables at the same moment (not a bad URL): SQLite says
    "table ... already exists" or "database is locked", PostgreSQL a duplicate key in its catalog."""
    from sqlalchemy.exc import IntegrityError

    text = str(exc).lower()
    return isinstance(exc, IntegrityError) or any(
        s in text for s in ("already exists", "duplicate key", "database is locked", "unique constraint"))


SCHEMA_KEY = "optuna_schema"  # budgetsweep_meta: "<optuna version>|<alembic revision>" checked by it


def _meta_table():
    from sqlalchemy import Column, MetaData, String, Table

    return Table("budgetsweep_meta", MetaData(), Column("meta_key", String(64), primary_key=True),
                 Column("meta_value", String(512), nullable=False))


def _schema_stamp(engine) -> tuple[str | None, str | None]:
    """(what budgetsweep recorded as checked, the database's alembic revision); None where absent."""
    from sqlalchemy import inspect, select, text

    try:
        names = set(inspect(engine).get_table_names())
        if not {"budgetsweep_meta", "alembic_version"} <= names:
            return None, None
        table = _meta_table()
        with engine.connect() as conn:
            checked = conn.execute(select(table.c.meta_value).where(table.c.meta_key == SCHEMA_KEY)).scalar()
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return checked, revision
    except Exception:
        return None, None


def _stamp_checked(storage) -> None:
    """Record that this Optuna version checked the database's schema (best effort)."""
    import optuna
    from sqlalchemy import delete, insert

    try:
        stamp = f"{optuna.__version__}|{storage.get_current_version()}"
        table = _meta_table()
        table.create(storage.engine, checkfirst=True)
        with storage.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.meta_key == SCHEMA_KEY))
            conn.execute(insert(table).values(meta_key=SCHEMA_KEY, meta_value=stamp))
    except Exception:  # another process stamping at the same moment; the next start checks again
        pass


def _checked_storage(url: str, kwargs: dict):
    """An RDBStorage on a database whose Optuna schema this Optuna version has already checked
    (``budgetsweep_meta``), opened without Optuna's alembic version manager: importing alembic and
    reading its migration scripts is most of a sweeper's (and every job's) start-up. None when the
    database has not been checked by this Optuna version, or its revision changed since."""
    import optuna
    from sqlalchemy import create_engine
    from sqlalchemy import orm

    engine = create_engine(url, **kwargs)
    checked, revision = _schema_stamp(engine)
    if revision is None or checked != f"{optuna.__version__}|{revision}":
        engine.dispose()
        return None
    from budgetsweep.budget.storage_retry import RetryingRDBStorage

    storage = RetryingRDBStorage.__new__(RetryingRDBStorage)
    # what RDBStorage.__init__ sets, with its defaults (no heartbeat), minus the version manager
    storage.engine_kwargs = dict(kwargs)
    storage.url = url
    storage.skip_compatibility_check = True
    storage.heartbeat_interval = storage.grace_period = None
    storage.heartbeat_stale_trial_callback = storage.failed_trial_callback = None
    storage.engine = engine
    storage.scoped_session = orm.scoped_session(orm.sessionmaker(bind=engine))
    return storage


def open_optuna_storage(url: str, key: str = "hydra.sweeper.storage"):
    """An Optuna RDBStorage on ``url`` (a ``RetryingRDBStorage``: a database busy for a moment is waited
    for); raises ValueError naming ``key`` when it cannot be opened.

    Several sweepers started together on a new database all create Optuna's tables: the losers of
    that race retry (the tables are there by then); any other error is the URL's, reported at once.
    A database this Optuna version has checked before opens without the schema check (no alembic).
    """
    from budgetsweep.budget.storage_retry import RetryingRDBStorage

    check_url(url, key)
    kwargs = engine_kwargs(url)
    storage = None
    for attempt in range(5):
        try:
            if attempt:
                _create_checked(url, kwargs)
            storage = _checked_storage(url, kwargs)
        except Exception as exc:
            if _creation_race(exc):
                time.sleep(0.05 * attempt)
                continue
            storage = None  # Optuna's own set-up below reports what is wrong
            break
        if storage is not None or attempt:
            break
    attempts = 8
    for attempt in range(attempts if storage is None else 0):
        try:
            storage = RetryingRDBStorage(url, engine_kwargs=kwargs)
            _stamp_checked(storage)
            break
        except Exception as exc:
            if _creation_race(exc) and attempt < attempts - 1:
                time.sleep(0.1 * (attempt + 1))
                continue
            raise ValueError(f"{key}={mask(url)!r} cannot be opened ({type(exc).__name__}: {mask(str(exc))}); "
                             f"allowed: {ALLOWED}") from None
    if is_sqlite(url):
        tune_sqlite(storage.engine)
    return storage


def url_for_job(url: str) -> str:
    """What goes into the job's overrides: the masked URL; the full one is put in the environment."""
    if not has_password(url):
        return url
    os.environ[STORAGE_ENV] = url
    return mask(url)


def url_from_job(url: str) -> str:
    """The full URL for a job given the (possibly masked) URL of its overrides."""
    if mask(url) != url or "***" not in url:
        return url  # nothing masked
    full = os.environ.get(STORAGE_ENV)
    if full and mask(full) == url:
        return full
    raise ValueError(
        f"budgetsweep.trial.storage={url!r} has its password masked and the environment variable "
        f"{STORAGE_ENV} does not hold the matching URL; set {STORAGE_ENV} to the full storage URL "
        "in the job's environment"
    )
