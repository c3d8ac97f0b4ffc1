"""The trainer a reduction's runtime is given in its prepare step, to build auxiliary models.

``Trainer`` exposes the loop (``train``, ``evaluate``) and model building/loading to a runtime
(``budgetsweep.reductions.runtime``); the loop passes its own functions in, so nothing here imports
the loop back. Auxiliary models (a distillation teacher, a curriculum scorer) are built from the
plain descriptions reductions leave in ``recipe.extra``. A model trained on
the fly is saved as a state dict in a content-addressed cache file (plus a JSON note of its recipe
and metrics), so the runs that need the same one train it once. Its training cost is charged to the
run that trains it; its metrics are not reported (they would mix with the run's own history).
All of this runs under ``torch.random.fork_rng``: the run's own random stream does not depend on
whether the auxiliary model came from the cache.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from budgetsweep.recipe import Recipe
from budgetsweep.records import temp_file_beside
from budgetsweep.train.checkpoints import load_into
from budgetsweep.train.precision import resolve_device


class CostOnly:
    """A reporter for an auxiliary training: passes its cost on, keeps its metrics out of the run's."""

    def __init__(self, reporter) -> None:
        self.reporter = reporter

    def add_cost(self, examples: int = 0, flops: float = 0.0) -> None:
        self.reporter.add_cost(examples=examples, flops=flops)

    def report(self, step: int, metrics: dict[str, float]) -> None:
        pass


def build_model(task, recipe: Recipe, model: dict[str, Any], device: torch.device) -> torch.nn.Module:
    """The task's model for another model config, without touching the run's random stream."""
    with torch.random.fork_rng(devices=[]):
        return task.build_model(recipe.evolve(model=model)).to(device)


def from_checkpoint(task, recipe: Recipe, model: dict[str, Any], checkpoint: str, device) -> torch.nn.Module:
    net = build_model(task, recipe, model, device)
    load_into(net, checkpoint, strict=True)
    return net.eval()


def trained_or_cached(recipe: Recipe, task, reporter, path: Path, what: str, train) -> tuple[torch.nn.Module, dict]:
    """Load ``recipe``'s trained model from ``path``, or train it with ``train`` (the loop; charging
    ``reporter``) and save it there."""
    if path.is_file():
        device = resolve_device(recipe.train.device)
        return from_checkpoint(task, recipe, recipe.model, str(path), device), {"cached": str(path)}
    with torch.random.fork_rng():
        result = train(recipe, task, CostOnly(reporter), progress=False)
    note = {"what": what, "recipe": recipe.to_dict(), "metrics": result.metrics, "steps": result.steps}
    # a state dict: loadable with weights_only=True
    save_atomic(path, lambda fh: torch.save(result.model.state_dict(), fh), note)
    return result.model.eval(), {"trained": str(path), "metrics": result.metrics}


def save_atomic(path: Path, write, note: dict[str, Any]) -> None:
    """``write(binary file)`` into ``path`` through a temp file and a rename, so concurrent runs that
    build the same artifact never read half a file; then a JSON note of what it is beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file_beside(path)  # honours the umask, like any other output
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    path.with_suffix(".json").write_text(json.dumps(note, indent=2, default=str), encoding="utf-8")


class Trainer:
    """What a reduction's runtime may use to build auxiliary models (its ``prepare`` step).

    ``train_fn``/``evaluate_fn`` are the loop's ``train``/``evaluate``, passed in by the loop.
    Auxiliary training runs under ``fork_rng`` and charges its cost (not its metrics) to the run.
    """

    def __init__(self, recipe: Recipe, task, reporter, device: torch.device, train_fn, evaluate_fn) -> None:
        self.recipe, self.task, self.reporter, self.device = recipe, task, reporter, device
        self._train, self._evaluate = train_fn, evaluate_fn

    def train(self, recipe: Recipe):
        """Train ``recipe`` on the run's task (a ``TrainResult``), charging its cost to the run."""
        with torch.random.fork_rng():
            return self._train(recipe, self.task, CostOnly(self.reporter), progress=False)

    def trained_or_cached(self, recipe: Recipe, path: Path, what: str) -> tuple[torch.nn.Module, dict]:
        return trained_or_cached(recipe, self.task, self.reporter, path, what, self._train)

    def build(self, model: dict[str, Any], device: torch.device | None = None) -> torch.nn.Module:
        """The task's model for another model config (fresh weights), without touching the run's random stream."""
        return build_model(self.task, self.recipe, model, device or self.device)

    def load(self, model: dict[str, Any], checkpoint: str) -> torch.nn.Module:
        """The task's model for ``model`` with a checkpoint's weights (strict), in eval mode."""
        return from_checkpoint(self.task, self.recipe, model, checkpoint, self.device)

    def load_into(self, model: torch.nn.Module, checkpoint: str, *, strict: bool):
        """``budgetsweep.train.checkpoints.load_into``: a ``LoadReport``."""
        return load_into(model, checkpoint, strict=strict)

    def evaluate(self, model: torch.nn.Module, x, y) -> dict[str, float]:
        """The task's metrics of ``model`` over (x, y) at the run's precision."""
        return self._evaluate(model, self.task, x, y, self.recipe.train.precision, self.device)

    def add_cost(self, examples: int = 0, flops: float = 0.0) -> None:
        self.reporter.add_cost(examples=examples, flops=flops)

    save_atomic = staticmethod(save_atomic)
