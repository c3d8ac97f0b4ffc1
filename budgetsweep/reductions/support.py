"""Helpers shared by the reductions of issue 5; not a strategy itself.

- ``ExplainedReduction``: a reduction whose predicted factor comes with a one-line reason, written
  into its description (the run record), so a factor above 1 is never unexplained.
- Probing a recipe (``task_for``, ``training_flops``, ``forward_flops``, ``n_train_seen``): predicted
  factors of model-changing reductions are counted, not guessed: the task named by
  ``recipe.task._target_`` builds its model and two training examples, and ``FlopCounterMode`` counts
  what the training loop counts (``training_flops``: the task's analytic formula where it has one,
  else a forward and backward pass through the task's loss) or a forward pass alone
  (``forward_flops``: a frozen teacher's or a scorer's inference, nothing else).
- ``scaled_model``: a model config with its width and depth keys multiplied.
- ``resolve_checkpoint``: a run directory, its ``record.json`` or a checkpoint file -> the
  checkpoint path and the model config that trained it.
- ``cache_key`` / ``cache_file``: content-addressed files for artifacts a run builds once and
  reuses (a distillation teacher, curriculum scores). JSON and ``.npy``/state dicts only.

Nothing here trains a model: a reduction's runtime does that in its prepare step, with the trainer
the loop gives it (``budgetsweep.reductions.runtime``).
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
from pathlib import Path
from typing import Any

from budgetsweep.dotted import get_object
from budgetsweep.recipe import HOW_NOT_WHAT, Recipe
from budgetsweep.reductions.base import Reduction

# extras that change what the training set is: a scorer trained for a run keeps them
DATA_EXTRAS = ("synthetic_data",)
# how a model config names its width and depth (built-in MLP/CNN; GPT-style names for sequence models)
WIDTH_KEYS = ("hidden", "channels", "n_embd", "d_model", "width")
DEPTH_KEYS = ("depth", "n_layer", "n_layers", "num_layers")
HEAD_KEYS = ("n_head", "n_heads", "num_heads")  # a width that is split into heads stays divisible


class ExplainedReduction(Reduction):
    """A reduction whose ``estimate`` gives the predicted factor and the reason for it."""

    def estimate(self, recipe: Recipe) -> tuple[float, str]:
        raise NotImplementedError

    def predicted_cost_factor(self, recipe: Recipe) -> float:
        return self.estimate(recipe)[0]

    def describe(self, recipe: Recipe) -> dict[str, Any]:
        factor, reason = self.estimate(recipe)
        out = super().describe(recipe)
        out["predicted_cost_factor"] = factor
        out["reason"] = reason
        return out


def with_extra(recipe: Recipe, name: str, spec: dict[str, Any], **sections: Any) -> Recipe:
    """A new recipe with ``recipe.extra[name] = spec`` (and other sections changed); never mutates."""
    return recipe.evolve(extra={**recipe.extra, name: spec}, **sections)


# -- probing a recipe ---------------------------------------------------------------------------
def _target(path: str):
    try:
        return get_object(path)
    except (ImportError, ValueError, AttributeError):
        raise ValueError(f"_target_={path!r} cannot be imported") from None


def task_class(recipe: Recipe):
    """The task's class from ``recipe.task._target_``, or None when the recipe names none."""
    target = recipe.task.get("_target_")
    return _target(target) if target else None


@functools.lru_cache(maxsize=8)
def _task(task_json: str):
    from hydra.utils import instantiate  # as plan.py builds it; reductions are not train/

    return instantiate(json.loads(task_json))


def task_for(recipe: Recipe):
    """The task instance a recipe describes (cached per task config), or None without ``_target_``."""
    if not recipe.task.get("_target_"):
        return None
    return _task(json.dumps(recipe.task, sort_keys=True, default=str))


@functools.lru_cache(maxsize=64)
def _probe_batch(task_json: str, data_json: str):
    recipe = Recipe(task=json.loads(task_json), model={}).evolve(data=json.loads(data_json))
    data = task_for(recipe).build_data(recipe)
    return data.train_x[:2], data.train_y[:2]


def probe_batch(recipe: Recipe):
    """Two training examples of the recipe's task and data (cached), or None without a task."""
    if task_for(recipe) is None:
        return None
    return _probe_batch(json.dumps(recipe.task, sort_keys=True, default=str),
                        json.dumps(recipe.to_dict()["data"], sort_keys=True))


@functools.lru_cache(maxsize=64)
def _forward_flops(task_json: str, model_json: str, data_json: str) -> float:
    import torch

    from budgetsweep.flops import forward_flops_per_example

    recipe = Recipe(task=json.loads(task_json), model=json.loads(model_json)).evolve(data=json.loads(data_json))
    x, _ = probe_batch(recipe)
    with torch.random.fork_rng(devices=[]):  # building a model draws its initial weights
        model = task_for(recipe).build_model(recipe)
    return float(forward_flops_per_example(model, x[:1]))


def forward_flops(recipe: Recipe) -> float | None:
    """Forward FLOPs of one example through the recipe's model in inference (eval mode, no gradients):
    what a frozen teacher or a scorer spends per example. Training is ``training_flops``, never a
    multiple of this. None when it cannot be counted."""
    if task_for(recipe) is None or not recipe.model.get("_target_"):
        return None
    flops = _forward_flops(json.dumps(recipe.task, sort_keys=True, default=str),
                           json.dumps(recipe.model, sort_keys=True, default=str),
                           json.dumps(recipe.to_dict()["data"], sort_keys=True))
    return flops if flops > 0 else None


@functools.lru_cache(maxsize=64)
def _training_flops(task_json: str, model_json: str, data_json: str) -> float:
    import torch

    from budgetsweep.flops import training_flops_per_example

    recipe = Recipe(task=json.loads(task_json), model=json.loads(model_json)).evolve(data=json.loads(data_json))
    task = task_for(recipe)
    x, y = probe_batch(recipe)
    with torch.random.fork_rng(devices=[]):  # building a model draws its initial weights
        model = task.build_model(recipe)
        return training_flops_per_example(model, task.loss, x, y)


def training_flops(recipe: Recipe) -> float | None:
    """Training FLOPs (forward + backward) of one example of the recipe's model, counted as the training
    loop and ``budgetsweep-plan`` count them (``budgetsweep.train.loop``): the task's analytic
    ``flops_per_example(recipe)`` where it has one (charlm's GPT), else ``FlopCounterMode`` over the
    task's loss and its backward pass on two training examples. A ratio of these is the FLOPs factor
    the run measures; a ratio of forward FLOPs is not (the first layer's backward pass computes no
    input gradient, so the backward/forward ratio depends on the width). None when it cannot be counted."""
    task = task_for(recipe)
    if task is None or not recipe.model.get("_target_"):
        return None
    analytic = getattr(task, "flops_per_example", None)
    if callable(analytic) and (value := analytic(recipe)):
        return float(value)
    flops = _training_flops(json.dumps(recipe.task, sort_keys=True, default=str),
                            json.dumps(recipe.model, sort_keys=True, default=str),
                            json.dumps(recipe.to_dict()["data"], sort_keys=True))
    return flops if flops > 0 else None


def n_train_seen(recipe: Recipe) -> int | None:
    """Training examples the run draws batches from (``Recipe.train_set_size``)."""
    task = task_for(recipe)
    if task is None:
        return None
    return recipe.train_set_size(task.n_train())


def run_examples(recipe: Recipe) -> int | None:
    """Examples the run's training processes: steps x batch (as ``plan.py`` counts them)."""
    task = task_for(recipe)
    if task is None:
        return None
    return recipe.run_examples(task.n_train())


def capped_examples_factor(before: Recipe, after: Recipe, nominal: float) -> float:
    """The factor a reduction realises when a batch that does not fit the training set is capped.

    The built-in trainer caps a batch at the training set's size (``Recipe.batch_for``), so a
    reduction that keeps the step count (``keep=steps``, a new batch size) but leaves a set smaller
    than one batch processes fewer examples than its ``nominal`` factor says. When the cap binds for
    ``before`` or ``after`` and the recipe names a task: ``run_examples(after) / run_examples(before)``,
    exactly what the run does; otherwise ``nominal``. A user's own loop (no task) draws full batches
    (the loop of docs/own_loops.md samples with replacement), so ``nominal`` is what it does.
    """
    task = task_for(before)
    if task is None:
        return nominal
    n = task.n_train()
    if before.batch_for(n) == before.train.batch_size and after.batch_for(n) == after.train.batch_size:
        return nominal
    return after.run_examples(n) / before.run_examples(n)


# -- model configs ------------------------------------------------------------------------------
def _defaults(model: dict[str, Any]) -> dict[str, Any]:
    """Constructor defaults of the model's class, so a key left at its default can still be scaled."""
    target = model.get("_target_")
    if not target:
        return {}
    try:
        sig = inspect.signature(_target(target))
    except (TypeError, ValueError):
        return {}
    return {n: p.default for n, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def scaled_model(model: dict[str, Any], width: float, depth: float, *, width_key: str,
                 depth_key: str) -> dict[str, Any]:
    """``model`` with every width key x ``width`` and every depth key x ``depth`` (rounded, >= 1).

    A width split into heads stays a multiple of the head count. ``width_key``/``depth_key`` name
    the reduction's parameters in error messages, which list the model's keys when none can be scaled.
    """
    merged = {**_defaults(model), **model}
    out = dict(model)
    target = model.get("_target_", "the model")
    for factor, keys, key in ((width, WIDTH_KEYS, width_key), (depth, DEPTH_KEYS, depth_key)):
        if factor == 1:
            continue
        found = [k for k in keys if isinstance(merged.get(k), int) and not isinstance(merged.get(k), bool)]
        if not found:
            raise ValueError(
                f"{key}={factor!r} cannot be applied: {target} has none of the keys {keys} "
                f"(its config has {sorted(merged)})")
        for k in found:
            multiple = next((merged[h] for h in HEAD_KEYS if isinstance(merged.get(h), int)), 1) \
                if k in ("n_embd", "d_model") else 1
            out[k] = max(multiple, round(merged[k] * factor / multiple) * multiple)
    return out


# -- checkpoints of completed runs ----------------------------------------------------------------
def resolve_checkpoint(path: Any, key: str) -> dict[str, Any]:
    """A run directory, its record.json or a checkpoint file -> {checkpoint, model, task, record}.

    ``model``/``task`` come from the record's recipe (None when a bare checkpoint has no record
    beside it). Raises ValueError naming ``key`` and the path when nothing usable is there.
    """
    expected = "a run directory, its record.json, or a checkpoint file saved with train.save_checkpoint=true"
    if not isinstance(path, (str, Path)) or not str(path):
        raise ValueError(f"{key}={path!r} is not allowed; {key} must be {expected}")
    p = Path(path).expanduser()
    if not p.exists():
        raise ValueError(f"{key}={str(path)!r}: no such file or directory; {key} must be {expected}")
    record_path = p / "record.json" if p.is_dir() else p if p.suffix == ".json" else p.parent / "record.json"
    record = {}
    if record_path.is_file():
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{key}={str(path)!r}: unreadable run record {record_path}: {exc}") from None
    elif p.is_dir() or p.suffix == ".json":
        raise ValueError(f"{key}={str(path)!r}: no run record at {record_path}; {key} must be {expected}")
    if p.is_file() and p.suffix != ".json":
        checkpoint = p
    else:
        listed = (record.get("artifacts") or {}).get("checkpoint")
        if not listed:
            raise ValueError(f"{key}={str(path)!r}: the run record {record_path} lists no checkpoint "
                             f"(artifacts.checkpoint); rerun that configuration with train.save_checkpoint=true")
        checkpoint = Path(listed)
        if not checkpoint.is_absolute() and not checkpoint.exists():
            checkpoint = record_path.parent / checkpoint.name
    if not checkpoint.is_file():
        raise ValueError(f"{key}={str(path)!r}: checkpoint {checkpoint} does not exist")
    recipe = record.get("recipe") or {}
    return {"checkpoint": str(checkpoint.resolve()), "model": recipe.get("model"), "task": recipe.get("task"),
            "record": str(record_path.resolve()) if record else None}


def file_stamp(path: str) -> dict[str, Any]:
    """Identity of a file for a cache key: path, size and modification time."""
    st = Path(path).stat()
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


# -- content-addressed cache ----------------------------------------------------------------------
def content(recipe_dict: dict[str, Any]) -> dict[str, Any]:
    """A recipe dict without the fields that change how, not what, is trained."""
    out = json.loads(json.dumps(recipe_dict, default=str))
    for name in HOW_NOT_WHAT:
        out.get("train", {}).pop(name, None)
    return out


def cache_key(obj: Any) -> str:
    canon = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def cache_file(cache_dir: str, kind: str, obj: Any, suffix: str) -> Path:
    """``<cache_dir>/<kind>-<hash of obj><suffix>``; relative directories are relative to the cwd."""
    return Path(cache_dir).expanduser() / f"{kind}-{cache_key(obj)}{suffix}"
