"""``reduction=data_subset``: train on a stratified, seeded, nested fraction of the training set."""
from budgetsweep.recipe import KEEP_MODES, Recipe
from budgetsweep.reductions.base import Reduction, parameters
from budgetsweep.reductions.support import capped_examples_factor
from budgetsweep.validate import choice, number


@parameters
class DataSubset(Reduction):
    """Keep ``fraction`` of the training examples (``subset_size``: ceil(fraction x n)).

    ``keep=epochs`` (default) trains the same number of epochs on fewer examples, so compute
    falls with the fraction: an epochs-based recipe takes ceil(epochs x subset / batch) steps, and
    a steps-based one (``train.steps``) runs ``round(fraction x steps)``. ``keep=steps`` keeps the
    step count and repeats the subset (for data-limited studies), so compute stays. With
    ``keep=epochs`` the warmup and the evaluation interval shrink with the step count, so the
    schedule keeps its shape and the run its number of evaluations (pruners compare curves at the
    same relative points). Subsets are nested: for one ``subset_seed`` the 5% subset lies inside
    the 10% one (see ``budgetsweep.tasks.subset``).

    Predicted factor: ``fraction`` under ``keep=epochs``, 1 under ``keep=steps``; when the subset is
    smaller than one batch, which the built-in trainer caps at the subset's size, the exact ratio of
    the examples the runs process (``support.capped_examples_factor``); otherwise the measured
    factor differs only by the rounding of steps and subset sizes to whole numbers.
    """

    name = "data_subset"
    changes = ("data.fraction", "data.keep", "data.subset_seed", "train.steps", "train.warmup_steps",
               "train.eval_every")

    fraction: float = 0.1
    keep: str = "epochs"
    subset_seed: int = 0

    def __post_init__(self) -> None:
        self.fraction = number("reduction.data_subset.fraction", self.fraction, 0.0, 1.0)
        self.keep = choice("reduction.data_subset.keep", self.keep, KEEP_MODES)
        self.subset_seed = int(self.subset_seed)

    def apply(self, recipe: Recipe) -> Recipe:
        # composes multiplicatively: a subset of a subset
        data = {"fraction": recipe.data.fraction * self.fraction, "keep": self.keep, "subset_seed": self.subset_seed}
        if self.keep == "steps":
            return recipe.evolve(data=data)
        # fewer steps: keep the schedule's shape (warmup share) and the number of evaluations
        t = recipe.train
        train = {"warmup_steps": round(t.warmup_steps * self.fraction),
                 "eval_every": max(1, round(t.eval_every * self.fraction))}
        if t.steps is not None:  # a steps-based recipe: the same epochs over fewer examples is fewer steps
            train["steps"] = max(1, round(t.steps * self.fraction))
        return recipe.evolve(data=data, train=train)

    def predicted_cost_factor(self, recipe: Recipe) -> float:
        if self.keep == "steps":
            # same number of steps: the same examples are processed, just repeated; unless the subset
            # is smaller than one batch, which the built-in trainer caps at the subset's size
            return capped_examples_factor(recipe, self.apply(recipe), 1.0)
        return capped_examples_factor(recipe, self.apply(recipe), self.fraction)
