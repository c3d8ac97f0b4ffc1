"""Device choice and mixed precision through torch.autocast."""
from __future__ import annotations

import contextlib

import torch

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device='cuda' but no CUDA device is available; use train.device=cpu or auto")
    return torch.device(name)


def check_precision(precision: str, device: torch.device) -> None:
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(
            f"train.precision='fp16' needs a CUDA device (it relies on a GradScaler); this run is on "
            f"{device.type}. Use reduction.mixed_precision.dtype=bf16 (or train.precision=bf16) on CPU."
        )


def autocast(precision: str, device: torch.device):
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[precision])


def grad_scaler(precision: str, device: torch.device):
    """A GradScaler for fp16 (small gradients underflow in fp16), else None."""
    if precision == "fp16":
        return torch.amp.GradScaler(device.type)
    return None
