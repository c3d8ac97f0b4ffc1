"""After a trial's job: charge it, record it, learn from it, tell Optuna (the budget sweeper's
settling step).

``TrialSettler`` turns what a job left (a Hydra ``JobReturn`` and the job's directory, or only the
directory when the launch broke off or a sweeper died) into one ledger charge, the trial's
attributes, an observation for the cost model and Optuna's state, in that order, and says once
when trials keep being stopped at their reservations.
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

from budgetsweep.budget import outcome as outcomes
from budgetsweep.budget import trial_attrs as attrs
from budgetsweep.budget.cost_model import Observation
from budgetsweep.budget.settings import BudgetSettings
from budgetsweep.budget.trial_plan import NO_PREDICTION, PlannedTrial
from budgetsweep.budget.units import format_cost
from budgetsweep.records import RunStatus

log = logging.getLogger("hydra_plugins.budgetsweep_sweeper._impl")  # the sweeper's log, as before


def _tell(study: Any, trial: Any, state: Any, values: Optional[list[float]]) -> None:
    """``study.tell`` without its return value: Optuna's ``Study.tell`` reads the finished trial back from
    the storage (a query per relationship) to return a deep copy of it, which the sweeper never uses.
    The same checks and writes (Optuna's own function); ``Study.tell`` itself where that is not found."""
    try:
        from optuna.study._tell import _tell_with_warning
    except ImportError:  # another Optuna layout
        study.tell(trial, state=state, values=values)
        return
    _tell_with_warning(study=study, trial=trial, value_or_values=values, state=state)


def _state(name: str):
    from optuna.trial import TrialState

    return {outcomes.COMPLETE: TrialState.COMPLETE, outcomes.PRUNED: TrialState.PRUNED,
            outcomes.FAIL: TrialState.FAIL}[name]


def observation(label: str, result: outcomes.Outcome) -> Observation:
    """What the cost model learns from a settled trial."""
    return Observation(label, result.actual, completed=result.state == outcomes.COMPLETE,
                       flops=result.work.get("flops", 0.0) + result.work.get("eval_flops", 0.0),
                       device_seconds=result.work.get("device_seconds", 0.0),
                       measured=result.measured, censored=result.status == RunStatus.BUDGET_STOPPED,
                       startup_seconds=result.work.get("startup_seconds", 0.0))


class TrialSettler:
    """``study``: the Optuna study; ``book``: its ``TrialBook``; ``ledger``: its ``Ledger``;
    ``planned``: the app's costs are planned (else the guess to blame is ``default_trial_cost``)."""

    def __init__(self, *, study: Any, book: attrs.TrialBook, ledger: Any, settings: BudgetSettings,
                 directions: Sequence[str], planned: bool) -> None:
        self.study, self.book, self.ledger, self.settings = study, book, ledger, settings
        self.unit = settings.unit
        self.directions = list(directions)
        self.n_objectives = len(self.directions)
        self.planned = planned
        self.history: list[Observation] = []
        self.stopped_trials: list[int] = []  # budget_stopped this run
        self._warned_direction = self._warned_stops = False

    def load_history(self) -> list[Observation]:
        """The study's finished trials as the cost model's observations (kept as ``history``)."""
        from optuna.trial import TrialState

        found = []
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                               TrialState.FAIL)):
            obs = attrs.observation(t, self.unit)
            if obs is not None:
                found.append(obs)
        self.history = found
        return found

    def settle(self, item: PlannedTrial, ret: Any) -> outcomes.Outcome:
        """A job the launcher returned: charge what it measured, close the trial."""
        result = outcomes.from_job(ret, n_objectives=self.n_objectives, unit=self.unit,
                                   reservation=item.prediction.cost, job_dir=item.job_dir)
        self.ledger.commit(item.number, result.actual)
        self.close(item.number, result, item.prediction.cost, None, item)
        if result.error:
            log.warning(f"Failed experiment: trial {item.number}: {result.error}")
        return result

    def settle_interrupted(self, item: PlannedTrial) -> None:
        """A job whose launch broke off (Ctrl-C, a cluster error): what its directory shows."""
        result = outcomes.from_record_only(item.job_dir, n_objectives=self.n_objectives, unit=self.unit,
                                           reservation=item.prediction.cost)
        outcomes.close_running_record(result.record_path, "the launch was interrupted")
        self.ledger.commit(item.number, result.actual)
        self.close(item.number, result, item.prediction.cost, "launch interrupted", item)

    def close(self, number: int, result: outcomes.Outcome, predicted: Optional[float], note: Optional[str],
              item: Optional[PlannedTrial] = None) -> None:
        """Trial user attributes, the calibration history, and Optuna's state, in that order."""
        label = result.label or (item.label if item else None) or "default"
        basis = item.prediction.basis if item and item.prediction else None
        if basis == NO_PREDICTION:
            predicted = None
        self.book.write_result(
            number, status=result.status, unit=self.unit, predicted=predicted,
            actual=result.actual, basis=basis, measured=result.measured, charge=result.charge_basis,
            work=result.work, record_path=result.record_path,
            config_key=result.config_key or (item.config_key if item else None), label=label, note=note,
            error=result.error)
        obs = observation(label, result)
        if obs.censored:
            self.stopped_trials.append(number)
        self.history.append(obs)
        self._check_direction(result)
        self.tell(item.trial if item is not None else number, result.state, result.values)

    def tell(self, trial: Any, state: str, values: Optional[list[float]] = None) -> None:
        """``trial``: an optuna Trial, or a trial number; ``state``: outcome.COMPLETE, PRUNED or FAIL."""
        try:
            _tell(self.study, trial, _state(state), values if state == outcomes.COMPLETE else None)
        except RuntimeError as exc:
            # the grid sampler stops the study when the grid is exhausted, which tell reports
            if "`Study.stop` is supposed to be invoked" not in str(exc):
                raise

    def _check_direction(self, result: outcomes.Outcome) -> None:
        if (self.n_objectives == 1 and result.direction and not self._warned_direction
                and result.direction != self.directions[0]):
            self._warned_direction = True
            log.warning(f"The job's objective is to {result.direction}, but hydra.sweeper.direction="
                        f"{self.directions[0]}; set hydra.sweeper.direction={result.direction} if that is meant")

    def check_stops(self) -> None:
        """One warning when trials keep being stopped at their reservations: the guess is low."""
        if self._warned_stops or len(self.stopped_trials) < 2:
            return
        self._warned_stops = True
        most = max(o.cost for o in self.history if o.censored)
        setting = (f"hydra.sweeper.budget.default_trial_cost={self.settings.default_trial_cost}" if not self.planned
                   else f"hydra.sweeper.budget.safety_margin={self.settings.safety_margin}")
        log.warning(f"{len(self.stopped_trials)} trials ({', '.join(map(str, self.stopped_trials))}) were stopped at "
                    f"their reservation (budget_stopped): {setting} is too low for them (they used at least "
                    f"{format_cost(most, self.unit)} {self.unit} and would have used more). Predictions now rise "
                    f"above what stopped trials spent; set it near the real cost of one trial")
