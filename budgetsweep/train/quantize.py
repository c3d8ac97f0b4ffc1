"""``reduction=quantized_eval``: evaluate a dynamically quantized copy of the model (CPU only)."""
from __future__ import annotations

import warnings

import torch

from budgetsweep.recipe import Recipe

DTYPES = {"qint8": torch.qint8, "float16": torch.float16}


class _FullPrecisionInputs(torch.nn.Module):
    """Runs the quantized copy outside autocast: quantized kernels take float32 activations."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        with torch.autocast("cpu", enabled=False):
            return self.inner(x.float() if x.is_floating_point() else x)


def unchanged(model: torch.nn.Module) -> torch.nn.Module:
    return model


def eval_model(recipe: Recipe, device: torch.device):
    """A function model -> the model to evaluate: itself, or a dynamically quantized copy."""
    spec = recipe.extra.get("quantized_eval")
    if spec is None:
        return unchanged
    if device.type != "cpu":
        raise ValueError(f"reduction=quantized_eval runs quantized Linear layers on CPU only; this run is on "
                         f"{device.type}: set train.device=cpu or drop quantized_eval")
    from torch.ao.quantization import quantize_dynamic

    dtype = DTYPES[spec["dtype"]]

    def quantized(model: torch.nn.Module) -> torch.nn.Module:
        with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao
            warnings.simplefilter("ignore")
            return _FullPrecisionInputs(quantize_dynamic(model, {torch.nn.Linear}, dtype=dtype))

    return quantized


def quantization_change(recipe: Recipe, model, task, x, y, quantized: dict[str, float], precision: str,
                        device: torch.device) -> dict[str, float]:
    """Full-precision validation metrics and the change quantization made to each; {} without quantized_eval."""
    if "quantized_eval" not in recipe.extra:
        return {}
    from budgetsweep.train.loop import evaluate

    full = evaluate(model, task, x, y, precision, device)
    out = {}
    for name, value in full.items():
        out[f"val_{name}_fp32"] = value
        out[f"quantized_eval_change_{name}"] = quantized[f"val_{name}"] - value
    return out
