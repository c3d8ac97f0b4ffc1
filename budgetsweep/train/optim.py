"""Optimizer from an OptimSpec."""
from __future__ import annotations

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
