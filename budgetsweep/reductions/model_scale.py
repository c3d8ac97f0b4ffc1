"""``reduction=model_scale``: a narrower (and shallower) model, with optional muP learning-rate transfer.

Every width key of the model config (``hidden``, ``channels``; ``n_embd``/``d_model`` kept a multiple
of the head count) is multiplied by ``width`` and every depth key (``depth``, ``n_layer``) by
``depth``, rounded, at least 1.

``mup=true`` (Adam/AdamW only) scales the learning rate the muP way (Yang et al. 2022, the Adam
column): a hidden matrix, one whose fan-in and fan-out both change with the width, gets the base
learning rate divided by its width multiplier (its fan-in now / its fan-in in the input model);
input weights, output weights and biases keep the base rate. At width 1 this is the ordinary
parametrisation, so a learning rate tuned on the narrow proxy is meant to carry over to the full
width. This is the learning-rate part of muP only: no output-logit multiplier or initialisation
change, so the transfer is approximate (see docs/reductions.md).

Predicted factor: training FLOPs per example (forward + backward, counted as the training loop
counts them; ``support.training_flops``) of the scaled model over the input model's, so the recorded
prediction, ``budgetsweep-plan``'s x flops and the measured FLOPs ratio agree (for an MLP between width
and width^2).
"""
from __future__ import annotations

from typing import Any

from budgetsweep.recipe import Recipe
from budgetsweep.reductions.base import parameters
from budgetsweep.reductions.runtime import Runtime
from budgetsweep.reductions.support import ExplainedReduction, scaled_model, training_flops
from budgetsweep.validate import boolean, number


class ModelScaleRuntime(Runtime):
    """muP (``mup=true``): a hidden matrix (fan-in and fan-out both differ from the model at the base
    width) gets the learning rate x base fan-in / fan-in, i.e. over the width multiplier."""

    def lr_scales(self, model, scales: dict[str, float]) -> None:
        if not self.spec.get("mup"):
            return
        import torch

        base = dict(self.trainer.build(self.spec["base_model"], torch.device("cpu")).named_parameters())
        for name, p in model.named_parameters():
            b = base.get(name)
            if b is not None and p.ndim >= 2 and p.shape[0] != b.shape[0] and p.shape[1] != b.shape[1]:
                scales[name] *= b.shape[1] / p.shape[1]  # hidden matrix: lr / width multiplier


@parameters
class ModelScale(ExplainedReduction):
    name = "model_scale"
    changes = ("model", "extra.model_scale")
    runtime = ModelScaleRuntime

    width: float = 0.5
    depth: float = 1.0
    mup: bool = False

    def __post_init__(self) -> None:
        key = "reduction.model_scale"
        self.width = number(f"{key}.width", self.width, 0.0, 1.0)
        self.depth = number(f"{key}.depth", self.depth, 0.0, 1.0)
        self.mup = boolean(f"{key}.mup", self.mup)

    def scaled(self, recipe: Recipe) -> dict[str, Any]:
        return scaled_model(recipe.model, self.width, self.depth, width_key="reduction.model_scale.width",
                            depth_key="reduction.model_scale.depth")

    def apply(self, recipe: Recipe) -> Recipe:
        model = self.scaled(recipe)
        if not self.mup:
            return recipe.evolve(model=model)
        if recipe.optim.name not in ("adamw", "adam"):
            raise ValueError(f"reduction.model_scale.mup=true implements the Adam rule (hidden-matrix learning rate "
                             f"/ width multiplier); optim.name={recipe.optim.name!r} is not allowed with it; use "
                             f"optim=adamw or mup=false")
        # muP compares shapes with the model at the base width and the new depth (same parameter names)
        earlier = recipe.extra.get(self.name, {}).get("base_model")
        base = scaled_model(earlier or recipe.model, 1.0, self.depth, width_key="reduction.model_scale.width",
                            depth_key="reduction.model_scale.depth")
        return recipe.evolve(model=model, extra={**recipe.extra, self.name: {"mup": True, "base_model": base}})

    def estimate(self, recipe: Recipe) -> tuple[float, str]:
        model = self.scaled(recipe)
        before, after = training_flops(recipe), training_flops(recipe.evolve(model=model))
        if before is None or after is None:
            return self.width ** 2 * self.depth, "rough (no task to probe): width^2 x depth"
        return after / before, (f"training FLOPs per example (forward + backward) {after:.4g} (scaled) / "
                                f"{before:.4g} (input model)")

