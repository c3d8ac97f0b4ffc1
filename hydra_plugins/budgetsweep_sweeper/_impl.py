"""The budget sweeper's loop: ask -> predict -> reserve -> launch -> read records -> commit -> tell.

Policy lives here, between batches; execution is the Hydra launcher's. A trial is launched only
after the ledger has reserved its predicted cost and a trial slot (``n_trials`` is the study's total
over all its sweepers); the sweep stops when the next trial does not fit with nothing in flight.
Without ``hydra.sweeper.budget.limit`` there is no cap: ``n_trials`` bounds the sweep, as with
hydra-optuna-sweeper, and costs are still measured (every job is timed) and summarised.
Everything is kept in the study's database, so rerunning the same command resumes: launched
trials count toward ``n_trials``, trials a dead sweeper left running are charged and closed,
trials asked but never launched wait (Optuna state WAITING) for the next run, and job
directories are numbered by trial so earlier ones are never overwritten.
"""
from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, MutableSequence, Optional, Sequence

import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.core.plugins import Plugins
from hydra.errors import CompactHydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from optuna.trial import TrialState

from budgetsweep.budget import outcome as outcomes
from budgetsweep.budget import recovery
from budgetsweep.budget import study_identity
from budgetsweep.budget import trial_attrs as attrs
from budgetsweep.budget.cost_model import CostModel, CostModelError, Observation, Prediction, Work
from budgetsweep.budget.job_timer import TimedTask
from budgetsweep.budget.decision import Action, LedgerState, decide
from budgetsweep.budget.ledger import NO_BUDGET, Ledger
from budgetsweep.budget.optuna_objects import PRUNER_ATTR, build_pruner, build_sampler, get_method, is_grid
from budgetsweep.budget.owner import current_owner
from budgetsweep.budget.search_space import SearchSpace, build_search_space, quote
from budgetsweep.budget.settings import BudgetSettings
from budgetsweep.budget.storage import (absolute_sqlite, check_url, default_storage_url, mask, open_optuna_storage,
                                        url_for_job)
from budgetsweep.budget.summary import build_summary, summary_table
from budgetsweep.budget.units import Unit, format_cost
from budgetsweep.records import RunStatus, write_json_atomic

log = logging.getLogger(__name__)

NOT_LAUNCHED, INVALID_CONFIG = attrs.NOT_LAUNCHED, attrs.INVALID_CONFIG
DIRECTIONS = ("minimize", "maximize")
_STATES = {outcomes.COMPLETE: TrialState.COMPLETE, outcomes.PRUNED: TrialState.PRUNED,
           outcomes.FAIL: TrialState.FAIL}


class SweepConfigError(CompactHydraException, ValueError):
    """Bad input found before any job ran; Hydra prints just the message."""


def _plain(node: Any) -> Any:
    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=True, throw_on_missing=False)
    return node


def parse_directions(direction: Any) -> List[str]:
    items = list(direction) if isinstance(direction, (MutableSequence, ListConfig, tuple)) else [direction]
    names = [getattr(d, "name", d) for d in items]  # upstream's Direction enum, or strings
    if not names or any(n not in DIRECTIONS for n in names):
        raise ValueError(f"hydra.sweeper.direction={_plain(direction)!r} is not allowed; allowed: "
                         f"minimize, maximize, or a list of them (one per objective)")
    return [str(n) for n in names]


@dataclass
class _Trial:
    """A trial between ask and tell."""

    trial: optuna.trial.Trial
    overrides: List[str]
    work: Optional[Work] = None
    prediction: Optional[Prediction] = None
    label: str = "default"
    config_key: Optional[str] = None
    job_dir: Optional[str] = None
    error: Optional[str] = None  # the config cannot run: the trial fails unlaunched
    identity: List[str] = field(default_factory=list)
    waiting: bool = False  # asked, did not fit, waits for the next batch
    why: Optional[str] = None  # why it was not launched

    @property
    def number(self) -> int:
        return self.trial.number


@dataclass(frozen=True)
class _Setup:
    """What one sweep takes from the sweeper: its validated settings and Hydra's objects, handed over
    explicitly so the loop uses no attribute of the plugin."""

    config: DictConfig
    hydra_context: HydraContext
    launcher: Any
    plan_run: Optional[Callable]
    cost_model: CostModel
    custom_search_space: Optional[Callable[[DictConfig, optuna.trial.Trial], None]]
    custom_search_space_path: Optional[str]
    directions: List[str]
    n_jobs: int
    max_failure_rate: float
    owner: str
    settings: BudgetSettings


class _Heartbeat:
    """Keeps this sweeper's reservations alive for other sweepers sharing the study."""

    def __init__(self, ledger: Ledger, seconds: float) -> None:
        self._ledger, self._seconds = ledger, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="budgetsweep-heartbeat", daemon=True)

    def __enter__(self) -> "_Heartbeat":
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


def _contiguous(batch: Sequence[_Trial]) -> List[List[_Trial]]:
    """Runs of consecutive trial numbers: each is launched with initial_job_idx = its first number,
    so a job's number (and its directory) is its trial's number."""
    groups: List[List[_Trial]] = []
    for item in batch:
        if groups and groups[-1][-1].number + 1 == item.number:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


class BudgetSweeperImpl(Sweeper):
    def __init__(self, *, sampler: Any, pruner: Any, direction: Any, storage: Optional[Any],
                 study_name: Optional[str], n_trials: int, n_jobs: int, max_failure_rate: float,
                 search_space: Optional[Any], params: Optional[Any], custom_search_space: Optional[str],
                 budget: Any) -> None:
        self.sampler_conf: Optional[Dict[str, Any]] = _plain(sampler)
        self.pruner_conf: Optional[Dict[str, Any]] = _plain(pruner)
        self.directions = parse_directions(direction)
        if storage is not None and (not isinstance(storage, str) or not storage):
            raise ValueError(f"hydra.sweeper.storage={_plain(storage)!r} is not allowed; allowed: null (the "
                             "default SQLite file) or a database URL string")
        if study_name is not None and (not isinstance(study_name, str) or not study_name):
            raise ValueError(f"hydra.sweeper.study_name={study_name!r} is not allowed; allowed: null or a name")
        for key, value, low in (("n_trials", n_trials, 0), ("n_jobs", n_jobs, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"hydra.sweeper.{key}={value!r} is not allowed; it must be an integer >= {low}")
        if not isinstance(max_failure_rate, (int, float)) or not 0.0 <= max_failure_rate <= 1.0:
            raise ValueError(f"hydra.sweeper.max_failure_rate={max_failure_rate!r} is not allowed; "
                             "it must be a number in [0, 1]")
        self.storage = storage
        self.study_name = study_name
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.max_failure_rate = float(max_failure_rate)
        self.search_space = _plain(search_space)
        self.params = _plain(params)
        self.settings = BudgetSettings.from_mapping(_plain(budget))
        self.custom_search_space: Optional[Callable[[DictConfig, optuna.trial.Trial], None]] = None
        if custom_search_space:
            try:
                self.custom_search_space = get_method(str(custom_search_space))
            except (ImportError, ValueError) as exc:
                raise ValueError(f"hydra.sweeper.custom_search_space={custom_search_space!r} cannot be "
                                 f"imported ({exc}); allowed: a dotted path to a callable(cfg, trial)") from None
        self.custom_search_space_path = str(custom_search_space) if custom_search_space else None
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.launcher = None
        self.owner = current_owner()
        self.cost_model = CostModel(
            self.settings.unit, safety_margin=self.settings.safety_margin,
            assumed_flops_per_second=self.settings.assumed_flops_per_second,
            assumed_overhead_seconds=self.settings.assumed_overhead_seconds,
            default_trial_cost=self.settings.default_trial_cost)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        # every job is timed, so its wall time is known even when it writes no record
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=TimedTask(task_function))
        self.plan_run = self._find_planner(config)

    @staticmethod
    def _find_planner(config: DictConfig) -> Optional[Callable]:
        """budgetsweep's planner, for apps whose config has a ``task`` it can plan; else None."""
        if OmegaConf.select(config, "task._target_", default=None) is None:
            return None
        try:
            from budgetsweep.plan import plan_run
        except ImportError:
            return None
        return plan_run

    # -- the sweep ----------------------------------------------------------------------------
    def sweep(self, arguments: List[str]) -> None:
        assert self.config is not None and self.launcher is not None
        try:
            run = self._prepare(arguments)
        except ValueError as exc:  # bad input: one message, before any job runs
            raise SweepConfigError(str(exc)) from None
        try:
            with _Heartbeat(run.ledger, self.settings.heartbeat_seconds):
                run.recover()
                run.loop()
        except BaseException:
            try:
                run.finish()
            except Exception:  # do not hide the error that stopped the sweep
                log.exception("could not write the sweep's results")
            raise
        run.finish()

    def _prepare(self, arguments: List[str]) -> "_Run":
        """Everything that can be checked before a job runs: search space, sampler, pruner,
        storage, study (its identity) and ledger."""
        space = build_search_space(self.params, list(arguments), self.search_space)
        n_trials, grid = self.n_trials, None
        if is_grid(self.sampler_conf):
            grid = space.grid()
            n_trials = min(n_trials, math.prod(len(v) for v in grid.values()))
            log.info(f"Updating num of trials to {n_trials} due to using GridSampler.")
        sampler = build_sampler(self.sampler_conf, grid)
        pruner = build_pruner(self.pruner_conf)
        url = check_url(absolute_sqlite(self.storage, self._original_cwd()) if self.storage
                        else default_storage_url(self._original_cwd()))
        ident = study_identity.identity(space.distributions, space.fixed, self.directions,
                                        self.custom_search_space_path)
        app = OmegaConf.select(self.config, "hydra.job.name", default=None) or "budgetsweep"
        study_name = study_identity.study_name(user_name=self.study_name, storage_given=self.storage is not None,
                                               app_name=app, ident=ident)
        storage = open_optuna_storage(url)
        try:
            study = optuna.load_study(storage=storage, sampler=sampler, pruner=pruner, study_name=study_name)
        except KeyError:  # a new study (or another sweeper creating it at this moment)
            study = optuna.create_study(storage=storage, sampler=sampler, pruner=pruner, study_name=study_name,
                                        directions=self.directions, load_if_exists=True)
        self._check_identity(study, ident, url)
        ledger = Ledger(url, study_name, unit=self.settings.unit, limit=self.settings.limit,
                        tolerance=self.settings.tolerance, owner=self.owner)
        study.set_user_attr(PRUNER_ATTR, self.pruner_conf)
        self._log_start(study, url, sampler, pruner, ledger)
        existing = len(study.get_trials(deepcopy=False))
        if existing and (self.sampler_conf or {}).get("seed") is not None:
            # the same seed would replay the first proposals of the earlier run
            seed = int(self.sampler_conf["seed"]) + existing
            study.sampler = build_sampler({**self.sampler_conf, "seed": seed}, grid)
            log.info(f"Resuming a study with {existing} trials: sampler reseeded with seed={seed}")
        setup = _Setup(self.config, self.hydra_context, self.launcher, self.plan_run, self.cost_model,
                       self.custom_search_space, self.custom_search_space_path, self.directions, self.n_jobs,
                       self.max_failure_rate, self.owner, self.settings)
        run = _Run(setup, study, attrs.TrialBook(storage, study.study_name), ledger, space, url, n_trials, grid)
        run.check_predictable()
        return run

    def _check_identity(self, study: optuna.Study, ident: Dict[str, Any], url: str) -> None:
        """A study shared on purpose (storage and study_name both given) must be the same
        experiment: another search space or other directions is an error before any trial."""
        found = [d.name.lower() for d in study.directions]
        stored = study.user_attrs.get(study_identity.IDENTITY_ATTR)
        if stored is None:
            stored = {**ident, "directions": found}
            if found == self.directions:
                study.set_user_attr(study_identity.IDENTITY_ATTR, ident)
        errors, warnings = study_identity.differences(stored, ident)
        where = f"study {study.study_name!r} in {mask(url)}"
        if errors:
            raise ValueError(
                f"hydra.sweeper.study_name={study.study_name!r}: {where} was created by another command; "
                f"{'; '.join(errors)}. Allowed: the study's search space and directions, or another "
                "hydra.sweeper.study_name (or hydra.sweeper.storage=null: each command then gets its own study)")
        if warnings:
            log.warning(f"{where} was started with other fixed overrides: {'; '.join(warnings)}")

    def _original_cwd(self) -> str:
        return OmegaConf.select(self.config, "hydra.runtime.cwd", default=None) or os.getcwd()

    def _log_start(self, study, url: str, sampler, pruner, ledger: Ledger) -> None:
        s = self.settings
        log.info(f"Study name: {study.study_name}")
        log.info(f"Storage: {mask(url)}")
        log.info(f"Sampler: {type(sampler).__name__}")
        log.info(f"Pruner: {type(pruner).__name__}")
        log.info(f"Directions: {self.directions}")
        if s.capped:
            log.info(f"Budget: {format_cost(s.limit, s.unit)} {s.unit}, tolerance {s.tolerance:g}")
        else:
            log.info(f"Budget: no limit, n_trials={self.n_trials} bounds the sweep; costs are measured in {s.unit} "
                     "(set hydra.sweeper.budget.limit to cap it)")
        if self.plan_run is None and s.unit != Unit.GPU_HOURS:
            log.warning(f"hydra.sweeper.budget.unit={s.unit}: the sweeper cannot measure {s.unit} itself (it times "
                        f"jobs, so gpu_hours it can); a job that writes no record.json is charged its reservation "
                        f"(hydra.sweeper.budget.default_trial_cost={s.default_trial_cost})")
        if ledger.limit_changed_from is not None:
            before = ledger.limit_changed_from
            log.warning(f"Budget limit of study {study.study_name!r} changed from "
                        f"{format_cost(before, s.unit) if math.isfinite(before) else 'no limit'} to "
                        f"{format_cost(s.limit, s.unit) if s.capped else 'no limit'} {s.unit}")


NO_PREDICTION = "none (no budget limit)"


class _Run:
    """One call of ``sweep``: the study, its ledger and the loop's state."""

    def __init__(self, setup: _Setup, study: optuna.Study, book: attrs.TrialBook, ledger: Ledger,
                 space: SearchSpace, url: str, n_trials: int, grid: Optional[Dict[str, list]] = None) -> None:
        self.s = setup
        self.study = study
        self.book = book
        self.ledger = ledger
        self.space = space
        self.url = url
        self.job_url = url_for_job(url)
        self.n_trials = n_trials
        self.settings = setup.settings
        self.capped = setup.settings.capped
        self.unit = setup.settings.unit
        self.n_objectives = len(setup.directions)
        self.carry: Optional[_Trial] = None
        self.parked: List[_Trial] = []  # asked this run, never launched: they wait (WAITING) at the end
        self.invalid = 0  # trials failed in planning this run: they hold no slot but end the loop
        self.skipped = 0  # trials skipped in a row since the last launch
        self.stopped = "running"
        self.history: List[Observation] = []
        self.stopped_trials: List[int] = []  # budget_stopped this run
        self._warned_direction = False
        self._warned_stops = False
        self._grid_size = math.prod(len(v) for v in grid.values()) if grid is not None else None
        self._least_work: Dict[str, Work] = {}  # per label, the least work of a trial seen so far
        sweep = setup.config.hydra.sweep
        self._sweep_dir = str(sweep.dir)
        self._plain_subdir = OmegaConf.to_container(sweep, resolve=False).get("subdir") == "${hydra.job.num}"

    # -- resume -------------------------------------------------------------------------------
    def recover(self) -> None:
        """Close what a dead sweeper left (``budget.recovery`` charges it in the ledger): finish its
        charged trials in Optuna, put the ones that never ran back in the queue."""
        found = recovery.recover(self.ledger, self.study.get_trials(deepcopy=False),
                                 stale_after_seconds=self.settings.stale_after_seconds,
                                 n_objectives=self.n_objectives, unit=self.unit)
        for orphan in found.finish:
            self._close(orphan.number, orphan.outcome, orphan.reserved, "recovered")
        for number, why in found.requeue:
            self._wait(number, why)
        self.history = self._load_history()

    def _load_history(self) -> List[Observation]:
        found = []
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                               TrialState.FAIL)):
            obs = attrs.observation(t, self.unit)
            if obs is not None:
                found.append(obs)
        return found

    # -- the loop -------------------------------------------------------------------------------
    def loop(self) -> None:
        """ask -> reserve -> launch -> tell, a batch at a time, until n_trials or the budget ends it."""
        first = True
        while True:
            launched = self.ledger.launched()
            if self.n_trials - launched - self.invalid <= 0:
                self.stopped = f"n_trials reached ({launched}/{self.n_trials})"
                if first:
                    log.info(f"Study {self.study.study_name!r} already has {launched} launched trials of "
                             f"n_trials={self.n_trials}; nothing to run. To run more, raise "
                             f"hydra.sweeper.n_trials above {launched}")
                return
            first = False
            batch, failed, refused, action = self._fill(self.n_trials - launched - self.invalid)  # ask, reserve
            if batch:
                self.skipped = 0
                results = self._launch(batch)  # launch, then tell
                self._check_failures(failed, batch, results)
                self._check_stops()
                self._log_progress()
            else:
                self._check_failures(failed, [], [])
            if action == Action.FULL:
                self.stopped = f"n_trials reached ({self.ledger.launched()}/{self.n_trials})"
                return
            if action == Action.SKIP:
                self._skip(refused)
            elif action == Action.STOP:
                self.stopped = (f"budget exhausted: trial {refused.number} needs {self._cost(refused)} "
                                f"and {format_cost(self.ledger.remaining(), self.unit)} {self.unit} remain")
                log.info(f"Stopping: {self.stopped}. To run more, raise hydra.sweeper.budget.limit")
                return

    def _skip(self, item: _Trial) -> None:
        """A cheaper configuration has been seen (another rung, a smaller fraction): ask again."""
        self.skipped += 1
        self.carry = None
        self._park(item, "its reservation does not fit the budget")
        log.info(f"Trial {item.number} skipped: predicted {self._cost(item)} does not fit "
                 f"({self.skipped}/{self.settings.max_skipped} skips)")

    def check_predictable(self) -> None:
        """A clear error before any trial when no cost can be predicted (an app without a plan)."""
        if self.s.plan_run is None and self.capped:
            try:
                self.s.cost_model.predict(None, self._load_history())
            except CostModelError as exc:
                raise ValueError(str(exc)) from None

    def _predict(self, work: Optional[Work]) -> Prediction:
        if not self.capped:  # nothing is reserved, nothing to predict: the charge is what was measured
            return Prediction(0.0, NO_PREDICTION)
        try:
            return self.s.cost_model.predict(work, self.history)
        except CostModelError:
            if self.capped:
                raise
            return Prediction(0.0, NO_PREDICTION)

    def _fill(self, wanted: int):
        """Ask and reserve up to n_jobs trials. Returns (reserved batch, trials that failed planning,
        the trial the ledger refused or None, the decision that ended the batch or None)."""
        size = min(self.s.n_jobs, wanted)
        batch: List[_Trial] = []
        failed: List[_Trial] = []
        while len(batch) + len(failed) < size:
            if self.carry is not None:  # predicted before the last batch: predict again, calibrated by it
                item, self.carry = self.carry, None
                item.prediction = self._predict(item.work)
            else:
                item = self._ask()
                if item is None:  # a grid whose every point is taken
                    return batch, failed, None, Action.FULL
            if item.error is not None:
                self._fail_unlaunched(item)
                failed.append(item)
                self.invalid += 1
                continue
            answer = self.ledger.try_reserve(item.number, item.prediction.cost, label=item.label,
                                             job_dir=item.job_dir, max_trials=self.n_trials - self.invalid)
            state = LedgerState(answer, self.ledger.remaining() if answer == NO_BUDGET else math.inf, len(batch))
            action = decide(state, self._cheapest() if answer == NO_BUDGET else math.inf, self.skipped,
                            self.settings)
            if action == Action.LAUNCH:
                item.identity = self._identity(item)
                batch.append(item)
                continue
            if action == Action.FULL:  # other sweepers of the study took the last trials
                self._park(item, "n_trials reached")
                return batch, failed, None, action
            if not item.waiting:
                # it waits unreserved: name its owner, so a resumed sweep knows it is not orphaned
                self.book.write_owner(item.trial, self.s.owner)
                item.waiting = True
            self.carry = item  # WAIT: it may fit once the batch in flight has been charged
            return batch, failed, item, action
        return batch, failed, None, None

    def _ask(self) -> Optional[_Trial]:
        trial = self.study.ask()  # pops a trial an earlier run asked and never launched, if any
        if self._grid_size is not None:
            trial = self._claim_grid_point(trial)
            if trial is None:
                return None
        self.book.take_over(trial, self.s.owner)
        for name, distribution in self.space.distributions.items():
            trial._suggest(name, distribution)
        for name, value in self.space.fixed.items():
            trial.set_user_attr(name, value)
        if self.s.custom_search_space is not None:
            try:
                self.s.custom_search_space(self.s.config, trial)
            except ValueError as exc:  # e.g. a parameter declared with another distribution than before
                raise SweepConfigError(f"hydra.sweeper.custom_search_space={self.s.custom_search_space_path!r} "
                                       f"suggested a parameter Optuna refuses for study "
                                       f"{self.study.study_name!r}: {exc}") from None
        names = trial.user_attrs.keys() if self.s.custom_search_space is not None else self.space.fixed.keys()
        overlap = trial.params.keys() & names
        if overlap:
            raise ValueError("Overlapping fixed parameters and search space parameters found! "
                             f"Overlapping parameters: {sorted(overlap)}")
        overrides = [self.space.override(name, value) for name, value in trial.params.items()]
        overrides += [f"{name}={value}" for name, value in self.space.fixed.items()]  # as written
        item = _Trial(trial, overrides)
        self._plan(item)
        return item

    def _claim_grid_point(self, trial: optuna.trial.Trial) -> Optional[optuna.trial.Trial]:
        """Make the trial's grid point its own, atomically in the ledger: several sweepers sharing a
        grid each take other points (Optuna's GridSampler picks at random and may collide)."""
        grid_id = self.book.grid_id(trial)
        if grid_id is not None and self.ledger.claim(f"grid:{grid_id}", trial.number):
            return trial
        taken = self.ledger.claims()
        for other in range(self._grid_size):
            if f"grid:{other}" not in taken and self.ledger.claim(f"grid:{other}", trial.number):
                self.book.set_grid_id(trial, other)
                return optuna.trial.Trial(self.study, self.book.trial_id(trial))  # re-read: the sampler reads grid_id
        self._park(_Trial(trial, []), "every grid point is taken")
        return None

    def _plan(self, item: _Trial) -> None:
        """Compose the trial's config as the launcher will, plan it, predict its cost. Without a
        budget limit nothing is predicted, so nothing is planned: the job's record names its
        reduction label and config key, and a config that cannot run fails in the job."""
        cfg = None
        if self.s.plan_run is not None and self.capped:
            try:
                cfg = self.s.hydra_context.config_loader.load_sweep_config(self.s.config, list(item.overrides))
                plan = self.s.plan_run(cfg, list(item.overrides), count_flops=self.unit != Unit.EXAMPLES)
            except Exception as exc:  # budgetsweep.plan.ConfigError, or a composition error
                item.error = f"{type(exc).__name__}: {exc}"
                return
            item.label, item.config_key = plan.reduction_label, plan.config_key
            item.work = Work(plan.reduction_label, examples=plan.examples, flops=plan.flops,
                             eval_flops=getattr(plan, "eval_flops", None) or 0.0)
        item.job_dir = self._job_dir(cfg if cfg is not None else self.s.config, item.number)
        item.prediction = self._predict(item.work)
        known = self._least_work.get(item.label)
        if item.work is not None and (known is None or (item.work.flops or 0, item.work.examples or 0)
                                      < (known.flops or 0, known.examples or 0)):
            self._least_work[item.label] = item.work

    def _cheapest(self) -> float:
        """The predicted cost, under the model as calibrated now, of the cheapest configuration
        seen so far: while it fits, a trial that does not fit is skipped rather than the sweep
        stopped (the sampler may propose a smaller rung next)."""
        works = list(self._least_work.values()) or [None]
        return min(self._predict(work).cost for work in works)

    def _job_dir(self, cfg: DictConfig, number: int) -> Optional[str]:
        """Where the launcher will put this trial's job, resolved as Hydra's run_job does."""
        if self._plain_subdir:  # the usual ${hydra.job.num}: no need to resolve a config copy
            return os.path.abspath(os.path.join(self._sweep_dir, str(number)))
        cfg = cfg.copy()
        previous = HydraConfig.instance().cfg
        try:
            with open_dict(cfg):
                cfg.hydra.job.num = number
                cfg.hydra.job.id = number
            HydraConfig.instance().set_config(cfg)
            path = os.path.join(str(OmegaConf.select(cfg, "hydra.sweep.dir")),
                                str(OmegaConf.select(cfg, "hydra.sweep.subdir")))
            return os.path.abspath(path)
        except Exception:  # an exotic subdir interpolation; the JobReturn will say where it went
            return None
        finally:
            if previous is not None:
                HydraConfig.instance().set_config(previous)

    def _identity(self, item: _Trial) -> List[str]:
        """The override that tells the job which trial it is: ``cfg.budgetsweep.trial`` with
        TrialLink's keys. One dict-valued override, since Hydra parses each override per job.
        Without a budget limit the reservation is ``inf``: the job never stops for its budget."""
        reservation = repr(float(item.prediction.cost)) if self.capped else "inf"
        fields = {"number": str(item.number), "study_name": quote(self.study.study_name),
                  "storage": quote(self.job_url), "unit": self.unit,
                  "reservation": reservation, "tolerance": repr(float(self.settings.tolerance))}
        return ["++budgetsweep.trial={" + ",".join(f"{k}:{v}" for k, v in fields.items()) + "}"]

    def _launch(self, batch: List[_Trial]) -> List[outcomes.Outcome]:
        returns: List[Any] = []
        try:
            for group in _contiguous(batch):
                jobs = [tuple(item.overrides + item.identity) for item in group]
                returns.extend(self.s.launcher.launch(jobs, initial_job_idx=group[0].number))
        except BaseException:
            # the launcher broke off (Ctrl-C, a cluster error): settle what is known now
            for item in batch[len(returns):]:
                result = outcomes.from_record_only(item.job_dir, n_objectives=self.n_objectives,
                                                   unit=self.unit, reservation=item.prediction.cost)
                outcomes.close_running_record(result.record_path, "the launch was interrupted")
                self.ledger.commit(item.number, result.actual)
                self._close(item.number, result, item.prediction.cost, "launch interrupted", item)
            for item, ret in zip(batch, returns):
                self._settle(item, ret)
            raise
        return [self._settle(item, ret) for item, ret in zip(batch, returns)]

    def _settle(self, item: _Trial, ret: Any) -> outcomes.Outcome:
        result = outcomes.from_job(ret, n_objectives=self.n_objectives, unit=self.unit,
                                   reservation=item.prediction.cost, job_dir=item.job_dir)
        self.ledger.commit(item.number, result.actual)
        self._close(item.number, result, item.prediction.cost, None, item)
        if result.error:
            log.warning(f"Failed experiment: trial {item.number}: {result.error}")
        return result

    def _close(self, number: int, result: outcomes.Outcome, predicted: Optional[float], note: Optional[str],
               item: Optional[_Trial] = None) -> None:
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
        censored = result.status == RunStatus.BUDGET_STOPPED
        if censored:
            self.stopped_trials.append(number)
        self.history.append(Observation(label, result.actual, completed=result.state == outcomes.COMPLETE,
                                        flops=result.work.get("flops", 0.0) + result.work.get("eval_flops", 0.0),
                                        device_seconds=result.work.get("device_seconds", 0.0),
                                        measured=result.measured, censored=censored))
        self._check_direction(result)
        self._tell(item.trial if item is not None else number, _STATES[result.state], result.values)

    def _tell(self, trial: Any, state: TrialState, values: Optional[List[float]] = None) -> None:
        """``trial``: an optuna Trial, or a trial number."""
        try:
            self.study.tell(trial, state=state, values=values if state == TrialState.COMPLETE else None)
        except RuntimeError as exc:
            # the grid sampler stops the study when the grid is exhausted, which tell reports
            if "`Study.stop` is supposed to be invoked" not in str(exc):
                raise

    def _park(self, item: _Trial, why: str) -> None:
        """Keep an asked trial that will not run now (RUNNING, ours) until the end of this run, when
        it goes back to the queue: so this run's next ``ask`` samples afresh."""
        self.book.write_status(item.trial, NOT_LAUNCHED, note=why)
        self.book.write_owner(item.trial, self.s.owner)
        item.why = why
        self.parked.append(item)

    def _wait(self, number: int, why: str) -> None:
        """A trial that never ran goes back to Optuna's queue (WAITING): it is no run, counts toward
        nothing, and the next ``ask`` of this study (a later run, another sweeper) takes it up with
        its parameters, so rerunning an exhausted study adds no trial."""
        self.book.wait(number, why)

    def _fail_unlaunched(self, item: _Trial) -> None:
        log.warning(f"Failed experiment: trial {item.number} was not launched, its config cannot run: {item.error}")
        self.book.write_status(item.trial, INVALID_CONFIG, error=item.error)
        self._tell(item.number, TrialState.FAIL)

    def _check_direction(self, result: outcomes.Outcome) -> None:
        if (self.n_objectives == 1 and result.direction and not self._warned_direction
                and result.direction != self.s.directions[0]):
            self._warned_direction = True
            log.warning(f"The job's objective is to {result.direction}, but hydra.sweeper.direction="
                        f"{self.s.directions[0]}; set hydra.sweeper.direction={result.direction} if that is meant")

    def _check_stops(self) -> None:
        """One warning when trials keep being stopped at their reservations: the guess is low."""
        if self._warned_stops or len(self.stopped_trials) < 2:
            return
        self._warned_stops = True
        most = max(o.cost for o in self.history if o.censored)
        setting = ("hydra.sweeper.budget.default_trial_cost="
                   f"{self.settings.default_trial_cost}" if self.s.plan_run is None else
                   f"hydra.sweeper.budget.safety_margin={self.settings.safety_margin}")
        log.warning(f"{len(self.stopped_trials)} trials ({', '.join(map(str, self.stopped_trials))}) were stopped at "
                    f"their reservation (budget_stopped): {setting} is too low for them (they used at least "
                    f"{format_cost(most, self.unit)} {self.unit} and would have used more). Predictions now rise "
                    f"above what stopped trials spent; set it near the real cost of one trial")

    def _check_failures(self, failed: List[_Trial], batch: List[_Trial], results: List[outcomes.Outcome]) -> None:
        """Upstream's rule: raise when a batch's failure rate passes max_failure_rate."""
        n = len(failed) + len(batch)
        bad = [(item, None) for item in failed] + [(item, r) for item, r in zip(batch, results)
                                                    if r.state == outcomes.FAIL]
        if not n or len(bad) / n <= self.s.max_failure_rate:
            return
        self.stopped = f"failure rate {len(bad)}/{n} > max_failure_rate={self.s.max_failure_rate}"
        log.error(f"Failed {len(bad)} times out of {n} with max_failure_rate={self.s.max_failure_rate}.")
        item, result = bad[0]
        reason = item.error if result is None else result.error
        raise RuntimeError(f"trial {item.number} failed ({reason}); {len(bad)} of {n} trials in the batch failed, "
                           f"more than hydra.sweeper.max_failure_rate={self.s.max_failure_rate} allows")

    def _cost(self, item: _Trial) -> str:
        return f"{format_cost(item.prediction.cost, self.unit)} {self.unit}"

    def _log_progress(self) -> None:
        spent, held = self.ledger.totals()
        done = self.ledger.launched()
        self.book.write_study_budget(unit=self.unit, limit=self.settings.limit, spent=spent)
        if not self.capped:
            log.info(f"Trials {done}/{self.n_trials} done; spent {format_cost(spent, self.unit)} {self.unit} "
                     "(no limit)")
            return
        limit = self.settings.limit
        log.info(f"Trials {done}/{self.n_trials} done; budget spent {format_cost(spent, self.unit)} of "
                 f"{format_cost(limit, self.unit)} {self.unit} ({100 * (limit - spent - held) / limit:.1f}% remaining)")

    # -- the end ----------------------------------------------------------------------------------
    def finish(self) -> None:
        if self.carry is not None:
            self.parked.append(self.carry)
            self.carry = None
        for item in self.parked:
            self._wait(item.number, item.why or "its reservation does not fit the budget")
        self.parked = []
        spent, _ = self.ledger.totals()
        self.book.write_study_budget(unit=self.unit, limit=self.settings.limit, spent=spent)
        sweep_dir = Path(str(self.s.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        self._write_results(sweep_dir)
        self._write_summary(sweep_dir)

    def _write_results(self, sweep_dir: Path) -> None:
        if self.n_objectives == 1:
            try:
                best = self.study.best_trial
            except ValueError:
                log.warning("No trial completed: optimization_results.yaml has no best trial")
                results = {"name": "budget", "best_params": None, "best_value": None}
            else:
                results = {"name": "budget", "best_params": best.params, "best_value": best.value}
                log.info(f"Best parameters: {best.params}")
                log.info(f"Best value: {best.value}")
        else:
            best_trials = self.study.best_trials
            results = {"name": "budget",
                       "solutions": [{"params": t.params, "values": t.values} for t in best_trials]}
            log.info(f"Number of Pareto solutions: {len(best_trials)}")
            for t in best_trials:
                log.info(f"    Values: {t.values}, Params: {t.params}")
        OmegaConf.save(OmegaConf.create(results), sweep_dir / "optimization_results.yaml")

    def _write_summary(self, sweep_dir: Path) -> None:
        trials = {t.number: attrs.summary_info(t) for t in self.study.get_trials(deepcopy=False)}
        spent, held = self.ledger.totals()
        summary = build_summary(
            study_name=self.study.study_name, storage=mask(self.url), unit=self.unit, limit=self.settings.limit,
            tolerance=self.settings.tolerance, spent=spent, reserved=held, charges=self.ledger.charges(),
            trials=trials, n_trials=self.n_trials, stopped=self.stopped)
        write_json_atomic(sweep_dir / "budget_summary.json", summary)
        log.info("Budget summary (budget_summary.json):\n" + summary_table(summary))
