"""The budget ledger: what a study may spend, has spent, and has reserved for trials in flight.

Two tables in the study's own database (SQLAlchemy Core):

- ``budgetsweep_budgets``: one row per study: unit, limit, tolerance. It is also the lock: every
  change takes it first (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite every transaction is
  ``BEGIN IMMEDIATE``, which locks the whole file), so check-and-insert is atomic across processes.
- ``budgetsweep_charges``: one row per trial: ``reserved`` (the prediction, held before launch),
  then ``committed`` (the actual cost) or ``released`` (never ran).

- ``budgetsweep_claims``: one row per (study, key) taken by a trial, e.g. a grid point: a grid
  shared by several sweepers visits each point once.

The unit is fixed per study: reopening it with another unit is an error. The limit may change
(continuing a study with more budget is a normal thing to do); the change is reported through
``limit_changed_from`` so the sweeper can log it. ``limit=None`` is a study without a cap (costs
are still measured and charged); it is stored as infinity.

``n_trials`` is a study's total over all processes: ``try_reserve(..., max_trials=n)`` takes a
trial slot (a charge that is not ``released``) in the same locked transaction as the budget.
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator

from sqlalchemy import (Column, DateTime, Float, Integer, MetaData, String, Table, and_, case, create_engine,
                        func, insert, select, update)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from budgetsweep.budget.owner import current_owner
from budgetsweep.budget.storage import begin_immediate, engine_kwargs, is_sqlite, mask, tune_sqlite
from budgetsweep.budget.units import check_unit

RESERVED, COMMITTED, RELEASED = "reserved", "committed", "released"

metadata = MetaData()

budgets_table = Table(
    "budgetsweep_budgets", metadata,
    Column("study_name", String(512), primary_key=True),
    Column("unit", String(16), nullable=False),
    Column("limit_value", Float, nullable=False),
    Column("tolerance", Float, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

charges_table = Table(
    "budgetsweep_charges", metadata,
    Column("study_name", String(512), primary_key=True),
    Column("trial_number", Integer, primary_key=True, autoincrement=False),
    Column("state", String(16), nullable=False),
    Column("reserved", Float, nullable=True),  # prediction + granted tolerance (top_up); kept after commit
    Column("actual", Float, nullable=True),
    Column("label", String(256), nullable=False, default=""),
    Column("job_dir", String(2048), nullable=True),
    Column("owner", String(256), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("heartbeat_at", DateTime, nullable=True),
    Column("committed_at", DateTime, nullable=True),
)


claims_table = Table(
    "budgetsweep_claims", metadata,
    Column("study_name", String(512), primary_key=True),
    Column("claim_key", String(512), primary_key=True),
    Column("trial_number", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

RESERVED_OK, NO_BUDGET, NO_SLOT = "reserved", "no_budget", "no_slot"


class LedgerError(ValueError):
    """A ledger operation that would break the books (another unit, a trial charged twice...)."""


@dataclass(frozen=True)
class Charge:
    trial: int
    state: str
    reserved: float | None
    actual: float | None
    label: str
    job_dir: str | None
    owner: str | None
    created_at: datetime
    heartbeat_at: datetime | None


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)  # naive UTC: the same on every backend


def _number(trial: Any) -> int:
    number = getattr(trial, "number", trial)
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise LedgerError(f"trial={trial!r} is not a trial number; it must be an integer >= 0")
    return number


def _amount(name: str, value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise LedgerError(f"{name}={value!r} is not a cost; it must be a finite number >= 0") from None
    if not math.isfinite(value) or value < 0:
        raise LedgerError(f"{name}={value!r} is not a cost; it must be a finite number >= 0")
    return value


def make_engine(url: str) -> Engine:
    engine = create_engine(url, **engine_kwargs(url))
    if is_sqlite(url):
        tune_sqlite(engine)
        begin_immediate(engine)  # a reserve's read-check-insert cannot interleave with another process's
    return engine


def _charges(conn: Connection, study_name: str) -> list[Charge]:
    rows = conn.execute(select(charges_table).where(charges_table.c.study_name == study_name)
                        .order_by(charges_table.c.trial_number)).all()
    return [Charge(r.trial_number, r.state, r.reserved, r.actual, r.label, r.job_dir, r.owner,
                   r.created_at, r.heartbeat_at) for r in rows]


def read_charges(storage: str, study_name: str) -> list[Charge]:
    """A study's charges, read only (a report's view): unlike ``Ledger``, this creates no table, opens
    no budget and takes no write lock (no ``BEGIN IMMEDIATE`` on SQLite). A storage without the
    ledger's tables (a study the budget sweeper did not run) has no charges."""
    from sqlalchemy import inspect

    engine = create_engine(storage, **engine_kwargs(storage))
    try:
        if not inspect(engine).has_table(charges_table.name):
            return []
        with engine.connect() as conn:
            return _charges(conn, study_name)
    finally:
        engine.dispose()


class Ledger:
    def __init__(self, storage: str | Engine, study_name: str, *, unit: str, limit: float | None,
                 tolerance: float = 0.0, owner: str | None = None, open_budget: bool = True) -> None:
        check_unit(unit)
        if not isinstance(study_name, str) or not study_name:
            raise LedgerError(f"study_name={study_name!r} is not allowed; it must be a non-empty string")
        self.limit_value = math.inf if limit is None else _amount("limit", limit)
        if self.limit_value <= 0:
            raise LedgerError(f"limit={limit!r} is not allowed; it must be a number > 0 (or None: no cap)")
        self.engine = make_engine(storage) if isinstance(storage, str) else storage
        self.study_name = study_name
        self.unit = unit
        self.tolerance = _amount("tolerance", tolerance)
        self.owner = owner or current_owner()
        self.limit_changed_from: float | None = None
        self._create_tables()
        if open_budget:
            self.open_budget()
        else:  # the unit is checked now all the same: nothing else may be written for a study kept in another
            with self.engine.connect() as conn:
                row = conn.execute(select(budgets_table.c.unit).where(
                    budgets_table.c.study_name == self.study_name)).first()
            if row is not None:
                self._check_unit(row.unit)

    def __repr__(self) -> str:
        return f"Ledger({mask(str(self.engine.url))!r}, study={self.study_name!r}, {self.limit_value} {self.unit})"

    # -- set-up -------------------------------------------------------------------------
    @property
    def capped(self) -> bool:
        return math.isfinite(self.limit_value)

    def _create_tables(self) -> None:
        for attempt in range(6):
            try:
                metadata.create_all(self.engine, checkfirst=True)
                return
            except (OperationalError, ProgrammingError, IntegrityError):
                if attempt == 5:  # another process creating them at the same moment: look again
                    raise
                time.sleep(0.1 * (attempt + 1))

    def open_budget(self) -> None:
        """Write this study's budget row (unit, limit, tolerance), or check it against the one there. The
        constructor does it unless ``open_budget=False``: the sweeper first checks everything else it can, so
        a command refused before its first trial leaves the study's limit as it was."""
        for _ in range(2):
            try:
                with self._transaction() as conn:
                    row = conn.execute(select(budgets_table).where(budgets_table.c.study_name == self.study_name)
                                       .with_for_update()).first()
                    if row is None:
                        now = _now()
                        conn.execute(insert(budgets_table).values(
                            study_name=self.study_name, unit=self.unit, limit_value=self.limit_value,
                            tolerance=self.tolerance, created_at=now, updated_at=now))
                        return
                    self._check_unit(row.unit)
                    if row.limit_value != self.limit_value or row.tolerance != self.tolerance:
                        if row.limit_value != self.limit_value:
                            self.limit_changed_from = row.limit_value
                        conn.execute(update(budgets_table).where(budgets_table.c.study_name == self.study_name).values(
                            limit_value=self.limit_value, tolerance=self.tolerance, updated_at=_now()))
                    return
            except IntegrityError:
                continue  # another process inserted the row first; read it
        raise LedgerError(f"could not open the budget of study {self.study_name!r}")

    def _check_unit(self, stored: str) -> None:
        if stored != self.unit:
            raise LedgerError(
                f"hydra.sweeper.budget.unit={self.unit!r} does not match study {self.study_name!r}, "
                f"whose budget is kept in {stored!r}; allowed: {stored!r} (the unit is fixed per "
                "study), or another hydra.sweeper.study_name for a new study")

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _locked(self) -> Iterator[Connection]:
        """A transaction holding this study's budget row: one writer at a time per study."""
        with self._transaction() as conn:
            conn.execute(select(budgets_table.c.study_name).where(budgets_table.c.study_name == self.study_name)
                         .with_for_update())
            yield conn

    def _row(self, conn: Connection, number: int):
        return conn.execute(select(charges_table).where(and_(charges_table.c.study_name == self.study_name,
                                                       charges_table.c.trial_number == number))).first()

    def _totals(self, conn: Connection) -> tuple[float, float]:
        c = charges_table.c
        spent = func.coalesce(func.sum(case((c.state == COMMITTED, c.actual), else_=0.0)), 0.0)
        held = func.coalesce(func.sum(case((c.state == RESERVED, c.reserved), else_=0.0)), 0.0)
        row = conn.execute(select(spent, held).where(c.study_name == self.study_name)).one()
        return float(row[0]), float(row[1])

    def _fits(self, spent: float, held: float, amount: float) -> bool:
        # a relative epsilon absorbs float summation noise; exact units (examples) are integers
        return spent + held + amount <= self.limit_value * (1.0 + 1e-12)

    # -- the contract -------------------------------------------------------------------
    def reserve(self, trial: Any, predicted: float, *, label: str = "", job_dir: str | None = None) -> bool:
        """Hold ``predicted`` for ``trial`` if spent + reserved + predicted <= limit; atomic."""
        return self.try_reserve(trial, predicted, label=label, job_dir=job_dir) == RESERVED_OK

    def launched(self) -> int:
        """Trials of the study that hold a slot: reserved or committed (not released)."""
        with self._transaction() as conn:
            return self._launched(conn)

    def _launched(self, conn: Connection) -> int:
        c = charges_table.c
        return int(conn.execute(select(func.count()).where(and_(c.study_name == self.study_name,
                                                                c.state != RELEASED))).scalar_one())

    def try_reserve(self, trial: Any, predicted: float, *, label: str = "", job_dir: str | None = None,
                    max_trials: int | None = None) -> str:
        """Hold ``predicted`` for ``trial`` if spent + reserved + predicted <= limit and, with
        ``max_trials``, fewer than that many trials hold a slot; atomic across processes.
        Returns RESERVED_OK, NO_BUDGET or NO_SLOT."""
        number = _number(trial)
        predicted = _amount("predicted", predicted)
        with self._locked() as conn:
            existing = self._row(conn, number)
            if existing is not None:
                raise LedgerError(f"trial {number} of study {self.study_name!r} already has a charge "
                                  f"({existing.state}); a trial is reserved once")
            if max_trials is not None and self._launched(conn) >= max_trials:
                return NO_SLOT
            spent, held = self._totals(conn)
            if not self._fits(spent, held, predicted):
                return NO_BUDGET
            now = _now()
            conn.execute(insert(charges_table).values(
                study_name=self.study_name, trial_number=number, state=RESERVED, reserved=predicted,
                actual=None, label=label or "", job_dir=job_dir, owner=self.owner, created_at=now,
                heartbeat_at=now, committed_at=None))
            return RESERVED_OK

    def top_up(self, trial: Any, extra: float) -> float:
        """Add to ``trial``'s reservation as much of ``extra`` as the budget has room for (the
        tolerance a job may spend past its prediction, held so that no job is allowed more than the
        ledger holds for it); atomic. Returns the amount added, in [0, extra]."""
        number = _number(trial)
        extra = _amount("extra", extra)
        with self._locked() as conn:
            row = self._row(conn, number)
            if row is None or row.state != RESERVED:
                raise LedgerError(f"trial {number} of study {self.study_name!r} holds no reservation to top up")
            spent, held = self._totals(conn)
            added = max(0.0, min(extra, self.limit_value - spent - held))
            if added > 0:
                conn.execute(update(charges_table).where(and_(charges_table.c.study_name == self.study_name,
                                                        charges_table.c.trial_number == number))
                             .values(reserved=row.reserved + added))
            return added

    def claim(self, key: str, trial: Any) -> bool:
        """Take ``key`` (a grid point, say) for ``trial``, once per study: True when it is now this
        trial's (also when it already was), False when another trial holds it. Atomic."""
        number = _number(trial)
        with self._locked() as conn:
            row = conn.execute(select(claims_table.c.trial_number).where(and_(
                claims_table.c.study_name == self.study_name, claims_table.c.claim_key == key))).first()
            if row is not None:
                return row.trial_number == number
            conn.execute(insert(claims_table).values(study_name=self.study_name, claim_key=key,
                                                     trial_number=number, created_at=_now()))
            return True

    def claims(self) -> dict[str, int]:
        """key -> trial number of every claim of the study."""
        with self._transaction() as conn:
            rows = conn.execute(select(claims_table.c.claim_key, claims_table.c.trial_number)
                                .where(claims_table.c.study_name == self.study_name)).all()
        return {r.claim_key: r.trial_number for r in rows}

    def commit(self, trial: Any, actual: float) -> float:
        """Charge ``actual`` for ``trial``, replacing its reservation. Committing the same amount
        again is a no-op (a resumed sweep may meet a trial it already charged); charging a
        different amount twice is an error. A trial with no reservation is charged all the same:
        money spent is spent."""
        number = _number(trial)
        actual = _amount("actual", actual)
        with self._locked() as conn:
            row = self._row(conn, number)
            now = _now()
            if row is None:
                conn.execute(insert(charges_table).values(
                    study_name=self.study_name, trial_number=number, state=COMMITTED, reserved=None,
                    actual=actual, label="", job_dir=None, owner=self.owner, created_at=now,
                    heartbeat_at=now, committed_at=now))
                return actual
            if row.state == COMMITTED:
                if math.isclose(row.actual, actual, rel_tol=1e-9, abs_tol=0.0):
                    return row.actual
                raise LedgerError(f"trial {number} of study {self.study_name!r} is already charged "
                                  f"{row.actual} {self.unit}; it cannot be charged {actual} as well")
            if row.state == RELEASED:
                raise LedgerError(f"trial {number} of study {self.study_name!r} was released (never ran); "
                                  "it cannot be charged")
            conn.execute(update(charges_table).where(and_(charges_table.c.study_name == self.study_name,
                                                    charges_table.c.trial_number == number))
                         .values(state=COMMITTED, actual=actual, committed_at=now))
            return actual

    def release(self, trial: Any) -> None:
        """Give back the reservation of a trial that never ran."""
        number = _number(trial)
        with self._locked() as conn:
            row = self._row(conn, number)
            if row is None:
                raise LedgerError(f"trial {number} of study {self.study_name!r} has no reservation to release")
            if row.state == RELEASED:
                return
            if row.state == COMMITTED:
                raise LedgerError(f"trial {number} of study {self.study_name!r} is already charged "
                                  f"{row.actual} {self.unit}; a charge cannot be released")
            conn.execute(update(charges_table).where(and_(charges_table.c.study_name == self.study_name,
                                                    charges_table.c.trial_number == number))
                         .values(state=RELEASED, actual=0.0, committed_at=_now()))

    def totals(self) -> tuple[float, float]:
        """(spent, reserved), read together."""
        with self._transaction() as conn:
            return self._totals(conn)

    def spent(self) -> float:
        return self.totals()[0]

    def reserved(self) -> float:
        return self.totals()[1]

    def remaining(self) -> float:
        spent, held = self.totals()
        return self.limit_value - spent - held

    # -- bookkeeping ----------------------------------------------------------------------
    def charges(self) -> list[Charge]:
        with self._transaction() as conn:
            return _charges(conn, self.study_name)

    def charge(self, trial: Any) -> Charge | None:
        number = _number(trial)
        return next((c for c in self.charges() if c.trial == number), None)

    def open_reservations(self) -> list[Charge]:
        return [c for c in self.charges() if c.state == RESERVED]

    def heartbeat(self) -> int:
        """Mark this owner's reservations alive; returns how many."""
        with self._transaction() as conn:
            result = conn.execute(update(charges_table).where(and_(
                charges_table.c.study_name == self.study_name, charges_table.c.owner == self.owner,
                charges_table.c.state == RESERVED)).values(heartbeat_at=_now()))
            return result.rowcount or 0

    def dispose(self) -> None:
        self.engine.dispose()
