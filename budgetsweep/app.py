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

from budgetsweep.loggers import build_loggers
from budgetsweep.plan import ConfigError, plan_run
from budgetsweep.recipe import FORWARD_SHARE
from budgetsweep.records import Objective
from budgetsweep.run_context import RunContext, record_config_error, trial_link_from
from budgetsweep.tasks.base import objective_direction

log = logging.getLogger("budgetsweep")


def run(cfg: DictConfig, run_dir: str | Path, overrides: list[str], keep_going: bool = False) -> float:
    """One job. Raises ConfigError before any compute for bad input; records everything else."""
    plan = plan_run(cfg, overrides)
    link, trial_node = trial_link_from(cfg)
    from budgetsweep.train import train  # torch import after validation: bad input fails fast
    from budgetsweep.train.measure import peak_flops

    _check_device(plan.recipe.train)

    objective = Objective(plan.task.objective, objective_direction(plan.task.objective))
    ctx = RunContext(run_dir, plan, objective=objective, overrides=overrides, trial_link=link,
                     trial_node=trial_node, device_kind=_device_kind(plan.recipe.train.device),
                     keep_going=keep_going, loggers=build_loggers(cfg.get("logger")))
    baseline = getattr(plan.task, "trivial_baseline", None)  # the learned verdict's reference
    ctx.baseline = baseline() if callable(baseline) else None
    with ctx:
        if plan.guards.noise_scale:  # opt-in: B_simple at the start, its work counted as planned
            _measure_noise_scale(plan, ctx)
        result = train(plan.recipe, plan.task, ctx, label=_job_label(link))
        ctx.info.update({"n_train_full": plan.n_train_full, "planned_examples": plan.examples,
                         "steps": result.steps, "flops_per_example": result.flops_per_example,
                         **result.info})  # the task's facts; transfer's tensors, the teacher, curriculum scores
        # evaluation as planned (eval_examples above is what the loop evaluated): the time model
        # calibrates on training + evaluation FLOPs (budgetsweep.budget.time_model)
        ctx.info.update({"evaluations": plan.evaluations, "eval_every": plan.recipe.train.eval_every,
                         "planned_eval_examples": plan.eval_examples,
                         "eval_flops": plan.eval_examples * result.flops_per_example * FORWARD_SHARE})
        if "tokens_per_example" in ctx.info:  # a sequence task: its input elements are tokens
            ctx.info["tokens"] = result.input_elements
            peak = peak_flops(ctx.measured.device_kind, plan.recipe.train.precision)
            if peak and "flops_per_token" in ctx.info and ctx.measured.wall_seconds > 0:
                # a lower bound: the wall time includes set-up and evaluation
                ctx.info["mfu"] = ctx.info["flops_per_token"] * result.input_elements / ctx.measured.wall_seconds / peak
        ctx.measured.peak_memory_mb = round(result.peak_memory_mb, 3)
        ctx.measured.peak_memory_source = result.peak_memory_source
        if plan.recipe.train.save_checkpoint:
            ctx.artifacts["checkpoint"] = _save_checkpoint(result.model, run_dir)
        ctx.finish(result.metrics)
    value = ctx.objective.value  # 4 significant digits to read; record.json keeps every digit
    log.info("%s %s: %s=%s (%s)", plan.reduction_label, ctx.status, objective.name,
             f"{value:.4g}" if isinstance(value, (int, float)) else value,
             ", ".join(f"{k}={v:.4g}" for k, v in ctx.metrics.items() if k.startswith("test_")))
    return ctx.objective_value()


def _measure_noise_scale(plan, ctx) -> None:
    from budgetsweep.guards import critical_batch
    from budgetsweep.train.noise_scale import measure_for_run

    found = measure_for_run(plan.recipe, plan.task, plan.guards.noise_scale_batches)
    ctx.add_cost(examples=found["examples"], flops=found["examples"] * (plan.flops_per_example or 0.0))
    ctx.info["noise_scale"] = found
    ctx.warn(*critical_batch(plan.recipe.batch_for(plan.n_train_full), found))
    log.info("gradient noise scale B_simple=%s at batch %d (guards.noise_scale)", found["b_simple"],
             found["big_batch"])


def _check_device(train_cfg) -> None:
    """train.device=cuda or fp16 (train.precision, mixed_precision's dtype) on a machine without CUDA: one
    message before any compute, as for other bad input, where torch would fail inside the run."""
    from budgetsweep.train.precision import check_precision, resolve_device

    try:
        check_precision(train_cfg.precision, resolve_device(train_cfg.device))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _device_kind(name: str) -> str:
    import torch

    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.cuda.get_device_name(0)
    return "cpu"


def _job_label(link) -> str:
    """How progress lines name this job: the trial under the budget sweeper, the job number in a
    multirun (parallel launchers interleave jobs in one log), else "train"."""
    if link is not None:
        return f"trial {link.number}"
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return f"job {HydraConfig.get().job.num}"
    return "train"


def _save_checkpoint(model, run_dir) -> str:
    import torch

    path = Path(run_dir) / "checkpoint.pt"
    torch.save(model.state_dict(), path)  # a state dict: loadable with weights_only=True
    return str(path)


@hydra.main(version_base=None, config_path="pkg://budgetsweep.conf", config_name="config")
def hydra_main(cfg: DictConfig) -> float:
    hc = HydraConfig.get()
    overrides = list(hc.overrides.task)
    try:
        # in a multirun a failed job is recorded and returns NaN, so the other jobs go on
        return run(cfg, hc.runtime.output_dir, overrides, keep_going=hc.mode == RunMode.MULTIRUN)
    except ConfigError as exc:
        if hc.mode == RunMode.MULTIRUN:  # exiting would end the whole sweep: this job alone fails
            log.error("invalid configuration, job skipped: %s", exc)
            record_config_error(hc.runtime.output_dir, cfg, overrides, exc)
            return math.nan
        # bad input: one paragraph, non-zero exit, no record, no traceback, and no output left behind
        print(f"budgetsweep: invalid configuration: {exc}", file=sys.stderr)
        _remove_job_outputs(hc)
        sys.exit(2)


def _remove_job_outputs(hc) -> None:
    """Undo what Hydra wrote for a single run that never started: its log file (``app.log``, still open),
    its ``.hydra`` config copies, and the run folder if nothing else is in it. Files that were there
    before are not touched (the folder is removed only when empty)."""
    import logging

    out = Path(hc.runtime.output_dir).resolve()
    for logger in (logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))):
        for handler in list(getattr(logger, "handlers", ())):
            name = getattr(handler, "baseFilename", None)
            if name and Path(name).resolve().parent == out:
                logger.removeHandler(handler)
                handler.close()
                Path(name).unlink(missing_ok=True)
    subdir = hc.output_subdir
    if subdir:
        hydra_dir = out / subdir
        for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
            (hydra_dir / name).unlink(missing_ok=True)
        _rmdir_if_empty(hydra_dir)
    _rmdir_if_empty(out)


def _rmdir_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:  # not empty (or gone): leave it
        pass


HELP_FLAGS = ("--help", "-h")


def app_help() -> str:
    """``budgetsweep --help``: the config groups and their options, read from the package's ``conf/``.

    Hydra's own help composes the configuration once per config group of every installed Hydra plugin
    (seconds, whatever the app); this lists the same groups from the files, in milliseconds.
    """
    from importlib.resources import files

    conf = files("budgetsweep.conf")
    groups = sorted((d.name, sorted(f.name[:-5] for f in d.iterdir() if f.name.endswith(".yaml")))
                    for d in conf.iterdir() if d.is_dir() and not d.name.startswith(("_", ".")))
    lines = ["budgetsweep: one training run (or a sweep with -m) of a full recipe and its proxies.", "",
             "Usage: budgetsweep [--multirun|-m] [group=option ...] [key=value ...]", "",
             "== Configuration groups ==", "Compose your configuration from those groups (group=option)", ""]
    lines += [f"{name}: {', '.join(options)}" for name, options in groups if options]
    lines += ["", "Budget-capped search: hydra/sweeper=budget (see docs/sweeper.md).", "",
              "== Primary config (conf/config.yaml) ==", conf.joinpath("config.yaml").read_text().rstrip(), "",
              "Print the composed config: budgetsweep --cfg job [overrides]", "Hydra's own flags: budgetsweep --hydra-help"]
    return "\n".join(lines)


def main():
    """The ``budgetsweep`` console script: Hydra's app, with a fast ``--help``."""
    if any(arg in HELP_FLAGS for arg in sys.argv[1:]):
        print(app_help())
        return None
    from budgetsweep.options import (reduction_conflict, sweep_without_multirun, sweeper_without_multirun,
                                     unknown_option)

    # Hydra's own answers are exit 1 and the search path, "Key ... is not in struct" or "Ambiguous value"; a
    # sweeper without -m it ignores (one default job, exit 0)
    args = sys.argv[1:]
    if message := (unknown_option(args) or sweep_without_multirun(args) or sweeper_without_multirun(args)
                   or reduction_conflict(args)):
        print(f"budgetsweep: invalid configuration: {message}", file=sys.stderr)
        sys.exit(2)
    from budgetsweep import config_keys
    from budgetsweep.compose_memo import install

    install()  # one composition per job of a grid instead of Hydra's basic sweeper's two
    config_keys.install(args)  # a typo in a key (optim.lrr=0.1): the allowed keys and exit 2, not Hydra's exit 1
    return hydra_main()


if __name__ == "__main__":
    main()
