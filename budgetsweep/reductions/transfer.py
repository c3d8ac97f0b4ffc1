"""``reduction=transfer``: start from a completed run's weights instead of a random initialisation.

``checkpoint`` is a run directory, its ``record.json`` or a checkpoint file (a state dict saved with
``train.save_checkpoint=true``; loaded with ``weights_only=True``). ``strict=true`` requires every
tensor to match by name and shape; ``strict=false`` loads the tensors whose name and shape match and
reports the others (in the run record's ``info.transfer``). ``freeze`` lists module names (e.g.
``[net.0]``) whose parameters stay fixed; ``lr_scale`` multiplies the learning rate of the
transferred parameters that are still trained (e.g. 0.1 to fine-tune them gently).

Predicted factor 1: the run trains as many steps as before. Transfer pays off when it lets a run be
shorter, so combine it with ``short_schedule``; frozen parameters save their optimizer update
and (for leading modules) part of the backward pass, which the measured cost shows.
"""
from __future__ import annotations

import logging
from typing import Any

from budgetsweep.recipe import Recipe
from budgetsweep.reductions.base import parameters
from budgetsweep.reductions.runtime import Runtime
from budgetsweep.reductions.support import ExplainedReduction, resolve_checkpoint, with_extra
from budgetsweep.validate import boolean, number, require

log = logging.getLogger("budgetsweep")


def freeze(model, names: list[str]) -> list[str]:
    """Stop training the parameters of the named modules; returns the frozen parameter names."""
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules]
    if unknown:
        raise ValueError(f"reduction.transfer.freeze={names!r}: no module named {unknown} in the model; its modules "
                         f"are {[n for n in modules if n]}")
    frozen = []
    for name in names:
        for pname, p in modules[name].named_parameters():
            p.requires_grad_(False)
            frozen.append(f"{name}.{pname}")
    return frozen


class TransferRuntime(Runtime):
    """Loads the checkpoint into the fresh model, freezes modules, scales the transferred parameters' rate."""

    def init_model(self, model) -> None:
        spec = self.spec
        self.report = report = self.trainer.load_into(model, spec["checkpoint"], strict=spec["strict"])
        report.frozen = freeze(model, spec["freeze"])
        self.info = {"transfer": report.summary()}
        log.info("transfer from %s: %d tensors loaded, %d skipped %s, %d not in the checkpoint, %d frozen",
                 spec["checkpoint"], len(report.loaded), len(report.skipped), list(report.skipped),
                 len(report.missing), len(report.frozen))

    def lr_scales(self, model, scales: dict[str, float]) -> None:
        for name in self.report.loaded:
            if name in scales:
                scales[name] *= self.spec["lr_scale"]


@parameters
class Transfer(ExplainedReduction):
    name = "transfer"
    changes = ("extra.transfer",)
    runtime = TransferRuntime

    checkpoint: str
    strict: bool = False
    freeze: list[str] | tuple[str, ...] = ()
    lr_scale: float = 1.0

    def __post_init__(self) -> None:
        key = "reduction.transfer"
        self._source = resolve_checkpoint(self.checkpoint, f"{key}.checkpoint")
        self.checkpoint = str(self.checkpoint)
        self.strict = boolean(f"{key}.strict", self.strict)
        freeze = self.freeze
        require(not isinstance(freeze, str) and all(isinstance(m, str) and m for m in (freeze or ())),
                f"{key}.freeze", freeze, "a list of module names, e.g. [net.0]")
        self.freeze = list(freeze or ())
        self.lr_scale = number(f"{key}.lr_scale", self.lr_scale, 0.0, 1.0)

    def spec(self, recipe: Recipe) -> dict[str, Any]:
        source_task = (self._source["task"] or {}).get("_target_")
        if source_task and recipe.task.get("_target_") and source_task != recipe.task["_target_"]:
            raise ValueError(f"reduction.transfer.checkpoint={self.checkpoint!r} was trained on task {source_task}, "
                             f"not on this run's task {recipe.task['_target_']}")
        return {"checkpoint": self._source["checkpoint"], "source_model": self._source["model"],
                "strict": self.strict, "freeze": list(self.freeze), "lr_scale": self.lr_scale}

    def apply(self, recipe: Recipe) -> Recipe:
        return with_extra(recipe, self.name, self.spec(recipe))

    def estimate(self, recipe: Recipe) -> tuple[float, str]:
        self.spec(recipe)
        return 1.0, ("the run trains the same steps from a better start; shorten it with short_schedule to "
                     "turn the head start into a saving")
