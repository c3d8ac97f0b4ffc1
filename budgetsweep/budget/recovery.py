"""Recovery of what a dead sweeper left in a study: a ledger operation, run before a sweep starts.

A sweeper that died (SIGKILL, a lost node) leaves reservations nobody heartbeats and trials Optuna
still calls RUNNING. ``recover`` charges each stale reservation at the best evidence there is (the
job's record, else its wall time in a time unit, else the reservation: a crash never makes budget
appear) and says which trials the caller must finish in Optuna and which go back to its queue.
It reads and writes the ledger and job records only; telling Optuna is the caller's.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timezone
from typing import Any, Iterable

from budgetsweep.budget import outcome as outcomes
from budgetsweep.budget import trial_attrs
from budgetsweep.budget.ledger import COMMITTED, RELEASED, RESERVED, Charge, Ledger
from budgetsweep.budget.owner import is_alive
from budgetsweep.budget.units import format_cost

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Orphan:
    """A trial to finish in Optuna: its outcome and what had been reserved for it."""

    number: int
    outcome: outcomes.Outcome
    reserved: float | None


@dataclass(frozen=True)
class Recovery:
    finish: list[Orphan]  # charged trials Optuna still calls RUNNING
    requeue: list[tuple[int, str]]  # (trial number, why): never ran, back to the queue (WAITING)


def orphan_outcome(charge: Charge, *, n_objectives: int, unit: str) -> outcomes.Outcome:
    """The outcome of a trial whose sweeper died; a record its job left ``running`` is closed."""
    result = outcomes.from_record_only(charge.job_dir, n_objectives=n_objectives, unit=unit,
                                       reservation=charge.reserved or 0.0)
    outcomes.close_running_record(result.record_path, result.error or "the sweeper died while the job ran")
    return result


def recover(ledger: Ledger, trials: Iterable[Any], *, stale_after_seconds: float, n_objectives: int,
            unit: str) -> Recovery:
    """Charge the stale reservations of ``ledger`` and sort the study's ``trials`` (FrozenTrials).

    A reservation is stale when its owner is gone (``owner.is_alive``: same host and no such
    process, or no heartbeat for ``stale_after_seconds``). A trial RUNNING without a charge whose
    asker is gone never ran: it is requeued, as is one whose reservation was released.
    """
    by_number = {t.number: t for t in trials}
    charges = {c.trial: c for c in ledger.charges()}
    finish: list[Orphan] = []
    requeue: list[tuple[int, str]] = []
    for number, charge in charges.items():
        trial = by_number.get(number)
        running = trial is not None and trial.state.name == "RUNNING"
        if charge.state == RESERVED:
            if is_alive(charge.owner, charge.heartbeat_at, stale_after_seconds=stale_after_seconds):
                continue
            result = orphan_outcome(charge, n_objectives=n_objectives, unit=unit)
            ledger.commit(number, result.actual)
            log.warning(f"Resume: trial {number} was left running by a sweeper that is gone; charged "
                        f"{format_cost(result.actual, unit)} {unit} ({result.charge_basis}); "
                        f"status {result.status}")
            if running:
                finish.append(Orphan(number, result, charge.reserved))
        elif running and charge.state == COMMITTED and not is_alive(
                charge.owner, charge.heartbeat_at, stale_after_seconds=stale_after_seconds):
            # charged, then the sweeper died before telling Optuna; a live one is about to tell it (two sweepers
            # started together: the other's recovery read the trial RUNNING, then its charge COMMITTED)
            finish.append(Orphan(number, orphan_outcome(charge, n_objectives=n_objectives, unit=unit),
                                 charge.reserved))
        elif running and charge.state == RELEASED:
            requeue.append((number, "its reservation was released"))
    for number, trial in by_number.items():
        if trial.state.name != "RUNNING" or number in charges:
            continue
        started = trial.datetime_start.astimezone(timezone.utc) if trial.datetime_start else None
        if not is_alive(trial_attrs.owner(trial), started, stale_after_seconds=stale_after_seconds):
            requeue.append((number, "asked by a sweeper that is gone"))
    return Recovery(finish, requeue)
