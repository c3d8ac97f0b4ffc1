"""Counting a model's FLOPs with torch's FlopCounterMode: per example, for a training step (forward +
backward) or an inference forward pass. One counter for the loop (``train/``), the plan and the
reductions' predicted factors, so what is predicted is counted as the loop counts it; here rather than
in ``train/`` because reductions import nothing from the training loop (``tests/test_layers.py``)."""
from __future__ import annotations

import torch
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode


def _count_cpu_attention() -> None:
    """torch.utils.flop_counter counts the fused attention kernels of CUDA but not the CPU one
    (torch 2.13): give it the same formulas, so a model's counted FLOPs do not depend on the device."""
    aten = torch.ops.aten
    forward = getattr(aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    backward = getattr(aten, "_scaled_dot_product_flash_attention_for_cpu_backward", None)
    if forward is None or backward is None or forward in flop_counter.flop_registry:
        return

    @flop_counter.register_flop_formula(forward)
    def _forward(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)

    @flop_counter.register_flop_formula(backward)
    def _backward(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return flop_counter.sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


_count_cpu_attention()


def training_flops_per_example(model: torch.nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> float:
    """Forward + backward FLOPs of one batch, divided by its size (counted, not guessed)."""
    with FlopCounterMode(display=False) as counter:
        loss_fn(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(x)


def forward_flops_per_example(model: torch.nn.Module, x: torch.Tensor) -> float:
    """FLOPs of one inference forward pass (eval mode, no gradients) per example of ``x``: what a frozen
    teacher or a curriculum scorer spends on an example. Leaves the model in eval mode."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / len(x)


__all__ = ["forward_flops_per_example", "training_flops_per_example"]
