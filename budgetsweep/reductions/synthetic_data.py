"""``reduction=synthetic_data``: train on a generated stand-in for the training set; evaluate on real data.

The stand-in matches the training set's first two moments: for classification, each class is a
Gaussian with that class's mean and covariance, and the classes keep their share of the examples;
for regression, one joint Gaussian over (inputs, target). It has ``size`` x the training set's
examples (the set the run would see, after any ``data_subset``) and is drawn with ``seed``, so
every run of a configuration trains on the same stand-in. Validation and test stay real.

``keep=epochs`` (default) trains the same number of epochs over the smaller set, so the run is
``size`` times as long: an epochs-based recipe keeps ``train.epochs`` exactly (the passes it makes
over the stand-in; the spec's ``epochs_over_set`` tells ``Recipe.epoch_size`` that an epoch is the
stand-in's round(size x n) examples), a steps-based recipe runs ``round(size x train.steps)``;
``keep=steps`` keeps the step count. The spec in ``recipe.extra`` carries ``train_set_factor`` =
``size``, from which ``Recipe.train_set_size`` counts the set.
Predicted factor: ``size`` (``keep=epochs``), else 1.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from budgetsweep.recipe import KEEP_MODES, Recipe
from budgetsweep.reductions.base import parameters
from budgetsweep.reductions.runtime import Runtime
from budgetsweep.reductions.support import ExplainedReduction, capped_examples_factor, with_extra
from budgetsweep.validate import choice, integer, number


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


def gaussian_stand_in(x, y, n: int, seed: int):
    """``n`` synthetic examples (x, y tensors) with the moments of (x, y): per class a Gaussian with the
    class's mean and covariance, classes in their original proportions; for float targets one joint
    Gaussian over (inputs, targets). Sampled in float64 through an eigendecomposition, so a singular
    covariance is fine. Raises ValueError for integer inputs."""
    import torch

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


class SyntheticDataRuntime(Runtime):
    """The task's data with a synthetic training set; validation and test stay real."""

    def training_data(self, data):
        n = self.recipe.train_set_size(data.n_train_full)  # round(size x the subset), as the plan counts it
        x, y = gaussian_stand_in(data.train_x, data.train_y, n, self.spec["seed"])
        info = {**(data.info or {}), "synthetic_data": {"n_train": len(x), "n_real": len(data.train_x)}}
        return dataclasses.replace(data, train_x=x, train_y=y, info=info)


@parameters
class SyntheticData(ExplainedReduction):
    name = "synthetic_data"
    runtime = SyntheticDataRuntime
    changes = ("train.epochs", "train.steps", "train.warmup_steps", "train.eval_every", "extra.synthetic_data")

    size: float = 0.5
    keep: str = "epochs"
    seed: int = 0

    def __post_init__(self) -> None:
        self.size = number("reduction.synthetic_data.size", self.size, 0.0, 1.0)
        self.keep = choice("reduction.synthetic_data.keep", self.keep, KEEP_MODES)
        self.seed = integer("reduction.synthetic_data.seed", self.seed)

    def shortens(self, recipe: Recipe) -> bool:
        return self.keep == "epochs"

    def apply(self, recipe: Recipe) -> Recipe:
        spec = {"size": self.size, "seed": self.seed, "method": "gaussian_moments", "train_set_factor": self.size}
        if not self.shortens(recipe):
            return with_extra(recipe, self.name, spec)
        t = recipe.train
        train = {"warmup_steps": round(t.warmup_steps * self.size),
                 "eval_every": max(1, round(t.eval_every * self.size))}
        if t.steps is not None:
            train["steps"] = max(1, round(t.steps * self.size))
        else:  # train.epochs stays the passes made (a rescaled float would record 3 epochs as 0.99)
            spec["epochs_over_set"] = True
        return with_extra(recipe, self.name, spec, train=train)

    def estimate(self, recipe: Recipe) -> tuple[float, str]:
        if self.shortens(recipe):
            factor = capped_examples_factor(recipe, self.apply(recipe), self.size)
            return factor, f"the same epochs over a synthetic set {self.size:g} x the size of the real one"
        factor = capped_examples_factor(recipe, self.apply(recipe), 1.0)
        if factor != 1.0:
            return factor, "keep=steps: the same number of steps, each batch capped at the smaller synthetic set"
        return 1.0, "keep=steps: the same number of steps over the synthetic set"
