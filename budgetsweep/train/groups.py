"""Optimizer parameter groups, each with an ``lr_scale`` the loop multiplies the scheduled rate by.

Without reductions that need them there is one group of all parameters, scale 1. Two reductions
set scales per parameter (they multiply when both apply):
- ``model_scale`` with ``mup=true``: a hidden matrix (fan-in and fan-out both differ from the model
  at the base width) gets base fan-in / fan-in, i.e. the learning rate over the width multiplier.
- ``transfer`` with ``lr_scale``: the parameters loaded from the checkpoint get ``lr_scale``.
Frozen parameters (``requires_grad=False``) are left out.
"""
from __future__ import annotations

from typing import Any

import torch

from budgetsweep.recipe import Recipe
from budgetsweep.train.auxiliary import build_model


def lr_scales(recipe: Recipe, model: torch.nn.Module, task, transferred=()) -> dict[str, float]:
    scales = {name: 1.0 for name, _ in model.named_parameters()}
    mup = recipe.extra.get("model_scale", {})
    if mup.get("mup"):
        base = dict(build_model(task, recipe, mup["base_model"], torch.device("cpu")).named_parameters())
        for name, p in model.named_parameters():
            b = base.get(name)
            if b is not None and p.ndim >= 2 and p.shape[0] != b.shape[0] and p.shape[1] != b.shape[1]:
                scales[name] *= b.shape[1] / p.shape[1]  # hidden matrix: lr / width multiplier
    transfer = recipe.extra.get("transfer")
    if transfer is not None:
        for name in transferred:
            if name in scales:
                scales[name] *= transfer["lr_scale"]
    return scales


def param_groups(model: torch.nn.Module, scales: dict[str, float]) -> list[dict[str, Any]]:
    """Trainable parameters grouped by learning-rate scale (``scales``: parameter name -> scale), in the
    model's parameter order."""
    groups: dict[float, list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups.setdefault(scales[name], []).append(p)
    return [{"params": params, "lr_scale": scale} for scale, params in groups.items()]
