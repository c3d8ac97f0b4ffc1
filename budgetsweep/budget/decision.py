"""The budget sweeper's launch / wait / skip / stop decision for one asked trial: a pure function of
the ledger's state, the cost model's prediction and the settings (no Hydra, no Optuna, no I/O).

The ledger is the authority on whether a trial fits: its atomic check-and-reserve
(``Ledger.try_reserve``) has already answered when ``decide`` is called, so two sweepers sharing a
study never both take the last of the budget. ``decide`` chooses what follows from that answer, as
Syne Tune's stopping criteria choose from a tuner's status.
"""
from __future__ import annotations

import enum
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from budgetsweep.budget.ledger import NO_BUDGET, NO_SLOT, RESERVED_OK
from budgetsweep.budget.settings import BudgetSettings
from budgetsweep.budget.units import format_cost


class Action(enum.StrEnum):
    LAUNCH = "launch"  # reserved: it runs in this batch
    WAIT = "wait"  # did not fit while this batch is in flight: predict again once the batch is charged
    SKIP = "skip"  # did not fit, but a cheaper configuration seen so far does: park it, ask another
    STOP = "stop"  # did not fit and nothing cheaper fits, with nothing in flight: the budget is spent
    FULL = "full"  # no trial slot left (n_trials, counted over every sweeper of the study)


@dataclass(frozen=True)
class LedgerState:
    """``answer``: Ledger.try_reserve's (RESERVED_OK, NO_BUDGET or NO_SLOT) for the trial;
    ``remaining``: budget left after every reservation (the budget's unit; ``inf`` without a limit);
    ``in_flight``: trials this sweeper reserved in the batch being filled, not yet charged."""

    answer: str
    remaining: float
    in_flight: int = 0

    def __post_init__(self) -> None:
        if self.answer not in (RESERVED_OK, NO_BUDGET, NO_SLOT):
            raise ValueError(f"answer={self.answer!r} is not a ledger answer; allowed: "
                             f"{RESERVED_OK}, {NO_BUDGET}, {NO_SLOT}")
        if self.in_flight < 0:
            raise ValueError(f"in_flight={self.in_flight!r} is not allowed; it must be >= 0")


def decide(ledger: LedgerState, cheapest: float, skipped: int, settings: BudgetSettings) -> Action:
    """What to do with a trial the ledger has just answered for.

    ``cheapest``: the predicted cost (budget unit), under the cost model as calibrated now, of the
    cheapest configuration seen so far; ``skipped``: trials skipped in a row since the last launch
    (at most ``settings.max_skipped``, so a sweep whose every proposal is too big ends).
    """
    if ledger.answer == RESERVED_OK:
        return Action.LAUNCH
    if ledger.answer == NO_SLOT:
        return Action.FULL
    if ledger.in_flight:
        return Action.WAIT
    if skipped < settings.max_skipped and cheapest <= ledger.remaining:
        return Action.SKIP
    return Action.STOP


# a sweep that stops with at least this share of its limit left, while its completed trials cost less than
# what is left, says so: the prediction that did not fit may be too high
UNSPENT_SHARE = 0.1


def unspent_warning(*, number: int, predicted: float, basis: str, remaining: float, limit: float,
                    completed: Sequence[float], unit: str) -> str | None:
    """The one warning of a sweep stopped because trial ``number``'s prediction (``predicted``, made by
    ``basis``) did not fit ``remaining`` of ``limit``, when that leaves a large share unspent although
    trials measured so far (``completed``: their costs) cost less than what remains; else None."""
    if limit <= 0 or remaining < UNSPENT_SHARE * limit:
        return None
    typical = statistics.median(completed) if completed else None
    if typical is not None and typical > remaining:
        return None  # nothing seen so far would have fitted: the budget is spent, to one trial's grain
    seen = (f"; completed trials cost {format_cost(typical, unit)} {unit} (median of {len(completed)})"
            if typical is not None else "")
    return (f"The sweep stopped with {remaining / limit:.0%} of the budget unspent "
            f"({format_cost(remaining, unit)} of {format_cost(limit, unit)} {unit}): trial {number} was predicted "
            f"to cost {format_cost(predicted, unit)} {unit} ({basis}), more than remains{seen}. If that prediction "
            "is too high, lower hydra.sweeper.budget.safety_margin or set assumed_flops_per_second nearer this "
            "device's throughput, or raise the limit; rerunning the same command resumes the study")
