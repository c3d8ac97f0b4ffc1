"""Models a run trains or loads before its own training: a distillation teacher, a curriculum scorer.

They are built from the plain descriptions reductions leave in ``recipe.extra``. A model trained on
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


def trained_or_cached(recipe: Recipe, task, reporter, path: Path, what: str) -> tuple[torch.nn.Module, dict]:
    """Load ``recipe``'s trained model from ``path``, or train it (charging ``reporter``) and save it there."""
    if path.is_file():
        device = resolve_device(recipe.train.device)
        return from_checkpoint(task, recipe, recipe.model, str(path), device), {"cached": str(path)}
    from budgetsweep.train.loop import train  # the same loop trains the auxiliary model

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
