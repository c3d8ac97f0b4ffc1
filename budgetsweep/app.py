"""``budgetsweep``: the Hydra app. compose -> plan (recipe, reductions) -> train -> record.

The Hydra main only returns the objective; ``run`` does the work, so a failure in one job of a
multirun is recorded and the multirun goes on.
"""
from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from budgetsweep.plan import ConfigError, RunPlan, plan_run
from budgetsweep.records import Objective
from budgetsweep.run_context import RunContext
from budgetsweep.storage_url import mask_overrides
from budgetsweep.tasks.base import objective_direction

log = logging.getLogger("budgetsweep")


def _trial_link(cfg: DictConfig):
    node = cfg.get("budgetsweep", {}).get("trial") if cfg.get("budgetsweep") else None
    if not node:
        return None, None
    from budgetsweep.budget.trial_link import TrialLink  # only sweeps by the budget sweeper need Optuna

    return TrialLink.from_config(node), node


def identity(plan: RunPlan, overrides: list[str], trial_node) -> dict:
    ident = {
        "config_key": plan.config_key,
        "config": plan.config,
        "overrides": mask_overrides(overrides),
        "recipe": plan.recipe.to_dict(),
        "full_recipe": plan.full_recipe.to_dict(),
        "reductions": plan.described,
        "reduction_label": plan.reduction_label,
        "seed": plan.recipe.seed,
        "predicted_factor": plan.predicted_factor,
    }
    if trial_node is not None:
        from budgetsweep.storage_url import mask_url

        ident["trial"] = {"number": int(trial_node.number), "study_name": str(trial_node.study_name),
                          "storage": mask_url(str(trial_node.storage))}
        ident["predicted"] = {"unit": str(trial_node.unit), "value": float(trial_node.reservation)}
    return ident


def run(cfg: DictConfig, run_dir: str | Path, overrides: list[str]) -> float:
    """One job. Raises ConfigError before any compute for bad input; records everything else."""
    plan = plan_run(cfg, overrides)
    link, trial_node = _trial_link(cfg)
    from budgetsweep.train import train  # torch import after validation: bad input fails fast

    objective = Objective(plan.task.objective, objective_direction(plan.task.objective))
    device = plan.recipe.train.device
    ctx = RunContext(run_dir, objective=objective, identity=identity(plan, overrides, trial_node),
                     trial_link=link, device_kind=_device_kind(device))
    with ctx:
        result = train(plan.recipe, plan.task, ctx)
        ctx.info = {**(result_info(plan)), "steps": result.steps, "flops_per_example": result.flops_per_example}
        ctx.measured.peak_memory_mb = round(result.peak_memory_mb, 3)
        ctx.measured.peak_memory_source = result.peak_memory_source
        if plan.recipe.train.save_checkpoint:
            ctx.artifacts["checkpoint"] = _save_checkpoint(result.model, run_dir)
        ctx.finish(result.metrics)
    log.info("%s %s: %s=%s (%s)", plan.reduction_label, ctx.status, objective.name, ctx.objective.value,
             ", ".join(f"{k}={v:.4g}" for k, v in ctx.metrics.items() if k.startswith("test_")))
    return ctx.objective_value()


def result_info(plan: RunPlan) -> dict:
    return {"n_train_full": plan.n_train_full, "planned_examples": plan.examples}


def _device_kind(name: str) -> str:
    import torch

    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.cuda.get_device_name(0)
    return "cpu"


def _save_checkpoint(model, run_dir) -> str:
    import torch

    path = Path(run_dir) / "checkpoint.pt"
    torch.save(model.state_dict(), path)  # a state dict: loadable with weights_only=True
    return str(path)


@hydra.main(version_base=None, config_path="pkg://budgetsweep.conf", config_name="config")
def main(cfg: DictConfig) -> float:
    hc = HydraConfig.get()
    overrides = list(hc.overrides.task)
    multirun = hc.mode == RunMode.MULTIRUN
    try:
        return run(cfg, hc.runtime.output_dir, overrides)
    except ConfigError as exc:
        # bad input: one paragraph, non-zero exit, no record, no traceback
        print(f"budgetsweep: invalid configuration: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        if not multirun:
            raise
        log.error("job failed (%s: %s); its record says so and the multirun goes on", type(exc).__name__, exc)
        return math.nan


if __name__ == "__main__":
    main()
