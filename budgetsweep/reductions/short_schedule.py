"""``reduction=short_schedule``: run a fraction of the steps, truncating or compressing the schedule."""
from budgetsweep.recipe import Recipe
from budgetsweep.reductions.base import Reduction, parameters
from budgetsweep.validate import choice, number

MODES = ("truncate", "compress")


@parameters
class ShortSchedule(Reduction):
    """Run ``fraction`` of the steps.

    ``truncate`` keeps the full-length schedule and stops early: the learning rate is still
    high at the end, which biases the proxy. ``compress`` (default, the sound choice) rescales
    the schedule, warmup included, to the shorter length.
    """

    name = "short_schedule"
    changes = ("train.run_fraction", "train.schedule_fraction", "train.warmup_steps", "train.eval_every")

    fraction: float = 0.2
    mode: str = "compress"

    def __post_init__(self) -> None:
        self.fraction = number("reduction.short_schedule.fraction", self.fraction, 0.0, 1.0)
        self.mode = choice("reduction.short_schedule.mode", self.mode, MODES)

    def apply(self, recipe: Recipe) -> Recipe:
        t = recipe.train
        run = t.run_fraction * self.fraction
        eval_every = max(1, round(t.eval_every * self.fraction))  # keep the number of evaluations
        if self.mode == "truncate":
            return recipe.evolve(train={"run_fraction": run, "eval_every": eval_every})
        return recipe.evolve(train={
            "run_fraction": run,
            "eval_every": eval_every,
            "schedule_fraction": t.schedule_fraction * self.fraction,
            "warmup_steps": round(t.warmup_steps * self.fraction),
        })

    def predicted_cost_factor(self, recipe: Recipe) -> float:
        return self.fraction
