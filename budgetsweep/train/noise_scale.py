"""The gradient noise scale B_simple, an estimate of the critical batch size (``guards.noise_scale``).

McCandlish et al. 2018, "An Empirical Model of Large-Batch Training", appendix A: with the squared
norms of mini-batch gradients at two batch sizes b < B,

    |G|^2     ~ (B |g_B|^2 - b |g_b|^2) / (B - b)
    tr(Sigma) ~ (|g_b|^2 - |g_B|^2) / (1/b - 1/B)
    B_simple  = tr(Sigma) / |G|^2

each an unbiased estimate. A single pair of norms is far too noisy at initialisation (on digits at
batch 256, one pair per batch over 8 batches gave B_simple 52-181 over seeds 0-4, and at batch 32 a
negative |G|^2). As the appendix does with data-parallel workers, each big batch of B = k b examples
here is split into k = B // b disjoint small batches: their k gradients give k small-batch norms for
the price of one big batch, and their mean is the big batch's gradient. |G|^2 and tr(Sigma) are each
averaged over all those pairs and ``batches`` big batches, and only then divided (DESIGN section 10).
When the averaged |G|^2 is still not positive, noise dominates and B_simple cannot be estimated from
these batches: the result says so (``b_simple`` None, ``problem``) and the run warns. Torch is imported
inside the functions: the plan imports this module to count the measurement's examples without
loading the training stack.
"""
from __future__ import annotations

from typing import Any


def small_batch(big: int) -> int:
    """The small batch paired with the run's batch ``big``: a quarter of it, at least 1 (and below ``big``
    when ``big`` > 1; a batch of 1 has no smaller one, and the measurement then reports no estimate)."""
    return max(1, big // 4)


def measured_batch(big: int) -> int:
    """Examples of one big batch the measurement uses: the largest multiple of ``small_batch(big)`` that
    fits (``big`` itself when 4 divides it), split into ``big // small_batch(big)`` small batches."""
    small = small_batch(big)
    return small * (big // small)


def measurement_examples(big: int, batches: int) -> int:
    """Examples the measurement processes (forward and backward) for ``batches`` big batches of ``big``."""
    return batches * measured_batch(big)


def gradient_noise_scale(model, loss_fn, x, y, *, big: int, batches: int, seed: int) -> dict[str, Any]:
    """B_simple from ``batches`` random batches of ``measured_batch(big)`` examples of (``x``, ``y``), each
    split into disjoint small batches of ``small_batch(big)``, at the model's current parameters (no
    update, gradients left as they were). ``loss_fn(output, target)`` is a mean over the batch.

    Returns {b_simple, grad_sq (|G|^2), trace_sigma (tr Sigma), small_batch, big_batch (the batch
    measured), batches, pairs (small-batch norms averaged), examples, problem}; ``b_simple`` is None and
    ``problem`` says why when ``big`` is 1 or the averaged |G|^2 estimate is not positive (noise dominates
    at this many batches: more ``guards.noise_scale_batches`` would tell).
    """
    import torch

    small = small_batch(big)
    chunks = big // small
    measured = small * chunks
    examples = measurement_examples(big, batches)
    result = {"small_batch": small, "big_batch": measured, "batches": batches, "pairs": batches * chunks,
              "examples": examples, "b_simple": None, "grad_sq": None, "trace_sigma": None, "problem": None,
              "method": "McCandlish et al. 2018, B_simple; |G|^2 and tr(Sigma) averaged over batches, then divided"}
    if chunks < 2:
        result["problem"] = f"a batch of {big} has no smaller batch to compare with"
        return result
    params = [p for p in model.parameters() if p.requires_grad]
    generator = torch.Generator().manual_seed(seed)

    def gradient(xb, yb) -> list:
        grads = torch.autograd.grad(loss_fn(model(xb), yb), params, allow_unused=True)
        return [torch.zeros_like(p) if g is None else g.detach().float() for p, g in zip(params, grads)]

    # every small batch of every big batch: K = batches x chunks gradients of b examples each; their
    # mean is the gradient of all N = K b examples measured, the big batch of the formulas, so |G|^2 uses
    # every pair of small batches (not only pairs within one big batch: far less noise at the same cost)
    total, g_small, count = None, 0.0, batches * chunks
    for _ in range(batches):
        idx = torch.randperm(len(x), generator=generator)[:measured].to(x.device)
        for c in range(chunks):
            part = idx[c * small:(c + 1) * small]
            g = gradient(x[part], y[part])
            g_small += float(sum((t ** 2).sum() for t in g)) / count
            total = g if total is None else [a + t for a, t in zip(total, g)]
    pooled = small * count
    g_big = float(sum(((t / count) ** 2).sum() for t in total))  # equal small batches of a mean loss
    grad_sq = (pooled * g_big - small * g_small) / (pooled - small)
    trace_sigma = (g_small - g_big) / (1 / small - 1 / pooled)
    result.update(grad_sq=grad_sq, trace_sigma=trace_sigma)
    if grad_sq > 0:
        result["b_simple"] = trace_sigma / grad_sq
    else:
        result["problem"] = (f"the |G|^2 estimate is not positive ({grad_sq:.3g}) after averaging {batches} "
                             f"batches of {measured}: gradient noise dominates the signal at this many batches")
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
