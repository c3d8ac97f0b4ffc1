"""Before a trial is reserved: its config composed as the launcher will, its plan, its predicted
cost, and where its job will write (the budget sweeper's planning step).

``TrialPlanner`` is handed what it needs (the sweep's config, Hydra's config loader, the planner
function, the cost model), so its prediction and job-directory logic is tested without a sweep.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from budgetsweep.budget.cost_model import CostModel, CostModelError, Observation, Prediction, Work
from budgetsweep.budget.trial_config import TrialComposer
from budgetsweep.budget.units import Unit

NO_PREDICTION = "none (no budget limit)"


@dataclass
class PlannedTrial:
    """A trial between ask and tell. ``trial``: the Optuna trial."""

    trial: Any
    overrides: list[str]
    work: Optional[Work] = None
    prediction: Optional[Prediction] = None
    label: str = "default"
    config_key: Optional[str] = None
    job_dir: Optional[str] = None
    error: Optional[str] = None  # the config cannot run: the trial fails unlaunched
    identity: list[str] = field(default_factory=list)
    waiting: bool = False  # asked, did not fit, waits for the next batch
    why: Optional[str] = None  # why it was not launched
    tolerance: float = 0.0  # the part of the settings' tolerance the ledger holds for it

    @property
    def number(self) -> int:
        return self.trial.number


def contiguous(batch: Sequence[PlannedTrial]) -> list[list[PlannedTrial]]:
    """Runs of consecutive trial numbers: each is launched with initial_job_idx = its first number,
    so a job's number (and its directory) is its trial's number."""
    groups: list[list[PlannedTrial]] = []
    for item in batch:
        if groups and groups[-1][-1].number + 1 == item.number:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


class TrialPlanner:
    """``config``: the sweep's config (a DictConfig with ``hydra.sweep``); ``config_loader``:
    Hydra's (``load_sweep_config``), or None; ``plan_run``: ``budgetsweep.plan.plan_run`` for apps
    it can plan, or None; ``capped``: a budget limit is set (else nothing is predicted or planned);
    ``fixed``: the overrides every trial carries after its swept ones (composed once, not per trial);
    ``launch_composer``: the ``TrialComposer`` the launcher composes each job with, in this process
    (``compose_memo.launch_composer``), or None: given one, a trial is planned on the config it composes
    and that config is handed over to the trial's launch (one composition per trial, not two)."""

    def __init__(self, *, config: Any, config_loader: Any, plan_run: Optional[Callable], cost_model: CostModel,
                 capped: bool, unit: str, fixed: Sequence[str] = (), launch_composer: Optional[TrialComposer] = None
                 ) -> None:
        from omegaconf import OmegaConf

        self.config, self.config_loader, self.plan_run = config, config_loader, plan_run
        self.composer = launch_composer or TrialComposer(config=config, config_loader=config_loader, fixed=fixed)
        self._hand_over = launch_composer is not None
        self.cost_model, self.capped, self.unit = cost_model, capped, unit
        sweep = config.hydra.sweep
        self._sweep_dir = str(sweep.dir)
        self._plain_subdir = OmegaConf.to_container(sweep, resolve=False).get("subdir") == "${hydra.job.num}"
        self._least_work: dict[str, Work] = {}  # per label, the least work of a trial seen so far

    def plan(self, item: PlannedTrial, history: Sequence[Observation]) -> None:
        """Compose the trial's config as the launcher will, plan it, predict its cost. Without a
        budget limit nothing is predicted, so nothing is planned: the job's record names its
        reduction label and config key, and a config that cannot run fails in the job."""
        cfg = None
        if self.plan_run is not None and self.capped:
            try:
                cfg = self.composer.compose(item.overrides)
                plan = self.plan_run(cfg, list(item.overrides), count_flops=self.unit != Unit.EXAMPLES)
            except Exception as exc:  # budgetsweep.plan.ConfigError, or a composition error
                item.error = f"{type(exc).__name__}: {exc}"
                return
            item.label, item.config_key = plan.reduction_label, plan.config_key
            item.work = Work(plan.reduction_label, examples=plan.examples, flops=plan.flops,
                             eval_flops=getattr(plan, "eval_flops", None) or 0.0)
        item.job_dir = self.job_dir(cfg if cfg is not None else self.config, item.number)
        if cfg is not None and self._hand_over:  # planned: the launch derives the job's config from it
            self.composer.hand_over(item.overrides, cfg)
        item.prediction = self.predict(item.work, history)
        known = self._least_work.get(item.label)
        if item.work is not None and (known is None or (item.work.flops or 0, item.work.examples or 0)
                                      < (known.flops or 0, known.examples or 0)):
            self._least_work[item.label] = item.work

    def predict(self, work: Optional[Work], history: Sequence[Observation]) -> Prediction:
        if not self.capped:  # nothing is reserved, nothing to predict: the charge is what was measured
            return Prediction(0.0, NO_PREDICTION)
        return self.cost_model.predict(work, history)

    def check_predictable(self, history: Sequence[Observation]) -> None:
        """ValueError before any trial when no cost can be predicted (an app without a plan)."""
        if self.plan_run is None and self.capped:
            try:
                self.cost_model.predict(None, history)
            except CostModelError as exc:
                raise ValueError(str(exc)) from None

    def cheapest(self, history: Sequence[Observation]) -> float:
        """The predicted cost, under the model as calibrated now, of the cheapest configuration
        seen so far: while it fits, a trial that does not fit is skipped rather than the sweep
        stopped (the sampler may propose a smaller rung next)."""
        works = list(self._least_work.values()) or [None]
        return min(self.predict(work, history).cost for work in works)

    def job_dir(self, cfg: Any, number: int) -> Optional[str]:
        """Where the launcher will put this trial's job, resolved as Hydra's run_job does."""
        if self._plain_subdir:  # the usual ${hydra.job.num}: no need to resolve a config copy
            return os.path.abspath(os.path.join(self._sweep_dir, str(number)))
        from hydra.core.hydra_config import HydraConfig
        from omegaconf import OmegaConf, open_dict

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
