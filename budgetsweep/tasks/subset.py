"""Nested, stratified, seeded subsets of a training set, of an exact, predictable size.

A subset of fraction f of n examples holds exactly ``subset_size(n, f)`` = ceil(f x n) examples
(at least 1), so a run's planned work can be counted from n and f alone, before any data is
loaded (``budgetsweep.plan``); the trainer then processes exactly that.

Every example gets a random priority from ``seed``. Without labels the subset is the
``subset_size`` examples of highest priority. With labels each example gets the key
rank_in_class / class_size (its priority rank within its class, as a share of the class), and the
subset is the ``subset_size`` examples of lowest key, ties by priority: each class is in it from
its first example on and holds f x its size to within one example (stratified). Both orders are
fixed by the seed, so a subset is a prefix of one ordering: the 5% subset lies inside the 10% one.
"""
from __future__ import annotations

import numpy as np

from budgetsweep.recipe import subset_size

__all__ = ["subset_indices", "subset_size"]


def subset_indices(n: int, fraction: float, seed: int = 0, labels=None) -> np.ndarray:
    """Sorted indices of the ``subset_size(n, fraction)`` examples kept (see the module docstring).

    ``labels`` (length n, any sortable values) makes the subset stratified.
    """
    keep = subset_size(n, fraction)
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for n={n} examples")
    if keep == n:
        return np.arange(n)
    priority = np.random.default_rng(seed).permutation(n)  # rank of each example, per seed
    if labels is None:
        return np.sort(np.argsort(priority, kind="stable")[:keep])
    labels = np.asarray(labels)
    # rank within class by priority, vectorised: sort by (label, priority)
    order = np.lexsort((priority, labels))
    sorted_labels = labels[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_labels)) + 1]
    sizes = np.diff(np.r_[starts, n])
    rank_in_class = np.empty(n)
    rank_in_class[order] = (np.arange(n) - np.repeat(starts, sizes)) / np.repeat(sizes, sizes)
    ranking = np.lexsort((priority, rank_in_class))  # by share of its class, then by priority
    return np.sort(ranking[:keep])
