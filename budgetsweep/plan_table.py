"""``budgetsweep-plan``: what each recipe of a command would do and cost, before anything trains.

The command line is ``budgetsweep``'s: the same config (or a user's ``--config-path``/
``--config-name``) composed with the same overrides by Hydra's compose API, and with ``-m`` one row
per job of the grid (Hydra's basic sweeper's expansion of comma lists and ranges). Each row is the
job's ``plan_run`` (``plan_user_run`` for a config without ``task``): the recipe after its
reductions, its work (steps, batch, examples, tokens, FLOPs), its evaluations and their cost, its
predicted cost factor per unit against the full recipe of the same configuration, a peak-memory
estimate, and the plan's warnings. Nothing trains and nothing is written.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from omegaconf import DictConfig

from budgetsweep.plan import ConfigError, RunPlan, bound_evaluation, plan_run, plan_user_run
from budgetsweep.recipe import FORWARD_SHARE, Recipe

UNITS = ("examples", "flops", "time")


@dataclass
class Work:
    """What one recipe does: training and evaluation work (FLOPs None where they cannot be counted)."""

    steps: int
    batch: int
    examples: int
    flops: float | None
    evaluations: int
    eval_examples: int | None
    eval_flops: float | None

    @property
    def total_flops(self) -> float | None:
        return None if self.flops is None else self.flops + (self.eval_flops or 0.0)


@dataclass
class PlanRow:
    job: int
    overrides: list[str]
    reduction_label: str
    steps: int
    batch: int
    examples: int
    tokens: int | None
    flops: float | None
    evaluations: int
    eval_every: int
    eval_examples: int | None
    eval_flops: float | None
    eval_share: float | None  # evaluation's share of the run's FLOPs
    factors: dict[str, float | None]  # proxy / full per unit
    seconds: float | None  # predicted wall seconds of the job
    time_basis: str
    memory_mb: float | None  # an estimate
    warnings: list[str] = field(default_factory=list)
    # the warnings about fidelity (a degenerate proxy), not cost: what auto-proxy's default candidates avoid
    fidelity_warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_work(plan: RunPlan) -> Work:
    batch = plan.recipe.batch_for(plan.n_train_full) if plan.task is not None else plan.recipe.train.batch_size
    return Work(plan.steps, batch, plan.examples, plan.flops, plan.evaluations, plan.eval_examples, plan.eval_flops)


def full_work(plan: RunPlan) -> Work:
    """The work of the plan's full recipe (the same configuration without reductions)."""
    full = plan.full_recipe
    if plan.task is None:
        steps = full.run_steps(0) if full.train.steps is not None else 0
        return Work(steps, full.train.batch_size, steps * full.train.batch_size, None,
                    (steps - 1) // full.train.eval_every + 1 if steps else 0, None, None)
    from budgetsweep.plan import _count_flops

    n = plan.n_train_full
    bounded, n_val, n_test = bound_evaluation(plan.task, full, n)
    fpe = _count_flops(plan.task, full) if plan.flops_per_example is not None else None
    examples = full.run_examples(n)
    evaluations = bounded.evaluations(n)
    eval_examples = evaluations * n_val + n_test
    return Work(full.run_steps(n), full.batch_for(n), examples, None if fpe is None else examples * fpe,
                evaluations, eval_examples, None if fpe is None else eval_examples * fpe * FORWARD_SHARE)


def _ratio(a, b) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def memory_estimate(plan: RunPlan) -> float | None:
    """Peak memory of a training step in MiB (an estimate, ``train.measure.estimate_peak_memory_mb``);
    None for a user's own loop, whose model the planner does not know."""
    if plan.task is None:
        return None
    import torch

    from budgetsweep.train.measure import estimate_peak_memory_mb

    recipe, task = plan.recipe, plan.task
    data = task.build_data(recipe)
    with torch.random.fork_rng(devices=[]):
        model = task.build_model(recipe)
    probe = min(4, len(data.train_x))
    o = recipe.optim
    states = 2 if o.name == "adamw" else int(o.momentum > 0)
    batch = recipe.batch_for(plan.n_train_full)
    return estimate_peak_memory_mb(model, task.loss, data.train_x[:probe], data.train_y[:probe], batch,
                                   states)["total_mb"]


def _device_kind(recipe: Recipe) -> str:
    import torch

    if recipe.train.device == "cuda" or (recipe.train.device == "auto" and torch.cuda.is_available()):
        return torch.cuda.get_device_name(0)
    return "cpu"


def plan_row(job: int, cfg: DictConfig, overrides: list[str], varying: list[str], records: str,
             units: tuple[str, ...], full_cache: dict) -> PlanRow:
    """One job's row. Raises ConfigError for a config that cannot run or a unit it cannot count."""
    from budgetsweep.budget import time_model

    own_loop = "task" not in cfg
    if own_loop and "flops" in units:
        raise ConfigError("--units=flops: this config has no `task` (a user's own training loop), whose FLOPs the "
                          "planner cannot count; plan it with --units examples")
    plan = plan_user_run(cfg, overrides) if own_loop else plan_run(cfg, overrides, count_flops="flops" in units
                                                                   or "time" in units)
    work = plan_work(plan)
    # the config key leaves out how often a run evaluates, which changes the full run's work: keep it in
    full_train = plan.full_recipe.train
    key = (plan.config_key, plan.recipe.seed, full_train.eval_every, full_train.eval_budget_share)
    if key not in full_cache:
        full_cache[key] = full_work(plan)
    full = full_cache[key]
    factors: dict[str, float | None] = {"examples": _ratio(work.examples, full.examples)}
    seconds, basis = None, "no FLOPs: time not predicted"
    if "flops" in units:
        factors["flops"] = _ratio(work.flops, full.flops)
    if "time" in units and work.total_flops is not None and full.total_flops is not None:
        model = time_model.calibrated(records, plan.config.get("task", "task"), _device_kind(plan.recipe))
        seconds, basis = model.seconds(work.steps, work.evaluations, work.total_flops), model.basis
        factors["time"] = seconds / model.seconds(full.steps, full.evaluations, full.total_flops)
    elif "time" in units:
        factors["time"] = None
    tokens_per_example = (getattr(plan.task, "stats", None) or {}).get("tokens_per_example")
    share = _ratio(work.eval_flops, work.total_flops)
    warnings = [str(w) for w in getattr(plan, "warnings", ())]  # evaluation above its share among them (guards.py)
    return PlanRow(
        job=job, overrides=varying, reduction_label=plan.reduction_label, steps=work.steps, batch=work.batch,
        examples=work.examples, tokens=None if tokens_per_example is None else work.examples * tokens_per_example,
        flops=work.flops, evaluations=work.evaluations, eval_every=plan.recipe.train.eval_every,
        eval_examples=work.eval_examples, eval_flops=work.eval_flops, eval_share=share, factors=factors,
        seconds=seconds, time_basis=basis, memory_mb=None if own_loop else memory_estimate(plan),
        warnings=warnings, fidelity_warnings=[w for w in warnings if w not in getattr(plan, "cost_warnings", ())])


# -- text -------------------------------------------------------------------------------------------
def _num(value, kind: str = "int") -> str:
    if value is None:
        return "-"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "sci":
        return f"{value:.3g}"
    if kind == "factor":
        return f"{value:.3g}" if value >= 0.01 else f"{value:.2e}"
    if kind == "pct":
        return f"{value:.0%}"
    return str(value)


def format_table(rows: list[PlanRow]) -> str:
    """A plain aligned table, then the warnings (numbered in the table's last column) and the notes
    the numbers need."""
    units = [u for u in UNITS if any(u in r.factors for r in rows)]
    grid = any(r.overrides for r in rows)
    head = ["job", "recipe", *(["overrides"] if grid else []), "steps", "batch", "examples", "tokens", "FLOPs",
            "evals (every)", "eval examples", "eval share", *[f"x {u}" for u in units], "time s", "peak MiB (est.)",
            "warnings"]
    body, notes = [], []
    for r in rows:
        marks = []
        for w in r.warnings:
            if w not in notes:
                notes.append(w)
            marks.append(f"[{notes.index(w) + 1}]")
        body.append([str(r.job), r.reduction_label, *([" ".join(r.overrides)] if grid else []), _num(r.steps),
                     _num(r.batch), _num(r.examples), _num(r.tokens), _num(r.flops, "sci"),
                     f"{r.evaluations} ({r.eval_every})", _num(r.eval_examples), _num(r.eval_share, "pct"),
                     *[_num(r.factors.get(u), "factor") for u in units],
                     "-" if r.seconds is None else f"{r.seconds:.3g}",
                     "-" if r.memory_mb is None else f"{r.memory_mb:.3g}", " ".join(marks) or "-"])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(head), line(["-" * w for w in widths]), *(line(b) for b in body)]
    if notes:
        out += ["", "warnings:", *(f"[{i}] {w}" for i, w in enumerate(notes, 1))]
    bases = sorted({r.time_basis for r in rows if r.seconds is not None})
    out += ["", "x <unit>: predicted cost of the recipe / its full recipe (the same configuration, no reductions);",
            "  examples and FLOPs count training; time counts training, evaluation (a forward pass per example",
            "  evaluated) and per-job overhead. evals (every): evaluations (steps between them).",
            f"time model: {'; '.join(bases) if bases else 'none (no FLOPs)'}.",
            "peak MiB: an estimate (parameters + gradients + optimizer state + activations saved for one batch)."]
    return "\n".join(out)
