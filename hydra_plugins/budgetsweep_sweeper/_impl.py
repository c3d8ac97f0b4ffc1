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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, MutableSequence, NoReturn, Optional

import optuna
from hydra.core.plugins import Plugins
from hydra.errors import CompactHydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, ListConfig, OmegaConf

from budgetsweep.budget import outcome as outcomes
from budgetsweep.budget import recovery
from budgetsweep.budget import study_identity
from budgetsweep.budget import storage_retry
from budgetsweep.budget.trial_echo import hide_trial_overrides
from budgetsweep.budget import trial_attrs as attrs
from budgetsweep.budget.cost_model import CostModel, Work
from budgetsweep.budget.job_timer import TimedTask
from budgetsweep.budget.decision import Action, unspent_warning
from budgetsweep.budget.failures import batch_failure
from budgetsweep.budget.ledger import Ledger
from budgetsweep.budget.optuna_objects import PRUNER_ATTR, build_pruner, build_sampler, is_grid
from budgetsweep import gc_tuning
from budgetsweep.dotted import get_method
from budgetsweep.budget.owner import current_owner
from budgetsweep.budget.search_space import SearchSpace, build_search_space, quote
from budgetsweep.budget.settings import BudgetSettings
from budgetsweep.budget.storage import (absolute_sqlite, check_url, default_storage_url, mask, open_optuna_storage,
                                        url_for_job)
from budgetsweep.budget.heartbeat import Heartbeat
from budgetsweep.budget.reservations import Reservations, cost_text
from budgetsweep.budget.results import write_results, write_summary
from budgetsweep.budget.settle import TrialSettler
from budgetsweep.budget.start_log import log_start
from budgetsweep.budget.sweep_storage import SweepStorage
from budgetsweep.budget.trial_link import handed_over
from budgetsweep.budget.trial_plan import PlannedTrial, TrialPlanner, contiguous
from budgetsweep.budget.units import format_cost

log = logging.getLogger(__name__)

DIRECTIONS = ("minimize", "maximize")


class SweepConfigError(CompactHydraException, ValueError):
    """Bad input found before any job ran; Hydra prints just the message."""


class StorageFailure(RuntimeError):
    """The study's database failed during the sweep; the message names the database's own error."""


def refuse(exc: ValueError) -> NoReturn:
    """Bad input: one message, exit 2 (the app's code for bad config), before any job; HYDRA_FULL_ERROR=1
    raises instead, for the traceback."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise SweepConfigError(str(exc)) from exc
    print(f"budgetsweep: invalid sweep configuration: {exc}", file=sys.stderr)
    sys.exit(2)


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


_Trial = PlannedTrial


class BudgetSweeperImpl(Sweeper):
    def __init__(self, *, sampler: Any, pruner: Any, direction: Any, storage: Optional[Any],
                 study_name: Optional[str], n_trials: int, n_jobs: int, max_failure_rate: float,
                 search_space: Optional[Any], params: Optional[Any], custom_search_space: Optional[str],
                 budget: Any, auto_proxy: Optional[Any] = None) -> None:
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
        # validated in sweep (AutoProxySettings.from_mapping): a config error is exit 2 before any trial
        self.auto_proxy_conf: Optional[Dict[str, Any]] = _plain(auto_proxy)
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
        hide_trial_overrides()  # launchers echo each job's overrides: the user's, not the trial's identity
        # Hydra's basic launcher composes each job in this process with a full Hydra compose; the memo
        # derives it from a base composed once per set of group choices, the same config (tested). The
        # budgetsweep script installs it already; any other app's launches get it here. Other launchers
        # compose elsewhere and are left alone by the memo.
        from budgetsweep.compose_memo import install

        install()
        # every job is timed, so its wall time is known even when it writes no record
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=TimedTask(task_function))
        self.plan_run = self._find_planner(config)
        # budgetsweep's own training app returns one objective (task.objective)
        self.one_objective_app = getattr(task_function, "__module__", None) == "budgetsweep.app"

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
    def sweep(self, arguments: List[str], heap: Optional[gc_tuning.FrozenHeap] = None) -> None:
        """``heap``: the sweep's ``FrozenHeap`` scope, entered by the caller (the plugin class) before this
        module's imports; settled here once the study is open, warmed up after the first batch. A database
        error that stops the sweep (opening the study or later; the study's or the ledger's) is raised as
        ``StorageFailure`` naming it: Optuna's message blames "invalid data", SQLAlchemy's ends in a link."""
        self._masked_url = "(not opened)"  # _prepare sets the study's
        try:
            self._sweep(arguments, heap)
        except Exception as exc:
            reason = storage_retry.explain(exc, self._masked_url)
            if reason is None:
                raise
            raise StorageFailure(reason) from exc

    def _sweep(self, arguments: List[str], heap: Optional[gc_tuning.FrozenHeap]) -> None:
        assert self.config is not None and self.launcher is not None
        try:
            run = self._prepare(arguments)
        except ValueError as exc:
            refuse(exc)
        if heap is not None:
            heap.settle()
            run.heap = heap
        try:
            with Heartbeat(run.ledger, self.settings.heartbeat_seconds):
                run.recover()
                if run.driver is not None:
                    phase = run.driver.run().get("phase")
                    # the last phase's reason alone ("the phase's 2 trial(s) launched") reads as the sweep's
                    run.stopped = f"auto-proxy {phase}" + (f" (last phase: {run.stopped})" if phase != "done" else "")
                else:
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
        if len(self.directions) > 1 and getattr(self, "one_objective_app", False):
            # else every trial runs, fails on its single value and the sweep ends in a traceback
            objective = OmegaConf.select(self.config, "task.objective", default=None)
            raise ValueError(f"hydra.sweeper.direction={self.directions} lists {len(self.directions)} objectives; "
                             f"budgetsweep's training app returns one (task.objective={objective}): give one "
                             "direction (minimize or maximize), or sweep an app of your own that returns a list "
                             "(docs/own_loops.md)")
        self._check_auto_proxy_direction()
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
        self._masked_url = mask(url)  # what a database error that stops the sweep names
        ident = study_identity.identity(space.distributions, space.fixed, self.directions,
                                        self.custom_search_space_path)
        app = OmegaConf.select(self.config, "hydra.job.name", default=None) or "budgetsweep"
        study_name = study_identity.study_name(user_name=self.study_name, storage_given=self.storage is not None,
                                               app_name=app, ident=ident)
        storage = open_optuna_storage(url)
        cached = SweepStorage(storage)  # Optuna's cached storage, less two reads per ask
        try:
            study = optuna.load_study(storage=cached, sampler=sampler, pruner=pruner, study_name=study_name)
        except KeyError:  # a new study (or another sweeper creating it at this moment)
            study = optuna.create_study(storage=cached, sampler=sampler, pruner=pruner, study_name=study_name,
                                        directions=self.directions, load_if_exists=True)
        warning = study_identity.check_study(study, ident, self.directions, mask(url))
        if warning:
            log.warning(warning)
        if self.auto_proxy_conf is not None:  # before the ledger: a refused command changes nothing in the study
            from budgetsweep.auto_proxy.resume import check_study_settings

            check_study_settings(study, self.auto_proxy_conf)
        # the budget row (its limit) is written once the command passed every check before the first trial
        ledger = Ledger(url, study_name, unit=self.settings.unit, limit=self.settings.limit,
                        tolerance=self.settings.tolerance, owner=self.owner, open_budget=False)
        study.set_user_attr(PRUNER_ATTR, self.pruner_conf)
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
        if self.auto_proxy_conf is not None:
            run.driver = self._auto_proxy(run, study, ledger, space, url)
        ledger.open_budget()
        log_start(study_name=study.study_name, url=url, sampler=sampler, pruner=pruner, directions=self.directions,
                  settings=self.settings, n_trials=self.n_trials, planned=self.plan_run is not None,
                  limit_changed_from=ledger.limit_changed_from)
        return run

    def _check_auto_proxy_direction(self) -> None:
        """Auto-proxy on budgetsweep's app: the sweep's direction must be the objective's. The plain sweeper only
        warns (a deliberate minimize of an accuracy is possible); auto-proxy's search would follow the sweeper's
        direction while its verification and final pick follow the records', so the answer would be the best of
        the worst configurations the search could find."""
        if self.auto_proxy_conf is None or not getattr(self, "one_objective_app", False) or len(self.directions) != 1:
            return
        objective = OmegaConf.select(self.config, "task.objective", default=None)
        if not objective:
            return
        from budgetsweep.tasks.base import objective_direction

        try:
            wanted = objective_direction(str(objective))
        except ValueError:  # the app names it when it runs
            return
        if wanted != self.directions[0]:
            raise ValueError(f"hydra.sweeper.direction={self.directions[0]} is not allowed with task.objective="
                             f"{objective}, which is to {wanted}: auto-proxy's search would {self.directions[0]} it "
                             f"while its verification and final pick {wanted} it; set hydra.sweeper.direction={wanted}")

    def _auto_proxy(self, run: "_Run", study: optuna.Study, ledger: Ledger, space: SearchSpace, url: str) -> Any:
        """The auto-proxy strategy (budgetsweep.auto_proxy.driver), planned before any trial."""
        from budgetsweep.auto_proxy.driver import AutoProxyDriver, Sweep

        sweep = Sweep(study=study, ledger=ledger, distributions=space.distributions,
                      base_overrides=space.fixed_overrides(), unit=self.settings.unit, limit=self.settings.limit,
                      storage_url=url, sweep_dir=Path(str(self.config.hydra.sweep.dir)), run_phase=run.run_phase,
                      price=run.price, override=space.override)
        driver = AutoProxyDriver.from_mapping(self.auto_proxy_conf, sweep)
        driver.prepare()
        return driver

    def _original_cwd(self) -> str:
        return OmegaConf.select(self.config, "hydra.runtime.cwd", default=None) or os.getcwd()


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
        self.stopped = "running"
        self.driver: Any = None  # the auto-proxy strategy, when hydra.sweeper.auto_proxy is set
        self.heap = gc_tuning.FrozenHeap()  # the sweep's, entered by sweep()
        self._phase_slots: Optional[int] = None  # while run_phase runs an auto-proxy phase: its trial slots
        self._grid_size = math.prod(len(v) for v in grid.values()) if grid is not None else None
        from budgetsweep.compose_memo import launch_composer

        loader = setup.hydra_context.config_loader
        self.planner = TrialPlanner(config=setup.config, config_loader=loader, plan_run=setup.plan_run,
                                    cost_model=setup.cost_model, capped=self.capped, unit=self.unit,
                                    fixed=space.fixed_overrides(),
                                    launch_composer=launch_composer(loader, setup.config))
        self.settler = TrialSettler(study=study, book=book, ledger=ledger, settings=setup.settings,
                                    directions=setup.directions, planned=setup.plan_run is not None)
        self.reservations = Reservations(ledger=ledger, book=book, planner=self.planner, settler=self.settler,
                                         settings=setup.settings, owner=setup.owner, n_trials=n_trials,
                                         n_jobs=setup.n_jobs)

    # -- resume -------------------------------------------------------------------------------
    def recover(self) -> None:
        """Close what a dead sweeper left (``budget.recovery`` charges it in the ledger): finish its
        charged trials in Optuna, put the ones that never ran back in the queue."""
        found = recovery.recover(self.ledger, self.study.get_trials(deepcopy=False),
                                 stale_after_seconds=self.settings.stale_after_seconds,
                                 n_objectives=self.n_objectives, unit=self.unit)
        for orphan in found.finish:
            self.settler.close(orphan.number, orphan.outcome, orphan.reserved, "recovered")
        for number, why in found.requeue:
            self.reservations.wait(number, why)
        self.settler.load_history()

    # -- the loop -------------------------------------------------------------------------------
    def loop(self) -> None:
        """ask -> reserve -> launch -> tell, a batch at a time, until n_trials or the budget ends it."""
        first, held = True, self.reservations
        while True:
            launched = self.ledger.launched()
            if held.slots_left(launched) <= 0:
                self.stopped = self._full(launched)
                if first and self._phase_slots is None:
                    log.info(f"Study {self.study.study_name!r} already has {launched} launched trials of "
                             f"n_trials={self.n_trials}; nothing to run. {self._how_to_run_more(launched)}")
                return
            first = False
            fill = held.fill(held.slots_left(launched), self._ask)  # ask, reserve
            results = []
            if fill.batch:
                held.grant_tolerance(fill.batch)
                results = self._launch(fill.batch)  # launch, then tell
            self._check_failures(fill.failed, fill.batch, results)
            if fill.batch:
                self.settler.check_stops()
                self._log_progress()
            if fill.action == Action.FULL:
                self.stopped = self._full(self.ledger.launched())
                return
            if fill.action == Action.SKIP:
                held.skip(fill.refused)
            elif fill.action == Action.STOP:
                self.stopped = (f"budget exhausted: trial {fill.refused.number} needs "
                                f"{cost_text(fill.refused, self.unit)} and {self._remaining_text(held.ledger)}")
                log.info(f"Stopping: {self.stopped}. To run more, raise hydra.sweeper.budget.limit")
                self._warn_unspent(fill.refused)
                return

    def _remaining_text(self, ledger: Any) -> str:
        """What is left to reserve through ``ledger``: the budget's remaining, or, for an auto-proxy phase's
        view of the ledger (a cap of its own), the phase's remaining with the budget's beside it (the phase's
        cap refused the trial, not the budget)."""
        total = f"{format_cost(self.ledger.remaining(), self.unit)} {self.unit}"
        if ledger is self.ledger:
            return f"{total} remain"
        return (f"{format_cost(max(0.0, ledger.remaining()), self.unit)} {self.unit} remain of this auto-proxy "
                f"phase's planned cost ({total} in the whole budget)")

    def _warn_unspent(self, refused: _Trial) -> None:
        """One warning when the sweep stops with much of the budget left although its trials cost less."""
        completed = [o.cost for o in self.settler.history if o.completed and o.measured and o.cost > 0]
        warning = unspent_warning(number=refused.number, predicted=refused.prediction.cost,
                                  basis=refused.prediction.basis, remaining=self.ledger.remaining(),
                                  limit=self.settings.limit, completed=completed, unit=self.unit)
        if warning:
            log.warning(warning)

    def price(self, overrides: List[str]) -> tuple:
        """(reduction label, predicted cost) of a trial with ``overrides`` before the fixed ones, planned
        and predicted as the loop does (auto-proxy prices its rungs with it). ValueError: no planner."""
        if self.s.plan_run is None:
            raise ValueError("auto-proxy prices its rungs with budgetsweep's planner: the app's config needs a task")
        overrides = list(overrides) + self.space.fixed_overrides()
        cfg = self.planner.composer.compose(overrides)
        plan = self.s.plan_run(cfg, overrides, count_flops=self.unit != "examples")
        work = Work(plan.reduction_label, examples=plan.examples, flops=plan.flops,
                    eval_flops=getattr(plan, "eval_flops", None) or 0.0)
        return plan.reduction_label, self.planner.predict(work, self.settler.history).cost

    def run_phase(self, slots: int, ledger: Any) -> str:
        """The loop for at most ``slots`` new trials, reserving through ``ledger`` (a phase's view of the
        study's ledger); returns why it stopped. A trial asked and not launched stays parked (it goes back
        to the queue at the end), so the next phase asks afresh."""
        held = self.reservations
        held.ledger, held.invalid, held.skipped = ledger, 0, 0
        self.n_trials = held.n_trials = self.ledger.launched() + slots
        self.stopped = "running"
        self._phase_slots = slots
        try:
            self.loop()
        finally:
            self._phase_slots = None
            held.ledger = self.ledger
            if held.carry is not None:
                held.parked.append(held.carry)
                held.carry = None
        return self.stopped

    def _grid_bound(self) -> bool:
        """The grid, not the user's n_trials, bounds the sweep (n_trials was lowered to its size)."""
        return self._grid_size is not None and self.n_trials >= self._grid_size

    def _full(self, launched: int) -> str:
        if self._phase_slots is not None:  # an auto-proxy phase: its slots, not the user's n_trials, bound it
            return f"the phase's {self._phase_slots} trial(s) launched"
        if self._grid_bound():
            return f"grid exhausted ({launched}/{self._grid_size} points launched)"
        return f"n_trials reached ({launched}/{self.n_trials})"

    def _how_to_run_more(self, launched: int) -> str:
        if self._grid_bound():
            return (f"Every point of the grid ({self._grid_size}) has been launched: the grid is exhausted, and "
                    "raising hydra.sweeper.n_trials adds nothing. To run more, sweep more values (another grid "
                    "is another study; with hydra.sweeper.study_name set, give it a new name)")
        return f"To run more, raise hydra.sweeper.n_trials above {launched}"

    def check_predictable(self) -> None:
        """A clear error before any trial when no cost can be predicted (an app without a plan)."""
        self.planner.check_predictable(self.settler.load_history())

    def _ask(self) -> Optional[_Trial]:
        trial = self.study.ask()  # pops a trial an earlier run asked and never launched, if any
        while self.driver is not None and not self.driver.belongs(trial):  # queued for another phase
            self.book.take_over(trial, self.s.owner)
            self.reservations.park(_Trial(trial, []), "queued for another auto-proxy phase")
            if self.driver.fresh(trial):  # the phase's queue is empty: it has nothing left to launch
                return None
            trial = self.study.ask()
        if self._grid_size is not None:
            trial = self._claim_grid_point(trial)
            if trial is None:
                return None
        self.book.take_over(trial, self.s.owner)
        for name, distribution in self.space.distributions.items():
            trial._suggest(name, distribution)
        self.book.write_user_attrs(trial, dict(self.space.fixed))  # one commit, not one per parameter
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
        if self.driver is not None:  # the trial's rung and seed (auto-proxy)
            overrides += self.driver.trial_overrides(trial)
        overrides += self.space.fixed_overrides()  # as written
        item = _Trial(trial, overrides)
        self.planner.plan(item, self.settler.history)
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
        self.reservations.park(_Trial(trial, []), "every grid point is taken")
        return None

    def _identity(self, item: _Trial) -> List[str]:
        """The override that tells the job which trial it is: ``cfg.budgetsweep.trial`` with
        TrialLink's keys. One dict-valued override, since Hydra parses each override per job.
        Without a budget limit the reservation is ``inf``: the job never stops for its budget."""
        reservation = repr(float(item.prediction.cost)) if self.capped else "inf"
        fields = {"number": str(item.number), "study_name": quote(self.study.study_name),
                  "storage": quote(self.job_url), "unit": self.unit,
                  "reservation": reservation, "tolerance": repr(float(item.tolerance))}
        return ["++budgetsweep.trial={" + ",".join(f"{k}:{v}" for k, v in fields.items()) + "}"]

    def _launch(self, batch: List[_Trial]) -> List[outcomes.Outcome]:
        for item in batch:
            item.identity = self._identity(item)
        returns: List[Any] = []
        # a job the launcher runs in this process (Hydra's basic launcher) takes its trial from here, not the database
        trials = {(self.job_url, self.study.study_name, item.number): item.trial for item in batch}
        try:
            with handed_over(trials):
                for group in contiguous(batch):
                    jobs = [tuple(item.overrides + item.identity) for item in group]
                    returns.extend(self.s.launcher.launch(jobs, initial_job_idx=group[0].number))
                    self.heap.warm_up()  # what the first jobs imported and loaded stays, like the modules
        except BaseException:
            # the launcher broke off (Ctrl-C, a cluster error): settle what is known now
            for item in batch[len(returns):]:
                self.settler.settle_interrupted(item)
            for item, ret in zip(batch, returns):
                self.settler.settle(item, ret)
            raise
        return [self.settler.settle(item, ret) for item, ret in zip(batch, returns)]

    def _check_failures(self, failed: List[_Trial], batch: List[_Trial], results: List[outcomes.Outcome]) -> None:
        found = batch_failure(failed, batch, results, unit=self.unit, max_failure_rate=self.s.max_failure_rate)
        if found is None:
            return
        self.stopped = found.stopped
        if found.config_error:
            raise SweepConfigError(found.message)
        log.error(f"Failed {found.failed} times out of {found.of} with max_failure_rate={self.s.max_failure_rate}.")
        raise RuntimeError(found.message)

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
        self.reservations.requeue()
        spent, _ = self.ledger.totals()
        self.book.write_study_budget(unit=self.unit, limit=self.settings.limit, spent=spent)
        sweep_dir = Path(str(self.s.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        answer = self.driver.answer() if self.driver is not None else None
        write_results(self.study, self.n_objectives, sweep_dir, answer)
        write_summary(self.study, self.ledger, url=self.url, settings=self.settings, n_trials=self.n_trials,
                      stopped=self.stopped, sweep_dir=sweep_dir)
