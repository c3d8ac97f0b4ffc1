"""Optimizer from an OptimSpec, over parameter groups each with an ``lr_scale``.

The loop multiplies the scheduled rate by a group's ``lr_scale``. Without reductions that set scales
(``lr_scales`` hooks: model_scale's muP, transfer's ``lr_scale``) there is one group, scale 1.
Frozen parameters (``requires_grad=False``) are left out.
"""
from __future__ import annotations

from typing import Any

import torch

from budgetsweep.recipe import OptimSpec


OPTIMIZERS = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}


def build_optimizer(spec: OptimSpec, params) -> torch.optim.Optimizer:
    return OPTIMIZERS[spec.name](params, **optimizer_kwargs(spec))


def optimizer_kwargs(spec: OptimSpec) -> dict:
    """Keyword arguments of the torch optimizer ``spec.name`` names (shared with user loops)."""
    if spec.name == "sgd":
        return {"lr": spec.lr, "momentum": spec.momentum, "nesterov": spec.nesterov,
                "weight_decay": spec.weight_decay}
    return {"lr": spec.lr, "betas": (spec.beta1, spec.beta2), "eps": spec.eps, "weight_decay": spec.weight_decay}


def param_groups(model: torch.nn.Module, scales: dict[str, float]) -> list[dict[str, Any]]:
    """Trainable parameters grouped by learning-rate scale (``scales``: parameter name -> scale), in the
    model's parameter order."""
    groups: dict[float, list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups.setdefault(scales[name], []).append(p)
    return [{"params": params, "lr_scale": scale} for scale, params in groups.items()]
