"""``reduction=eval_subset``: evaluate on a fixed, seeded subset of the validation set.

Every evaluation during the run (and the final validation metrics, hence the objective) uses
``subset_size(n_val, fraction)`` validation examples (ceil(fraction x n_val), at least 1) drawn
with ``seed``; the same examples for every run and every evaluation of a configuration, so runs
stay comparable with each other (not with a full-set evaluation: the record's ``info.eval_subset``
says how many of how many). The test set stays whole. Training is unchanged.

For proxies whose cost is dominated by evaluation (large validation sets, frequent evaluations).
Predicted factor 1 in the examples and flops units, which count training only; the plan prices
evaluation separately (``RunPlan.eval_examples``, ``Recipe.val_set_size``) and its time factor
counts the saving (``budgetsweep-plan``).
"""
from __future__ import annotations

from budgetsweep.recipe import Recipe, subset_size
from budgetsweep.reductions.base import parameters
from budgetsweep.reductions.runtime import Runtime
from budgetsweep.reductions.support import ExplainedReduction, with_extra
from budgetsweep.validate import integer, number


class EvalSubsetRuntime(Runtime):
    """The task's data with the validation split cut to the seeded subset (sorted indices)."""

    def training_data(self, data):
        import dataclasses

        import torch

        n = len(data.val_x)
        k = subset_size(n, self.spec["fraction"])
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.spec["seed"]))
        keep = order[:k].sort().values
        self.info = {"eval_subset": {"n_val": k, "n_val_full": n}}
        return dataclasses.replace(data, val_x=data.val_x[keep], val_y=data.val_y[keep])


@parameters
class EvalSubset(ExplainedReduction):
    name = "eval_subset"
    changes = ("extra.eval_subset",)
    runtime = EvalSubsetRuntime

    fraction: float = 0.25
    seed: int = 0

    def __post_init__(self) -> None:
        self.fraction = number("reduction.eval_subset.fraction", self.fraction, 0.0, 1.0)
        self.seed = integer("reduction.eval_subset.seed", self.seed)

    def apply(self, recipe: Recipe) -> Recipe:
        # val_set_fraction: how Recipe.val_set_size counts the examples an evaluation covers
        return with_extra(recipe, self.name, {"fraction": self.fraction, "seed": self.seed,
                                              "val_set_fraction": self.fraction})

    def estimate(self, recipe: Recipe) -> tuple[float, str]:
        return 1.0, "training is unchanged; only evaluation (not counted in examples or FLOPs) is cheaper"
