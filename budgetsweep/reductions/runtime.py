"""The hook points the training loop offers a reduction that changes training, and how it finds them.

A reduction whose ``apply`` leaves a spec in ``recipe.extra[name]`` may also define, in its own
module, a ``runtime`` class attribute: a ``Runtime`` subclass built from that spec. The loop
(``budgetsweep.train.loop``) knows no reduction by name: it asks ``runtimes(recipe)`` for the
runtimes of the recipe's extras (in the order the reductions were applied) and calls every hook
at its fixed point of the run. Each default leaves the run unchanged.

Order of the hook points in a run (the loop's set-up, then each step, then the end):

1. ``prepare(trainer)``: build auxiliary models (a teacher, a scorer) with the trainer the loop
   passes in (``budgetsweep.train.auxiliary.Trainer``: ``train``, ``trained_or_cached``, ``build``,
   ``load``, ``load_into``, ``evaluate``, ``add_cost``, ``save_atomic``, ``device``, ``task``,
   ``recipe``), so nothing in ``train/`` imports back into itself and nothing here imports
   ``train/``. The base ``prepare`` keeps the trainer as ``self.trainer`` for the later hooks.
2. ``training_data(data)``: the task's ``Data`` -> the data the run trains on.
3. ``init_model(model)``: change the fresh model in place (load weights, freeze modules).
4. ``loss(loss_fn)``: wrap ``loss_fn(output, target, inputs) -> scalar``.
5. ``lr_scales(model, scales)``: multiply per-parameter learning-rate scales in place.
6. ``sampler(sampler, x, y, batch, total_steps)``: replace the batch sampler (``next(step)`` ->
   indices into the training set).
7. ``view(x, y, step, total_steps)``: the batch the model sees at ``step`` of ``total_steps``.
8. ``eval_model(model)``: the model every evaluation uses.
9. ``final_metrics(model, metrics, val_x, val_y)``: metrics added to the run's final ones.

``info`` is merged into the run record's ``info``.

Runtimes may import torch; this module does not, so planning a run loads no torch through it.
"""
from __future__ import annotations

import importlib
from typing import Any, ClassVar


class Runtime:
    """A reduction's effect on training; built from its spec in ``recipe.extra``. Defaults change nothing."""

    info: dict[str, Any]

    def __init__(self, spec: dict[str, Any], recipe) -> None:
        self.spec, self.recipe = spec, recipe
        self.info = {}

    def prepare(self, trainer) -> None:
        self.trainer = trainer

    def training_data(self, data):
        return data

    def init_model(self, model) -> None:
        pass

    def loss(self, loss_fn):
        return loss_fn

    def lr_scales(self, model, scales: dict[str, float]) -> None:
        pass

    def sampler(self, sampler, x, y, batch: int, total_steps: int):
        return sampler

    def view(self, x, y, step: int, total_steps: int):
        return x, y

    def eval_model(self, model):
        return model

    def final_metrics(self, model, metrics: dict[str, float], val_x, val_y) -> dict[str, float]:
        return {}


class Runtimes:
    """All runtimes of a recipe, called in order at each hook point (each one sees the previous' result)."""

    HOOKS: ClassVar[tuple[str, ...]] = ("prepare", "training_data", "init_model", "loss", "lr_scales", "sampler",
                                        "view", "eval_model", "final_metrics")

    def __init__(self, items: list[Runtime]) -> None:
        self.items = items
        # only overridden hooks are called per step (the default ``view`` would cost a call per runtime)
        self._views = [r for r in items if type(r).view is not Runtime.view]

    def prepare(self, trainer) -> None:
        for r in self.items:
            r.prepare(trainer)

    def training_data(self, data):
        for r in self.items:
            data = r.training_data(data)
        return data

    def init_model(self, model) -> None:
        for r in self.items:
            r.init_model(model)

    def loss(self, loss_fn):
        for r in self.items:
            loss_fn = r.loss(loss_fn)
        return loss_fn

    def lr_scales(self, model, scales: dict[str, float]) -> dict[str, float]:
        for r in self.items:
            r.lr_scales(model, scales)
        return scales

    def sampler(self, sampler, x, y, batch: int, total_steps: int):
        for r in self.items:
            sampler = r.sampler(sampler, x, y, batch, total_steps)
        return sampler

    def view(self, x, y, step: int, total_steps: int):
        for r in self._views:
            x, y = r.view(x, y, step, total_steps)
        return x, y

    def eval_model(self, model):
        for r in self.items:
            model = r.eval_model(model)
        return model

    def final_metrics(self, model, metrics: dict[str, float], val_x, val_y) -> dict[str, float]:
        out: dict[str, float] = {}
        for r in self.items:
            out.update(r.final_metrics(model, metrics, val_x, val_y))
        return out

    @property
    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for r in self.items:
            out.update(r.info)
        return out


def runtime_class(name: str):
    """The ``runtime`` of the reduction whose spec is ``recipe.extra[name]``, or None.

    The spec's key is the reduction's ``name``. Any reduction class imported in this process is
    known by its name (``Reduction.__init_subclass__``; a user's reduction outside the package is
    imported when its ``_target_`` is instantiated, before training); a built-in one not imported
    yet is found in the module of that name (``budgetsweep.reductions.<name>``). A key no reduction
    claims, or a reduction with no runtime, changes nothing in training (its spec may still be
    read, e.g. by the plan).
    """
    from budgetsweep.reductions.base import reduction_class

    cls = reduction_class(name)
    if cls is None:
        try:
            importlib.import_module(f"budgetsweep.reductions.{name}")
        except ModuleNotFoundError:
            return None
        cls = reduction_class(name)
    return getattr(cls, "runtime", None) if cls is not None else None


def runtimes(recipe) -> Runtimes:
    """The runtimes of ``recipe.extra``'s specs, in the order the reductions added them."""
    found = []
    for name, spec in recipe.extra.items():
        cls = runtime_class(name)
        if cls is not None:
            found.append(cls(spec, recipe))
    return Runtimes(found)
