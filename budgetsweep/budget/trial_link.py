"""The job's side of a budget-sweeper trial: report, ask whether to prune, check the reservation.

The sweeper passes the trial's identity as overrides (``++budgetsweep.trial.number=...``, see
``TRIAL_KEYS``). The job opens the study through the storage; the study's pruner is rebuilt from
its config, which the sweeper keeps in the study user attribute ``budgetsweep:pruner`` (plain
data, so any process on any machine can rebuild it). No torch here: a user's own loop may use it.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

from budgetsweep.budget.units import Unit, check_unit, cost_in_unit

log = logging.getLogger(__name__)

TRIAL_KEYS = ("number", "study_name", "storage", "unit", "reservation", "tolerance")

# how a job meters each budget unit; gpu_hours come from wall time, which the run context measures itself
METERED_BY = {Unit.EXAMPLES: "run.add_cost(examples=...)", Unit.FLOPS: "run.add_cost(flops=...)", Unit.GPU_HOURS: None}


class UnmeteredCost(ValueError):
    """The job has reported no cost in its budget's unit: the ledger would charge it 0."""


_studies: dict[tuple[str, str], tuple[Any, Any, int]] = {}  # (url, study) -> (Study, storage, study id):
# jobs run in-process reuse them
_handed: dict[tuple[str, str, int], Any] = {}  # (url, study, number) -> the sweeper's optuna Trial


@contextmanager
def handed_over(trials: Mapping[tuple[str, str, int], Any]):
    """While the sweeper launches a batch, its asked ``trials`` ((storage URL as the job gets it, study
    name, trial number) -> optuna ``Trial``) are the ones a job running in this process reports to: the
    same trial, with the sweeper's study and pruner (the config the study's ``budgetsweep:pruner``
    attribute holds), without reading it back. A job in another process finds none and loads its trial
    from the storage. Writes still go to the storage (a report to a trial finished elsewhere fails there)."""
    _handed.update(trials)
    try:
        yield
    finally:
        for key in trials:
            _handed.pop(key, None)


def _load_study(url: str, study_name: str):
    import optuna

    from budgetsweep.budget.optuna_objects import PRUNER_ATTR, build_pruner
    from budgetsweep.budget.storage import open_optuna_storage, url_from_job

    key = (url, study_name)
    if key not in _studies:
        storage = open_optuna_storage(url_from_job(url), key="budgetsweep.trial.storage")
        study = optuna.load_study(study_name=study_name, storage=storage,
                                  sampler=optuna.samplers.RandomSampler())  # a job never samples
        _studies[key] = (study, storage, storage.get_study_id_from_name(study_name))
    study, storage, study_id = _studies[key]
    study.pruner = build_pruner(study.user_attrs.get(PRUNER_ATTR))  # the sweep's current pruner
    return study, storage, study_id


class TrialLink:
    def __init__(self, *, number: int, study_name: str, storage: str, unit: str, reservation: float,
                 tolerance: float = 0.0) -> None:
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"budgetsweep.trial.number={number!r} is not allowed; it must be an integer >= 0")
        if not isinstance(study_name, str) or not study_name:
            raise ValueError(f"budgetsweep.trial.study_name={study_name!r} is not allowed; it must be a name")
        if not isinstance(storage, str) or not storage:
            raise ValueError(f"budgetsweep.trial.storage={storage!r} is not allowed; it must be a database URL")
        check_unit(unit, "budgetsweep.trial.unit")
        for key, value in (("reservation", reservation), ("tolerance", tolerance)):
            # reservation inf: a sweep without a budget limit, the job never stops for its budget
            if not isinstance(value, (int, float)) or math.isnan(value) or value < 0 or \
                    (key == "tolerance" and math.isinf(value)):
                raise ValueError(f"budgetsweep.trial.{key}={value!r} is not allowed; it must be a number >= 0")
        self.number = number
        self.study_name = study_name
        self.storage = storage
        self.unit = unit
        self.reservation = float(reservation)
        self.tolerance = float(tolerance)
        self._trial = None
        self._study = None
        self._finished_elsewhere = False

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> "TrialLink":
        """From ``cfg.budgetsweep.trial`` (a DictConfig or dict with ``TRIAL_KEYS``)."""
        missing = [k for k in TRIAL_KEYS if node.get(k) is None]
        if missing:
            raise ValueError(f"budgetsweep.trial.{missing[0]} is not set; a budget-sweeper trial needs "
                             f"{', '.join(TRIAL_KEYS)}")
        return cls(number=int(node["number"]), study_name=str(node["study_name"]), storage=str(node["storage"]),
                   unit=str(node["unit"]), reservation=float(node["reservation"]),
                   tolerance=float(node["tolerance"]))

    def __repr__(self) -> str:
        from budgetsweep.budget.storage import mask

        return (f"TrialLink(trial={self.number}, study={self.study_name!r}, storage={mask(self.storage)!r}, "
                f"reservation={self.reservation} {self.unit}, tolerance={self.tolerance})")

    # -- budget -----------------------------------------------------------------------------
    @property
    def stop_at(self) -> float:
        """The cost at which the job stops itself: reservation x (1 + tolerance)."""
        return self.reservation * (1.0 + self.tolerance)

    def cost(self, measured: Any) -> float:
        return cost_in_unit(measured, self.unit)

    def over_budget(self, measured: Any) -> bool:
        """True once the measured cost (``budgetsweep.records.MeasuredCost``) passes the reservation
        by more than the tolerance; the job then stops with status ``budget_stopped``."""
        return self.cost(measured) > self.stop_at

    def stop_after_seconds(self, device_count: int = 1) -> float | None:
        """In ``gpu_hours``: the wall seconds from the job's start at which its cost passes
        ``stop_at`` (a deadline the run context enforces with a timer, between its checks);
        None in other units or without a budget limit."""
        if self.unit != Unit.GPU_HOURS or math.isinf(self.stop_at):
            return None
        return self.stop_at * 3600.0 / max(1, int(device_count))

    def check_metered(self, measured: Any, *, step: int | None = None, final: bool = False) -> None:
        """Raise ``UnmeteredCost`` when the job's cost in the budget's unit is still 0 although it
        has done work: at a report after step 0, when work was metered in another unit, or at the
        end of the run (``final``). A budget that never sees a cost would never cap anything.

        ``measured`` is a ``budgetsweep.records.MeasuredCost``. ``gpu_hours`` come from wall time,
        which the run context measures itself, so only ``examples`` and ``flops`` can be missing.
        """
        if self.cost(measured) > 0 or METERED_BY[self.unit] is None:
            return
        other = {u: cost_in_unit(measured, u) for u in (Unit.EXAMPLES, Unit.FLOPS) if u != self.unit}
        worked = {u: v for u, v in other.items() if v > 0}
        if not (final or worked or (step is not None and step > 0)):
            return
        seen = (f"it metered {', '.join(f'{v:g} {u}' for u, v in worked.items())} but no {self.unit}" if worked
                else f"it metered no cost at all")
        raise UnmeteredCost(
            f"the budget is counted in {self.unit} (hydra.sweeper.budget.unit={self.unit}) but this job reported "
            f"none by {'its end' if final else f'its report at step {step}'}: {seen}; call "
            f"{METERED_BY[self.unit]} as the loop does its work, or sweep with a unit the loop meters"
            f"{' (' + ', '.join(worked) + ')' if worked else ''}; a trial charged 0 would never be capped")

    # -- pruning ----------------------------------------------------------------------------
    @property
    def trial(self):
        if self._trial is None:
            import optuna

            handed = _handed.get((self.storage, self.study_name, self.number))
            if handed is not None:
                self._study, self._trial = handed.study, handed
                return handed
            self._study, storage, study_id = _load_study(self.storage, self.study_name)
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, self.number)
            self._trial = optuna.trial.Trial(self._study, trial_id)
        return self._trial

    def _multi_objective(self) -> bool:
        trial = self.trial
        return len(trial.study.directions) > 1

    def report(self, step: int, value: float) -> None:
        """Report the objective at ``step`` as an intermediate value (single-objective studies;
        Optuna does not prune multi-objective ones)."""
        from optuna.exceptions import UpdateFinishedTrialError

        if self._multi_objective():
            return
        try:
            self.trial.report(float(value), int(step))
        except UpdateFinishedTrialError:
            # the sweeper has already finished this trial (it found it orphaned): stop
            log.warning("trial %d of study %r is already finished; the job stops", self.number, self.study_name)
            self._finished_elsewhere = True

    def should_prune(self) -> bool:
        if self._finished_elsewhere:
            return True
        if self._multi_objective():
            return False
        return self.trial.should_prune()
