"""Between ask and launch: filling a batch with reserved trials, and keeping the trials asked but not
launched (the budget sweeper's reserving step).

``Reservations`` asks (through the sweeper's ``ask``), predicts, reserves in the ledger and lets
``decision.decide`` say what follows; a trial that does not run now is parked (ours, not launched)
or carried to the next batch (predicted again once the batch in flight is charged), and at the end
every one of them goes back to Optuna's queue (WAITING). No Hydra, no Optuna calls of its own:
its collaborators are handed in, so it is tested with a real ledger and fakes for the rest.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from budgetsweep.budget import outcome as outcomes
from budgetsweep.budget import trial_attrs as attrs
from budgetsweep.budget.cost_model import Prediction
from budgetsweep.budget.decision import Action, LedgerState, decide
from budgetsweep.budget.ledger import NO_BUDGET
from budgetsweep.budget.settings import BudgetSettings
from budgetsweep.budget.trial_plan import PlannedTrial
from budgetsweep.budget.units import format_cost

log = logging.getLogger("hydra_plugins.budgetsweep_sweeper._impl")  # the sweeper's log, as before

NOT_FIT = "its reservation does not fit the budget"


def cost_text(item: PlannedTrial, unit: str) -> str:
    """``"<predicted cost> <unit>"`` of a planned trial, for the log."""
    return f"{format_cost(item.prediction.cost, unit)} {unit}"


@dataclass
class Fill:
    """One batch as filled: ``batch`` reserved (to launch), ``failed`` failed planning (told FAIL),
    ``refused`` the trial the ledger refused (or None) and ``action`` the decision that ended the
    batch (None when it filled up)."""

    batch: List[PlannedTrial]
    failed: List[PlannedTrial]
    refused: Optional[PlannedTrial] = None
    action: Optional[Action] = None


class Reservations:
    """``ledger``: the study's Ledger; ``book``: its TrialBook; ``planner``: the TrialPlanner;
    ``settler``: the TrialSettler (its ``history`` calibrates predictions, its ``tell`` closes a
    trial that failed planning); ``n_trials``: the study's trial slots; ``n_jobs``: batch size."""

    def __init__(self, *, ledger: Any, book: attrs.TrialBook, planner: Any, settler: Any,
                 settings: BudgetSettings, owner: str, n_trials: int, n_jobs: int) -> None:
        self.ledger, self.book, self.planner, self.settler = ledger, book, planner, settler
        self.settings, self.owner, self.n_trials, self.n_jobs = settings, owner, n_trials, n_jobs
        self.carry: Optional[PlannedTrial] = None  # did not fit while a batch was in flight
        self.parked: List[PlannedTrial] = []  # asked this run, never launched: they wait (WAITING) at the end
        self.invalid = 0  # trials failed in planning this run: they hold no slot but end the loop
        self.skipped = 0  # trials skipped in a row since the last launch

    def slots_left(self, launched: int) -> int:
        return self.n_trials - launched - self.invalid

    def fill(self, wanted: int, ask: Callable[[], Optional[PlannedTrial]]) -> Fill:
        """Ask (``ask()``: a planned trial, or None when a grid has no point left) and reserve up to
        ``n_jobs`` (at most ``wanted``) trials."""
        size = min(self.n_jobs, wanted)
        out = Fill([], [])
        while len(out.batch) + len(out.failed) < size:
            if self.carry is not None:  # predicted before the last batch: predict again, calibrated by it
                item, self.carry = self.carry, None
                item.prediction = self.planner.predict(item.work, self.settler.history)
            else:
                item = ask()
                if item is None:  # a grid whose every point is taken
                    out.action = Action.FULL
                    return out
            if item.error is not None:
                self._fail_unlaunched(item)
                out.failed.append(item)
                self.invalid += 1
                continue
            answer = self.reserve(item)
            state = LedgerState(answer, self.ledger.remaining() if answer == NO_BUDGET else math.inf, len(out.batch))
            cheapest = self.planner.cheapest(self.settler.history) if answer == NO_BUDGET else math.inf
            action = decide(state, cheapest, self.skipped, self.settings)
            if action == Action.LAUNCH:
                out.batch.append(item)
                continue
            out.action = action
            if action == Action.FULL:  # other sweepers of the study took the last trials
                self.park(item, "n_trials reached")
                return out
            if not item.waiting:
                # it waits unreserved: name its owner, so a resumed sweep knows it is not orphaned
                self.book.write_owner(item.trial, self.owner)
                item.waiting = True
            self.carry = item  # WAIT: it may fit once the batch in flight has been charged
            out.refused = item
            return out
        return out

    def reserve(self, item: PlannedTrial) -> str:
        """Hold the trial's prediction (and a trial slot) in the ledger. A prediction with a floor
        (after budget-stopped trials: the true cost is only known to be above theirs) that does not
        fit is cut to what is left, down to the floor: the sweep spends what remains on the smallest
        plausible trial rather than stop with budget unspent."""
        slots = self.n_trials - self.invalid
        answer = self.ledger.try_reserve(item.number, item.prediction.cost, label=item.label,
                                         job_dir=item.job_dir, max_trials=slots)
        floor = item.prediction.floor
        if answer != NO_BUDGET or floor is None:
            return answer
        left = self.ledger.remaining()
        if not floor < left < item.prediction.cost:
            return answer
        item.prediction = Prediction(left, f"{item.prediction.basis}, cut to the budget left", floor)
        return self.ledger.try_reserve(item.number, left, label=item.label, job_dir=item.job_dir, max_trials=slots)

    def grant_tolerance(self, batch: List[PlannedTrial]) -> None:
        """Before launch, top each reservation up with as much of its tolerance as the budget has
        room for (after the whole batch has its predictions): no job may spend more than the ledger
        holds for it, so the trials in flight pass the limit by at most one check interval each.
        Sets each trial's granted ``tolerance``; the batch is launched, so the skips start again."""
        self.skipped = 0
        for item in batch:
            if self.settings.capped and item.prediction.cost > 0:
                added = self.ledger.top_up(item.number, item.prediction.cost * self.settings.tolerance)
                item.tolerance = added / item.prediction.cost

    def skip(self, item: PlannedTrial) -> None:
        """A cheaper configuration has been seen (another rung, a smaller fraction): ask again."""
        self.skipped += 1
        self.carry = None
        self.park(item, NOT_FIT)
        log.info(f"Trial {item.number} skipped: predicted {cost_text(item, self.settings.unit)} does not fit "
                 f"({self.skipped}/{self.settings.max_skipped} skips)")

    def park(self, item: PlannedTrial, why: str) -> None:
        """Keep an asked trial that will not run now (RUNNING, ours) until the end of this run, when
        it goes back to the queue: so this run's next ``ask`` samples afresh."""
        self.book.write_status(item.trial, attrs.NOT_LAUNCHED, note=why)
        self.book.write_owner(item.trial, self.owner)
        item.why = why
        self.parked.append(item)

    def wait(self, number: int, why: str) -> None:
        """A trial that never ran goes back to Optuna's queue (WAITING): it is no run, counts toward
        nothing, and the next ``ask`` of this study (a later run, another sweeper) takes it up with
        its parameters, so rerunning an exhausted study adds no trial."""
        self.book.wait(number, why)

    def requeue(self) -> None:
        """At the end of the run: every parked or carried trial goes back to the queue."""
        if self.carry is not None:
            self.parked.append(self.carry)
            self.carry = None
        for item in self.parked:
            self.wait(item.number, item.why or NOT_FIT)
        self.parked = []

    def _fail_unlaunched(self, item: PlannedTrial) -> None:
        log.warning(f"Failed experiment: trial {item.number} was not launched, its config cannot run: {item.error}")
        self.book.write_status(item.trial, attrs.INVALID_CONFIG, error=item.error)
        self.settler.tell(item.number, outcomes.FAIL)
