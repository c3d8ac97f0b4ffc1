"""After a batch: does it end the sweep? Upstream's ``max_failure_rate`` rule, and a unit the app
cannot meter (every trial would fail the same way). A pure function of the batch's outcomes and
the settings: no Hydra, no Optuna, no I/O; the sweeper raises what it returns.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from budgetsweep.budget import outcome as outcomes
from budgetsweep.budget.trial_plan import PlannedTrial
from budgetsweep.budget.units import format_cost

UNMETERED = "UnmeteredCost"  # the error type a job fails with when it metered nothing in the unit


@dataclass(frozen=True)
class BatchFailure:
    """``stopped``: the sweep's stop reason (summary); ``message``: the error to raise;
    ``config_error``: True when the settings are wrong (the unit; exit 2, one message), False when
    trials failed (a RuntimeError, as upstream raises); ``failed`` of ``of`` trials in the batch failed."""

    stopped: str
    message: str
    config_error: bool
    failed: int = 0
    of: int = 0


def batch_failure(failed: Sequence[PlannedTrial], batch: Sequence[PlannedTrial],
                  results: Sequence[outcomes.Outcome], *, unit: str,
                  max_failure_rate: float) -> Optional[BatchFailure]:
    """What ends the sweep after this batch, or None. ``failed``: trials that failed planning
    (never launched); ``batch``: the launched trials, ``results`` their outcomes in order."""
    n = len(failed) + len(batch)
    bad = [(item, None) for item in failed] + [(item, r) for item, r in zip(batch, results)
                                                if r.state == outcomes.FAIL]
    unmetered = [(item, r) for item, r in bad if r is not None and r.error and UNMETERED in r.error]
    if unmetered:
        item, result = unmetered[0]
        return BatchFailure(
            f"trial {item.number} metered no {unit}",
            f"hydra.sweeper.budget.unit={unit}: trial {item.number} was stopped, "
            f"{result.error.split(UNMETERED, 1)[1].lstrip(': ')} (it was charged "
            f"{format_cost(result.actual, unit)} {unit}, its reservation)", config_error=True, failed=len(bad), of=n)
    if not n or len(bad) / n <= max_failure_rate:
        return None
    item, result = bad[0]
    reason = item.error if result is None else result.error
    return BatchFailure(
        f"failure rate {len(bad)}/{n} > max_failure_rate={max_failure_rate}",
        f"trial {item.number} failed ({reason}); {len(bad)} of {n} trials in the batch failed, "
        f"more than hydra.sweeper.max_failure_rate={max_failure_rate} allows", config_error=False,
        failed=len(bad), of=n)
