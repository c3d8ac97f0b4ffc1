"""The gradient noise scale B_simple, an estimate of the critical batch size (``guards.noise_scale``).

McCandlish et al. 2018, "An Empirical Model of Large-Batch Training", appendix A: with the squared
norms of mini-batch gradients at two batch sizes b < B,

    |G|^2     ~ (B |g_B|^2 - b |g_b|^2) / (B - b)
    tr(Sigma) ~ (|g_b|^2 - |g_B|^2) / (1/b - 1/B)
    B_simple  = tr(Sigma) / |G|^2

each an unbiased estimate; numerator and denominator are averaged over batches separately before
dividing (DESIGN section 10). Torch is imported inside the functions: the plan imports this module
to count the measurement's examples without loading the training stack.
"""
from __future__ import annotations

from typing import Any


def small_batch(big: int) -> int:
    """The small batch paired with the run's batch ``big``: a quarter of it, at least 1 (and below ``big``
    when ``big`` > 1; a batch of 1 has no smaller one, and the measurement then reports no estimate)."""
    return max(1, big // 4)


def gradient_noise_scale(model, loss_fn, x, y, *, big: int, batches: int, seed: int) -> dict[str, Any]:
    """B_simple from ``batches`` random batches of ``big`` examples of (``x``, ``y``) and their first
    ``small_batch(big)`` examples, at the model's current parameters (no update, gradients left as
    they were). ``loss_fn(output, target)`` is a mean over the batch.

    Returns {b_simple, grad_sq (|G|^2), trace_sigma (tr Sigma), small_batch, big_batch, batches,
    examples}; ``b_simple`` is None when ``big`` is 1 or the |G|^2 estimate is not positive (noise
    dominates: the critical batch is then larger than anything these batches can tell).
    """
    import torch

    small = small_batch(big)
    examples = batches * (big + small)
    result = {"small_batch": small, "big_batch": big, "batches": batches, "examples": examples,
              "b_simple": None, "grad_sq": None, "trace_sigma": None, "method": "McCandlish et al. 2018, B_simple"}
    if big <= small:
        return result
    params = [p for p in model.parameters() if p.requires_grad]
    generator = torch.Generator().manual_seed(seed)

    def squared_norm(xb, yb) -> float:
        grads = torch.autograd.grad(loss_fn(model(xb), yb), params, allow_unused=True)
        return float(sum((g.float() ** 2).sum() for g in grads if g is not None))

    g_small = g_big = 0.0
    for _ in range(batches):
        idx = torch.randperm(len(x), generator=generator)[:big].to(x.device)
        g_big += squared_norm(x[idx], y[idx]) / batches
        g_small += squared_norm(x[idx[:small]], y[idx[:small]]) / batches
    grad_sq = (big * g_big - small * g_small) / (big - small)
    trace_sigma = (g_small - g_big) / (1 / small - 1 / big)
    result.update(grad_sq=grad_sq, trace_sigma=trace_sigma)
    if grad_sq > 0:
        result["b_simple"] = trace_sigma / grad_sq
    return result


def measure_for_run(recipe, task, batches: int) -> dict[str, Any]:
    """``gradient_noise_scale`` for a built-in task's run of ``recipe``: its training data, its model at
    the initialisation the run starts from (seeded like the run; the run's own random state is left
    untouched), its batch. The task's plain loss in fp32: reductions' runtime hooks (a distillation loss,
    muP learning rates) do not enter the measurement."""
    import torch

    from budgetsweep.train.precision import resolve_device

    device = resolve_device(recipe.train.device)
    data = task.build_data(recipe)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = task.build_model(recipe).to(device)
    big = recipe.batch_for(data.n_train_full)
    return gradient_noise_scale(model, task.loss, data.train_x.to(device), data.train_y.to(device), big=big,
                                batches=batches, seed=recipe.seed)
