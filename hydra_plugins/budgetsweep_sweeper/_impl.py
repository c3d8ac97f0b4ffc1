"""The budget sweeper's loop: ask -> predict -> reserve -> launch -> read records -> commit -> tell.

Policy lives here, between batches; execution is the Hydra launcher's. A trial is launched only
after the ledger has reserved its predicted cost; the sweep stops when the next trial does not fit
with nothing in flight. Everything is kept in the study's database, so rerunning the same command
resumes: finished trials count toward ``n_trials``, trials a dead sweeper left running are charged
and closed, and job directories are numbered by trial so earlier ones are never overwritten.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
import os
import threading
from dataclasses import dataclass, field
from datetime import timezone
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
from budgetsweep.budget.cost_model import CostModel, CostModelError, Observation, Prediction, Work
from budgetsweep.budget.ledger import COMMITTED, RELEASED, RESERVED, Ledger
from budgetsweep.budget.optuna_objects import PRUNER_ATTR, build_pruner, build_sampler, is_grid
from budgetsweep.budget.owner import current_owner, is_alive
from budgetsweep.budget.search_space import SearchSpace, build_search_space, format_value, quote
from budgetsweep.budget.settings import BudgetSettings
from budgetsweep.budget.storage import (absolute_sqlite, check_url, default_storage_url, mask, open_optuna_storage,
                                        url_for_job)
from budgetsweep.budget.summary import build_summary, summary_table
from budgetsweep.budget.units import format_cost

log = logging.getLogger(__name__)

OWNER_ATTR = "budgetsweep:owner"  # the sweeper holding a trial that waits unreserved
NOT_LAUNCHED = "not_launched"  # status of a trial that was asked but never ran
INVALID_CONFIG = "invalid_config"
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

    @property
    def number(self) -> int:
        return self.trial.number


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
            module, _, name = str(custom_search_space).rpartition(".")
            try:
                self.custom_search_space = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError, ValueError) as exc:
                raise ValueError(f"hydra.sweeper.custom_search_space={custom_search_space!r} cannot be "
                                 f"imported ({exc}); allowed: a dotted path to a callable(cfg, trial)") from None
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
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function)
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
        storage, study and ledger."""
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
        study_name = self.study_name or self._default_study_name(space, arguments)
        study = optuna.create_study(storage=open_optuna_storage(url), sampler=sampler, pruner=pruner,
                                    study_name=study_name, directions=self.directions, load_if_exists=True)
        found = [d.name.lower() for d in study.directions]
        if found != self.directions:
            raise ValueError(f"hydra.sweeper.direction={self.directions} does not match study {study_name!r}, "
                             f"created with {found}; allowed: {found}, or another hydra.sweeper.study_name")
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
        run = _Run(self, study, ledger, space, url, n_trials)
        run.check_predictable()
        return run

    def _original_cwd(self) -> str:
        return OmegaConf.select(self.config, "hydra.runtime.cwd", default=None) or os.getcwd()

    def _default_study_name(self, space: SearchSpace, arguments: Sequence[str]) -> str:
        """<app name>-<hash>: the same command (search space, task overrides, directions) gives
        the same name, so rerunning it resumes; another command gets another study."""
        key = {"params": self.params, "search_space": self.search_space, "arguments": sorted(arguments),
               "distributions": {k: repr(v) for k, v in space.distributions.items()},
               "directions": self.directions}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:10]
        name = OmegaConf.select(self.config, "hydra.job.name", default=None) or "budgetsweep"
        return f"{name}-{digest}"

    def _log_start(self, study, url: str, sampler, pruner, ledger: Ledger) -> None:
        s = self.settings
        log.info(f"Study name: {study.study_name}")
        log.info(f"Storage: {mask(url)}")
        log.info(f"Sampler: {type(sampler).__name__}")
        log.info(f"Pruner: {type(pruner).__name__}")
        log.info(f"Directions: {self.directions}")
        log.info(f"Budget: {format_cost(s.limit, s.unit)} {s.unit}, tolerance {s.tolerance:g}")
        if ledger.limit_changed_from is not None:
            log.warning(f"Budget limit of study {study.study_name!r} changed from "
                        f"{format_cost(ledger.limit_changed_from, s.unit)} to {format_cost(s.limit, s.unit)} {s.unit}")


class _Run:
    """One call of ``sweep``: the study, its ledger and the loop's state."""

    def __init__(self, sweeper: BudgetSweeperImpl, study: optuna.Study, ledger: Ledger, space: SearchSpace,
                 url: str, n_trials: int) -> None:
        self.s = sweeper
        self.study = study
        self.ledger = ledger
        self.space = space
        self.url = url
        self.job_url = url_for_job(url)
        self.n_trials = n_trials
        self.settings = sweeper.settings
        self.unit = sweeper.settings.unit
        self.n_objectives = len(sweeper.directions)
        self.carry: Optional[_Trial] = None
        self.stopped = "running"
        self.history: List[Observation] = []
        self._warned_direction = False
        self._least_work: Dict[str, Work] = {}  # per label, the least work of a trial seen so far
        sweep = sweeper.config.hydra.sweep
        self._sweep_dir = str(sweep.dir)
        self._plain_subdir = OmegaConf.to_container(sweep, resolve=False).get("subdir") == "${hydra.job.num}"

    # -- resume -------------------------------------------------------------------------------
    def recover(self) -> None:
        """Close what a dead sweeper left: charge stale reservations (at what a record shows, else
        at the reservation) and finish their trials; fail trials it asked but never reserved."""
        trials = {t.number: t for t in self.study.get_trials(deepcopy=False)}
        charges = {c.trial: c for c in self.ledger.charges()}
        stale = self.settings.stale_after_seconds
        for number, charge in charges.items():
            trial = trials.get(number)
            if charge.state == RESERVED:
                if is_alive(charge.owner, charge.heartbeat_at, stale_after_seconds=stale):
                    continue
                result = outcomes.from_record_only(charge.job_dir, n_objectives=self.n_objectives,
                                                   unit=self.unit, reservation=charge.reserved or 0.0)
                self.ledger.commit(number, result.actual)
                log.warning(f"Resume: trial {number} was left running by a sweeper that is gone; charged "
                            f"{format_cost(result.actual, self.unit)} {self.unit} "
                            f"({'its record' if result.status != 'no_record' else 'its reservation, no record'})")
                if trial is not None and trial.state == TrialState.RUNNING:
                    self._close(number, result, charge.reserved, "recovered")
            elif trial is not None and trial.state == TrialState.RUNNING and charge.state == COMMITTED:
                # charged, then the sweeper died before telling Optuna
                result = outcomes.from_record_only(charge.job_dir, n_objectives=self.n_objectives,
                                                   unit=self.unit, reservation=charge.reserved or 0.0)
                self._close(number, result, charge.reserved, "recovered")
            elif trial is not None and trial.state == TrialState.RUNNING and charge.state == RELEASED:
                self._not_launched(number, "released")
        for number, trial in trials.items():
            if trial.state != TrialState.RUNNING or number in charges:
                continue
            owner = trial.user_attrs.get(OWNER_ATTR)
            started = trial.datetime_start.astimezone(timezone.utc) if trial.datetime_start else None
            if not is_alive(owner, started, stale_after_seconds=stale):
                self._not_launched(number, "asked by a sweeper that is gone")
        self.history = self._load_history()

    def _load_history(self) -> List[Observation]:
        found = []
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                               TrialState.FAIL)):
            cost = t.user_attrs.get("cost")
            if not isinstance(cost, dict) or cost.get("actual") is None or cost.get("unit") != self.unit:
                continue
            found.append(Observation(
                label=str(t.user_attrs.get("reduction_label") or "default"), cost=float(cost["actual"]),
                completed=t.user_attrs.get("status") in ("completed", "no_record") and t.state == TrialState.COMPLETE,
                flops=float(cost.get("flops") or 0.0), device_seconds=float(cost.get("device_seconds") or 0.0)))
        return found

    def _done(self) -> int:
        return sum(1 for t in self.study.get_trials(deepcopy=False)
                   if t.state.is_finished() and t.user_attrs.get("status") != NOT_LAUNCHED)

    # -- the loop -------------------------------------------------------------------------------
    def loop(self) -> None:
        done = self._done()
        if done >= self.n_trials:
            self.stopped = f"n_trials reached ({done}/{self.n_trials})"
            log.info(f"Study already has {done} finished trials of n_trials={self.n_trials}; nothing to run")
            return
        skipped = 0
        while done < self.n_trials:
            batch, failed, unfit = self._fill(self.n_trials - done)
            done += len(failed)
            if not batch:
                self._check_failures(failed, [], [])
                if unfit is None:  # every asked trial had an invalid config
                    continue
                if skipped < self.settings.max_skipped and self._cheapest() <= self.ledger.remaining():
                    # a cheaper configuration has been seen (another rung, a smaller fraction): ask again
                    skipped += 1
                    self.carry = None
                    self._not_launched(unfit.number, "its reservation does not fit the budget")
                    log.info(f"Trial {unfit.number} skipped: predicted {self._cost(unfit)} does not fit "
                             f"({skipped}/{self.settings.max_skipped} skips)")
                    continue
                self.stopped = (f"budget exhausted: trial {unfit.number} needs {self._cost(unfit)} "
                                f"and {format_cost(self.ledger.remaining(), self.unit)} {self.unit} remain")
                log.info(f"Stopping: {self.stopped}")
                return
            skipped = 0
            results = self._launch(batch)
            done += len(batch)
            self._check_failures(failed, batch, results)
            self._log_progress(done)
        self.stopped = f"n_trials reached ({done}/{self.n_trials})"

    def check_predictable(self) -> None:
        """A clear error before any trial when no cost can be predicted (an app without a plan)."""
        if self.s.plan_run is None:
            try:
                self.s.cost_model.predict(None, self._load_history())
            except CostModelError as exc:
                raise ValueError(str(exc)) from None

    def _fill(self, wanted: int):
        """Ask and reserve up to n_jobs trials. Returns (reserved batch, trials that failed
        planning, the trial that did not fit or None)."""
        size = min(self.s.n_jobs, wanted)
        batch: List[_Trial] = []
        failed: List[_Trial] = []
        while len(batch) + len(failed) < size:
            if self.carry is not None:  # predicted before the last batch: predict again, calibrated by it
                item, self.carry = self.carry, None
                item.prediction = self.s.cost_model.predict(item.work, self.history)
            else:
                item = self._ask()
            if item.error is not None:
                self._fail_unlaunched(item)
                failed.append(item)
                continue
            reserved = self.ledger.reserve(item.number, item.prediction.cost, label=item.label,
                                           job_dir=item.job_dir)
            if not reserved:
                if not item.waiting:
                    # it waits unreserved: name its owner, so a resumed sweep knows it is not orphaned
                    item.trial.set_user_attr(OWNER_ATTR, self.s.owner)
                    item.waiting = True
                self.carry = item  # it may fit once the batch in flight has been charged
                return batch, failed, (item if not batch else None)
            item.identity = self._identity(item)
            batch.append(item)
        return batch, failed, None

    def _ask(self) -> _Trial:
        trial = self.study.ask()
        for name, distribution in self.space.distributions.items():
            trial._suggest(name, distribution)
        for name, value in self.space.fixed.items():
            trial.set_user_attr(name, value)
        if self.s.custom_search_space is not None:
            self.s.custom_search_space(self.s.config, trial)
        attrs = trial.user_attrs.keys() if self.s.custom_search_space is not None else self.space.fixed.keys()
        overlap = trial.params.keys() & attrs
        if overlap:
            raise ValueError("Overlapping fixed parameters and search space parameters found! "
                             f"Overlapping parameters: {sorted(overlap)}")
        overrides = [f"{name}={format_value(value)}" for name, value in trial.params.items()]
        overrides += [f"{name}={value}" for name, value in self.space.fixed.items()]  # as written
        item = _Trial(trial, overrides)
        self._plan(item)
        return item

    def _plan(self, item: _Trial) -> None:
        """Compose the trial's config as the launcher will, plan it, predict its cost."""
        cfg = None
        if self.s.plan_run is not None:
            try:
                cfg = self.s.hydra_context.config_loader.load_sweep_config(self.s.config, list(item.overrides))
                plan = self.s.plan_run(cfg, list(item.overrides), count_flops=self.unit != "examples")
            except Exception as exc:  # budgetsweep.plan.ConfigError, or a composition error
                item.error = f"{type(exc).__name__}: {exc}"
                return
            item.label, item.config_key = plan.reduction_label, plan.config_key
            item.work = Work(plan.reduction_label, examples=plan.examples, flops=plan.flops)
        item.job_dir = self._job_dir(cfg if cfg is not None else self.s.config, item.number)
        item.prediction = self.s.cost_model.predict(item.work, self.history)
        known = self._least_work.get(item.label)
        if item.work is not None and (known is None or (item.work.flops or 0, item.work.examples or 0)
                                      < (known.flops or 0, known.examples or 0)):
            self._least_work[item.label] = item.work

    def _cheapest(self) -> float:
        """The predicted cost, under the model as calibrated now, of the cheapest configuration
        seen so far: while it fits, a trial that does not fit is skipped rather than the sweep
        stopped (the sampler may propose a smaller rung next)."""
        works = list(self._least_work.values()) or [None]
        return min(self.s.cost_model.predict(work, self.history).cost for work in works)

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
        TrialLink's keys. One dict-valued override, since Hydra parses each override per job."""
        fields = {"number": str(item.number), "study_name": quote(self.study.study_name),
                  "storage": quote(self.job_url), "unit": self.unit,
                  "reservation": repr(float(item.prediction.cost)), "tolerance": repr(float(self.settings.tolerance))}
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
        trial_id = item.trial._trial_id if item is not None else \
            self.study._storage.get_trial_id_from_study_id_trial_number(self.study._study_id, number)
        label = result.label or (item.label if item else None) or "default"
        cost = {"unit": self.unit, "predicted": predicted, "actual": result.actual,
                "basis": item.prediction.basis if item and item.prediction else None, **result.measured}
        attrs = {"record_path": result.record_path, "config_key": result.config_key or (item and item.config_key),
                 "reduction_label": label, "cost": cost, "status": result.status}
        if note:
            attrs["note"] = note
        if result.error:
            attrs["error"] = result.error[:2000]
        for key, value in attrs.items():
            self.study._storage.set_trial_user_attr(trial_id, key, value)
        self.history.append(Observation(label, result.actual,
                                        completed=result.state == outcomes.COMPLETE,
                                        flops=result.measured.get("flops", 0.0),
                                        device_seconds=result.measured.get("device_seconds", 0.0)))
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

    def _not_launched(self, number: int, why: str) -> None:
        trial_id = self.study._storage.get_trial_id_from_study_id_trial_number(self.study._study_id, number)
        self.study._storage.set_trial_user_attr(trial_id, "status", NOT_LAUNCHED)
        self.study._storage.set_trial_user_attr(trial_id, "note", why)
        self._tell(number, TrialState.FAIL)

    def _fail_unlaunched(self, item: _Trial) -> None:
        log.warning(f"Failed experiment: trial {item.number} was not launched, its config cannot run: {item.error}")
        self.study._storage.set_trial_user_attr(item.trial._trial_id, "status", INVALID_CONFIG)
        self.study._storage.set_trial_user_attr(item.trial._trial_id, "error", item.error[:2000])
        self._tell(item.number, TrialState.FAIL)

    def _check_direction(self, result: outcomes.Outcome) -> None:
        if (self.n_objectives == 1 and result.direction and not self._warned_direction
                and result.direction != self.s.directions[0]):
            self._warned_direction = True
            log.warning(f"The job's objective is to {result.direction}, but hydra.sweeper.direction="
                        f"{self.s.directions[0]}; set hydra.sweeper.direction={result.direction} if that is meant")

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

    def _log_progress(self, done: int) -> None:
        spent, held = self.ledger.totals()
        limit = self.settings.limit
        log.info(f"Trials {done}/{self.n_trials} done; budget spent {format_cost(spent, self.unit)} of "
                 f"{format_cost(limit, self.unit)} {self.unit} ({100 * (limit - spent - held) / limit:.1f}% remaining)")

    # -- the end ----------------------------------------------------------------------------------
    def finish(self) -> None:
        if self.carry is not None:
            self._not_launched(self.carry.number, "its reservation does not fit the budget")
            self.carry = None
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
        from budgetsweep.records import write_json_atomic

        trials = {}
        for t in self.study.get_trials(deepcopy=False):
            cost = t.user_attrs.get("cost") or {}
            trials[t.number] = {"state": t.state.name, "status": t.user_attrs.get("status"),
                                "label": t.user_attrs.get("reduction_label"), "basis": cost.get("basis")}
        spent, held = self.ledger.totals()
        summary = build_summary(
            study_name=self.study.study_name, storage=mask(self.url), unit=self.unit, limit=self.settings.limit,
            tolerance=self.settings.tolerance, spent=spent, reserved=held, charges=self.ledger.charges(),
            trials=trials, n_trials=self.n_trials, stopped=self.stopped)
        write_json_atomic(sweep_dir / "budget_summary.json", summary)
        log.info("Budget summary (budget_summary.json):\n" + summary_table(summary))
