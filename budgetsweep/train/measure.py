"""What a training step costs: FLOPs per example and peak memory."""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode


def training_flops_per_example(model: torch.nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> float:
    """Forward + backward FLOPs of one batch, divided by its size (counted, not guessed)."""
    with FlopCounterMode(display=False) as counter:
        loss_fn(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(x)


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
