"""``reduction=synthetic_data``: train on a generated stand-in for the training set; evaluate on real data.

The stand-in matches the training set's first two moments: for classification, each class is a
Gaussian with that class's mean and covariance, and the classes keep their share of the examples;
for regression, one joint Gaussian over (inputs, target). It has ``size`` x the training set's
examples (the set the run would see, after any ``data_subset``) and is drawn with ``seed``, so
every run of a configuration trains on the same stand-in. Validation and test stay real.

``keep=epochs`` (default) trains the same number of epochs over the smaller set, so the run is
``size`` times as long: an epochs-based recipe's ``train.epochs`` is rescaled by ``size`` (it counts
passes over a real-size training set, as for ``data_subset``), a steps-based recipe runs
``round(size x train.steps)``; ``keep=steps`` keeps the step count. The spec in ``recipe.extra``
carries ``train_set_factor`` = ``size``, from which ``Recipe.train_set_size`` counts the set.
Predicted factor: ``size`` (``keep=epochs``), else 1.
"""
from __future__ import annotations

from budgetsweep.recipe import KEEP_MODES, Recipe
from budgetsweep.reductions.base import choice
from budgetsweep.reductions.support import ExplainedReduction, check_number, with_extra


class SyntheticData(ExplainedReduction):
    name = "synthetic_data"
    changes = ("train.epochs", "train.steps", "train.warmup_steps", "train.eval_every", "extra.synthetic_data")

    def __init__(self, size: float = 0.5, keep: str = "epochs", seed: int = 0) -> None:
        self.size = check_number("reduction.synthetic_data.size", size, 0.0, 1.0)
        self.keep = choice("reduction.synthetic_data.keep", keep, KEEP_MODES)
        if not (isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0):
            raise ValueError(f"reduction.synthetic_data.seed={seed!r} is not allowed; "
                             f"reduction.synthetic_data.seed must be an integer >= 0")
        self.seed = seed

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
        else:
            train["epochs"] = t.epochs * self.size
        return with_extra(recipe, self.name, spec, train=train)

    def estimate(self, recipe: Recipe) -> tuple[float, str]:
        if self.shortens(recipe):
            return self.size, f"the same epochs over a synthetic set {self.size:g} x the size of the real one"
        return 1.0, "keep=steps: the same number of steps over the synthetic set"
