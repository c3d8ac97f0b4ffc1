"""What a training step costs: peak memory, and the device's peak FLOP/s (FLOPs are counted by
``budgetsweep.flops``)."""
from __future__ import annotations

import torch


# (fragment of torch.cuda.get_device_name, {precision: dense peak FLOP/s}), from the vendors' data
# sheets (SXM); fp32 is without TF32, PyTorch's default for matrix products
PEAK_FLOPS = (
    ("H200", {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12}),
    ("H100", {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12}),
    ("A100", {"bf16": 312e12, "fp16": 312e12, "fp32": 19.5e12}),
)


def peak_flops(device_kind: str, precision: str) -> float | None:
    """The device's peak FLOP/s at ``precision``, for model FLOPs utilisation; None on CPU or an unlisted device."""
    for fragment, peaks in PEAK_FLOPS:
        if fragment in device_kind:
            return peaks.get(precision)
    return None


def tensor_megabytes(tensors) -> float:
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


class SavedTensorMeter:
    """Bytes autograd keeps for the backward pass: on CPU, where no allocator statistics exist,
    this is the part of a step's memory that grows with the batch size."""

    def __init__(self) -> None:
        self.bytes = 0

    def _pack(self, t: torch.Tensor):
        self.bytes += t.numel() * t.element_size()
        return t

    def hooks(self):
        return torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)


def estimate_peak_memory_mb(model: torch.nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, batch: int,
                            optimizer_states: int) -> dict[str, float]:
    """An estimate of a training step's peak memory, in MiB: parameters, their gradients,
    ``optimizer_states`` tensors per parameter (AdamW 2, SGD with momentum 1) and the activations
    autograd saves for a batch of ``batch`` examples, measured on the probe batch ``x`` and scaled
    linearly. It omits the allocator's fragmentation, temporary buffers and the framework itself."""
    params = tensor_megabytes(model.parameters())
    meter = SavedTensorMeter()
    with meter.hooks():
        loss_fn(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    activations = meter.bytes / 2**20 * batch / len(x)
    total = params * (2 + optimizer_states) + activations
    return {"parameters_mb": params, "activations_mb": activations, "total_mb": total}
