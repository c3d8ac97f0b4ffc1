"""Nested, stratified, seeded subsets of a training set.

Every example gets a random priority from ``seed``; a subset of fraction f keeps, in each class,
the ceil(f x class size) examples of highest priority. A larger fraction therefore keeps a
superset, so the 5% subset lies inside the 10% one for the same seed.
"""
from __future__ import annotations

import numpy as np


def subset_indices(n: int, fraction: float, seed: int = 0, labels=None) -> np.ndarray:
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction={fraction!r} is out of range; it must be in (0, 1]")
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for n={n} examples")
    if fraction == 1:
        return np.arange(n)
    priority = np.random.default_rng(seed).permutation(n)  # rank of each example, per seed
    if labels is None:
        keep = max(1, int(np.ceil(fraction * n)))
        return np.sort(np.argsort(priority, kind="stable")[:keep])
    labels = np.asarray(labels)
    # rank within class by priority, vectorised: sort by (label, priority)
    order = np.lexsort((priority, labels))
    sorted_labels = labels[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_labels)) + 1]
    sizes = np.diff(np.r_[starts, n])
    rank_in_class = np.arange(n) - np.repeat(starts, sizes)
    quota = np.repeat(np.maximum(1, np.ceil(fraction * sizes)).astype(int), sizes)
    return np.sort(order[rank_in_class < quota])
