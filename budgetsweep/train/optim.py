"""Optimizer from an OptimSpec."""
from __future__ import annotations

import torch

from budgetsweep.recipe import OptimSpec


def build_optimizer(spec: OptimSpec, params) -> torch.optim.Optimizer:
    if spec.name == "sgd":
        return torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum, nesterov=spec.nesterov,
                               weight_decay=spec.weight_decay)
    return torch.optim.AdamW(params, lr=spec.lr, betas=(spec.beta1, spec.beta2), eps=spec.eps,
                             weight_decay=spec.weight_decay)
