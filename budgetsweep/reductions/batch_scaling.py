"""``reduction=batch_scaling``: change the batch size and rescale the optimizer to match.

Rules (DESIGN section 10), for batch B -> kB:
- ``linear`` (SGD): lr x k.
- ``sqrt``: lr x sqrt(k).
- ``adam_sde`` (Adam/AdamW, Malladi et al. 2022): lr x sqrt(k), 1-beta1 and 1-beta2 times k,
  eps / sqrt(k).
- ``none``: batch only.
``keep`` says what the smaller batch keeps:
- ``examples`` (default): the same examples (epochs), so k times the steps; warmup and the evaluation
  interval are kept constant in examples (steps / k). It cuts memory per step, not compute.
- ``steps``: the same optimizer steps (epochs x k, or ``train.steps`` unchanged), warmup and evaluation
  interval unchanged, so k times the examples and FLOPs: a real cost cut that keeps the number of
  updates (the article's "smaller batch with a proportionally adjusted learning rate").
"""
import math

from budgetsweep.recipe import Recipe
from budgetsweep.reductions.base import Reduction, parameters
from budgetsweep.reductions.support import capped_examples_factor
from budgetsweep.validate import choice, number

RULES = ("linear", "sqrt", "adam_sde", "none")
# the rule each optimizer family's learning rate follows (DESIGN section 10): SGD linear (Goyal et al. 2017),
# Adam/AdamW square root (Malladi et al. 2022, whose adam_sde also rescales the betas and eps)
RULE_FOR = {"sgd": ("linear",), "adam": ("sqrt", "adam_sde"), "adamw": ("sqrt", "adam_sde")}
KEEPS = ("examples", "steps")


@parameters
class BatchScaling(Reduction):
    name = "batch_scaling"
    changes = ("train.batch_size", "train.warmup_steps", "train.steps", "train.epochs", "train.eval_every",
               "optim.lr", "optim.beta1", "optim.beta2", "optim.eps")

    factor: float = 0.25
    rule: str = "sqrt"
    keep: str = "examples"

    def __post_init__(self) -> None:
        self.factor = number("reduction.batch_scaling.factor", self.factor, 0.0, math.inf, high_open=True)
        self.rule = choice("reduction.batch_scaling.rule", self.rule, RULES)
        self.keep = choice("reduction.batch_scaling.keep", self.keep, KEEPS)

    def new_batch_size(self, batch_size: int) -> int:
        new = round(batch_size * self.factor)
        if new < 1:
            raise ValueError(
                f"reduction.batch_scaling.factor={self.factor} turns train.batch_size={batch_size} into "
                f"{batch_size * self.factor:g}, which rounds to 0; the factor must be >= {0.5 / batch_size:g}"
            )
        return new

    def apply(self, recipe: Recipe) -> Recipe:
        t, o = recipe.train, recipe.optim
        batch = self.new_batch_size(t.batch_size)
        k = batch / t.batch_size  # the factor actually realised after rounding
        optim = {}
        if self.rule == "linear":
            optim["lr"] = o.lr * k
        elif self.rule in ("sqrt", "adam_sde"):
            optim["lr"] = o.lr * math.sqrt(k)
        if self.rule == "adam_sde":
            optim["beta1"] = max(0.0, 1.0 - k * (1.0 - o.beta1))
            optim["beta2"] = max(0.0, 1.0 - k * (1.0 - o.beta2))
            optim["eps"] = o.eps / math.sqrt(k)
        if self.keep == "steps":  # the same updates on k times the examples: epochs x k, steps as they are
            train = {"batch_size": batch}
            if t.epochs is not None:
                train["epochs"] = t.epochs * k
            return recipe.evolve(train=train, optim=optim)
        train = {
            "batch_size": batch,
            "warmup_steps": round(t.warmup_steps / k),
            "eval_every": max(1, round(t.eval_every / k)),
        }
        if t.steps is not None:  # a step-based recipe keeps its examples, not its steps
            train["steps"] = max(1, round(t.steps / k))
        return recipe.evolve(train=train, optim=optim)

    def warnings(self, recipe: Recipe) -> list[str]:
        """A rule that is not the one for the recipe's optimizer (``RULE_FOR``): kept, since the user chose
        it, but said at plan and run start and recorded. ``none`` is a deliberate choice and not warned."""
        rules = RULE_FOR.get(recipe.optim.name)
        if rules is None or self.rule in rules or self.rule == "none":
            return []
        source = "Goyal et al. 2017" if recipe.optim.name == "sgd" else "Malladi et al. 2022"
        return [f"reduction.batch_scaling.rule={self.rule} with optim.name={recipe.optim.name}: the learning-rate rule "
                f"for {recipe.optim.name} is {' or '.join(rules)} ({source}; DESIGN section 10), so this proxy's "
                f"learning rate is off by the rules' ratio; set reduction.batch_scaling.rule={rules[0]}"]

    def predicted_cost_factor(self, recipe: Recipe) -> float:
        batch = self.new_batch_size(recipe.train.batch_size)  # refuse a zero batch early
        nominal = batch / recipe.train.batch_size if self.keep == "steps" else 1.0
        # unless a batch does not fit the training set (the trainer caps it): then what the run does
        return capped_examples_factor(recipe, self.apply(recipe), nominal)
