"""The training loop: read it top to bottom.

It knows nothing of Hydra or Optuna. It gets a ``reporter`` with two methods,
``add_cost(examples=, flops=)`` and ``report(step, metrics)``; ``report`` may raise to stop
the run (pruned, budget used up), which simply propagates.

It knows no reduction by name. A reduction that changes training beyond its recipe has a runtime
(``budgetsweep.reductions.runtime``) built from its ``recipe.extra`` spec; the loop calls every
runtime's hooks at fixed points: ``prepare`` (given a ``Trainer``, to build auxiliary models),
``training_data``, ``init_model``, ``loss``, ``lr_scales``, ``sampler``, ``view``, ``eval_model``
and ``final_metrics``. Without reductions each hook leaves the run as it is.
"""
from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass, field

import torch

from budgetsweep.recipe import Recipe
from budgetsweep.reductions.runtime import runtimes
from budgetsweep.train.auxiliary import Trainer
from budgetsweep.flops import training_flops_per_example
from budgetsweep.train.measure import SavedTensorMeter, tensor_megabytes
from budgetsweep.train.optim import build_optimizer, param_groups
from budgetsweep.train.progress import Progress
from budgetsweep.train.precision import autocast, check_precision, grad_scaler, resolve_device
from budgetsweep.train.sampling import ShuffledEpochs
from budgetsweep.train.schedules import lr_multiplier

EVAL_CHUNK = 4096
log = logging.getLogger("budgetsweep")


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass
class TrainResult:
    metrics: dict[str, float]
    steps: int
    examples: int
    flops_per_example: float
    peak_memory_mb: float
    peak_memory_source: str
    device: str
    model: torch.nn.Module = field(repr=False)
    info: dict = field(default_factory=dict)  # the task's data facts, then what reductions' runtimes did
    input_elements: int = 0  # elements of the (viewed) training inputs processed: tokens for a sequence task


class TaskLoss:
    """The task's loss, called as every training loss is: ``loss_fn(output, target, inputs)``."""

    def __init__(self, task) -> None:
        self.task = task

    def __call__(self, output, target, inputs):
        return self.task.loss(output, target)


@torch.no_grad()
def evaluate(model, task, x, y, precision, device) -> dict[str, float]:
    """Metrics over a whole split, in chunks; weighted by chunk size."""
    model.eval()
    totals: dict[str, float] = {}
    for start in range(0, len(x), EVAL_CHUNK):
        xb, yb = x[start:start + EVAL_CHUNK], y[start:start + EVAL_CHUNK]
        with autocast(precision, device):
            out = model(xb)
        for name, value in task.metrics(out.float(), yb).items():
            totals[name] = totals.get(name, 0.0) + value * len(xb)
    model.train()
    return {name: value / len(x) for name, value in totals.items()}


def _flops_per_example(recipe: Recipe, task, hooks, model, loss_fn, x0, y0) -> float:
    """Training FLOPs per example: the task's analytic formula where it has one, else counted on the
    run's model and loss on its first batch.

    Without reductions' runtimes (which may change the model or the loss) and for a task with a content
    key, the count is cached per process (``budgetsweep.tasks.cache.FLOPS``) and taken on a copy of the
    model with the random state restored, so a cache hit and a miss leave the run's model and random
    stream alike (a dropout layer or batch-norm statistics never see the counting pass)."""
    # a task's own formula where it has one (charlm's GPT), as the plan counts: planned FLOPs = measured
    analytic = getattr(task, "flops_per_example", None)
    if callable(analytic) and (value := analytic(recipe)):
        return float(value)
    task_key = getattr(task, "cache_key", None)
    loss = lambda out, target: loss_fn(out, target, x0)  # noqa: E731
    if hooks.items or not callable(task_key):
        return training_flops_per_example(model, loss, x0, y0)
    import copy

    from budgetsweep.tasks.cache import FLOPS, content_key, tensor_signature

    def count() -> float:
        with torch.random.fork_rng(devices=[x0.device] if x0.device.type == "cuda" else []):
            return training_flops_per_example(copy.deepcopy(model), loss, x0, y0)

    return FLOPS.get(content_key("train", task_key(), recipe.model, tensor_signature(x0, y0)), count)


def train(recipe: Recipe, task, reporter, *, progress: bool | None = None, label: str = "train") -> TrainResult:
    """Train ``recipe`` on ``task``, reporting cost and metrics to ``reporter``.

    ``progress``: None shows a bar on a terminal and a log line every ``train.log_every_s`` seconds
    elsewhere (budgetsweep.train.progress); True a bar; False nothing. ``label`` names the job there.
    """
    # -- set-up -----------------------------------------------------------------------
    device = resolve_device(recipe.train.device)
    precision = recipe.train.precision
    check_precision(precision, device)
    torch.manual_seed(recipe.seed)
    hooks = runtimes(recipe)  # the runtimes of the recipe's reductions (budgetsweep.reductions.runtime)
    hooks.prepare(Trainer(recipe, task, reporter, device, train, evaluate))  # auxiliary models
    data = hooks.training_data(task.build_data(recipe))  # the task's data, or e.g. a synthetic stand-in
    model = task.build_model(recipe).to(device)
    hooks.init_model(model)  # e.g. load a checkpoint, freeze modules
    loss_fn = hooks.loss(TaskLoss(task))  # task.loss(output, y), or e.g. distillation from a teacher
    x, y = data.train_x.to(device), data.train_y.to(device)
    val_x, val_y = data.val_x.to(device), data.val_y.to(device)
    scales = hooks.lr_scales(model, {name: 1.0 for name, _ in model.named_parameters()})  # e.g. muP
    optimizer = build_optimizer(recipe.optim, param_groups(model, scales))
    scaler = grad_scaler(precision, device)

    n = len(x)
    batch = recipe.batch_for(data.n_train_full)  # a tiny subset cannot fill a large batch
    if n != recipe.train_set_size(data.n_train_full):
        # a task whose build_data does not keep subset_size examples: the plan counted other work
        log.warning("task %s built %d training examples where the recipe plans %d (budgetsweep.tasks.subset); "
                    "planned and measured examples will differ", getattr(task, "name", task), n,
                    recipe.train_set_size(data.n_train_full))
        batch = min(recipe.train.batch_size, n)
    total_steps = recipe.run_steps(data.n_train_full)
    schedule_steps = recipe.schedule_steps(data.n_train_full)
    t = recipe.train
    sampler = hooks.sampler(ShuffledEpochs(n, batch, recipe.seed, device), x, y, batch, total_steps)
    for_eval = hooks.eval_model  # the model itself, or e.g. a quantized copy
    x0, y0 = x[:batch], y[:batch]
    flops_per_example = _flops_per_example(recipe, task, hooks, model, loss_fn, x0, y0)
    example_size = x[0].numel()  # flops scale with the size of the viewed input
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    saved = SavedTensorMeter()

    # -- loop -------------------------------------------------------------------------
    running, seen_since_eval, examples, input_elements = torch.zeros((), device=device), 0, 0, 0
    evaluated = 0  # examples evaluated (forward passes), which the plan prices as evaluation
    metrics: dict[str, float] = {}
    # a with block: the final progress line is written even when a prune or budget stop ends the loop
    with Progress(total_steps, mode={None: "auto", True: "bar", False: "off"}[progress], every_s=t.log_every_s,
                  label=label, objective=getattr(task, "objective", None)) as meter:
        for step in range(total_steps):
            idx = sampler.next(step)  # shuffled epochs, or a curriculum's paced draw
            x_b, y_b = hooks.view(x[idx], y[idx], step, total_steps)  # e.g. a cheaper view early on
            lr = recipe.optim.lr * lr_multiplier(step, schedule=t.schedule, length=schedule_steps,
                                                 warmup=t.warmup_steps, cooldown_fraction=t.cooldown_fraction,
                                                 min_ratio=t.min_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = lr * group["lr_scale"]

            with saved.hooks() if step == 0 else contextlib.nullcontext():
                with autocast(precision, device):
                    loss = loss_fn(model(x_b), y_b, x_b)
                if scaler is not None:
                    scaler.scale(loss).backward()
                else:
                    loss.backward()
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)

            running += loss.detach().float()
            seen_since_eval += 1
            examples += batch
            input_elements += x_b.numel()
            reporter.add_cost(examples=batch, flops=flops_per_example * (x_b.numel() / example_size))

            last = step + 1 == total_steps
            if (step + 1) % t.eval_every == 0 or last:
                train_loss = float(running) / seen_since_eval  # one sync per evaluation, not per step
                if not math.isfinite(train_loss):
                    raise NonFiniteLoss(f"training loss is {train_loss} at step {step + 1} (lr={lr:.3g})")
                val = evaluate(for_eval(model), task, val_x, val_y, precision, device)
                evaluated += len(val_x)
                metrics = {"train_loss": train_loss, **{f"val_{k}": v for k, v in val.items()}}
                if not all(math.isfinite(v) for v in val.values()):
                    raise NonFiniteLoss(f"validation metrics are not finite at step {step + 1}: {val}")
                meter.update(step + 1, metrics)  # before the report: a prune there still shows this step
                reporter.report(step + 1, {"epoch": examples / n, "lr": lr, **metrics})
                running, seen_since_eval = torch.zeros((), device=device), 0
            else:
                meter.update(step + 1)

    # -- final metrics ----------------------------------------------------------------
    if data.test_x is not None:
        test = evaluate(for_eval(model), task, data.test_x.to(device), data.test_y.to(device), precision, device)
        evaluated += len(data.test_x)
        metrics.update({f"test_{k}": v for k, v in test.items()})
    metrics.update(hooks.final_metrics(model, metrics, val_x, val_y))
    if device.type == "cuda":
        peak, source = torch.cuda.max_memory_allocated(device) / 2**20, "cuda_allocator"
    else:
        state = [s for st in optimizer.state.values() for s in st.values() if torch.is_tensor(s)]
        # parameters + gradients + optimizer state + activations saved for backward
        peak = 2 * tensor_megabytes(model.parameters()) + tensor_megabytes(state) + saved.bytes / 2**20
        source = "autograd_saved_tensors"
    return TrainResult(metrics=metrics, steps=total_steps, examples=examples,
                       flops_per_example=flops_per_example, peak_memory_mb=peak,
                       peak_memory_source=source, device=device.type, model=model,
                       info={**(data.info or {}), **hooks.info, "eval_examples": evaluated},
                       input_elements=input_elements)

