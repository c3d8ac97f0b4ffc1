"""``reduction=synthetic_data``: a Gaussian stand-in for the training set, matching its first two moments.

Classification (integer targets): per class, a Gaussian with the class's mean and covariance, and
the classes in their original proportions. Regression (float targets): one joint Gaussian over
(inputs, targets). Sampled in float64 through an eigendecomposition, so a singular covariance
(constant pixels, fewer examples than features) is fine. Inputs must be floating point.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from budgetsweep.recipe import Recipe


def _gaussian(rows: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    mean = rows.mean(axis=0)
    if len(rows) < 2:
        return np.repeat(mean[None], n, axis=0)
    cov = np.cov(rows, rowvar=False).reshape(rows.shape[1], rows.shape[1])
    values, vectors = np.linalg.eigh(cov)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    return mean + rng.standard_normal((n, rows.shape[1])) @ root.T


def class_quota(counts: np.ndarray, n: int) -> np.ndarray:
    """Split ``n`` over classes in proportion to ``counts`` (largest remainder), at least 1 each."""
    exact = n * counts / counts.sum()
    quota = np.maximum(np.floor(exact).astype(int), 1)
    while quota.sum() > n and (quota > 1).any():  # the minimum of 1 overdrew: take from the most over-served
        quota[np.argmax(np.where(quota > 1, quota - exact, -np.inf))] -= 1
    short = n - quota.sum()
    if short > 0:
        quota[np.argsort(-(exact - quota), kind="stable")[:short]] += 1
    return quota


def gaussian_stand_in(x: torch.Tensor, y: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` synthetic examples with the moments of (x, y); see the module docstring."""
    if not x.is_floating_point():
        raise ValueError(f"reduction=synthetic_data needs floating-point inputs (it samples Gaussians); this task's "
                         f"inputs are {x.dtype} (e.g. token ids)")
    rng = np.random.default_rng(seed)
    flat = x.reshape(len(x), -1).double().cpu().numpy()
    if y.is_floating_point():  # regression: one joint Gaussian over inputs and targets
        target = y.reshape(len(y), -1).double().cpu().numpy()
        joint = _gaussian(np.concatenate([flat, target], axis=1), n, rng)
        new_x, new_y = joint[:, :flat.shape[1]], joint[:, flat.shape[1]:].reshape(n, *y.shape[1:])
        return (torch.as_tensor(new_x, dtype=x.dtype).reshape(n, *x.shape[1:]),
                torch.as_tensor(new_y, dtype=y.dtype))
    labels = y.cpu().numpy()
    classes, counts = np.unique(labels, return_counts=True)
    quota = class_quota(counts, n)
    parts = [_gaussian(flat[labels == c], q, rng) for c, q in zip(classes, quota)]
    new_y = np.repeat(classes, quota)
    order = rng.permutation(len(new_y))
    new_x = np.concatenate(parts)[order]
    return (torch.as_tensor(new_x, dtype=x.dtype).reshape(len(new_y), *x.shape[1:]),
            torch.as_tensor(new_y[order], dtype=y.dtype))


def training_data(recipe: Recipe, task):
    """The task's data, with (``reduction=synthetic_data``) a synthetic training set; val/test stay real."""
    data = task.build_data(recipe)
    spec = recipe.extra.get("synthetic_data")
    if spec is None:
        return data
    n = recipe.train_set_size(data.n_train_full)  # round(size x the subset), as the plan counts it
    x, y = gaussian_stand_in(data.train_x, data.train_y, n, spec["seed"])
    info = {**(data.info or {}), "synthetic_data": {"n_train": len(x), "n_real": len(data.train_x)}}
    return dataclasses.replace(data, train_x=x, train_y=y, info=info)
