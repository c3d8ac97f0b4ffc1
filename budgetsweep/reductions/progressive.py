"""``reduction=progressive``: inputs of growing complexity, full size by a set fraction of training.

The task decides what a cheaper input is through one optional method,
``progressive_view(x, y, scale) -> (x, y)`` with ``scale`` in (0, 1]: digits average-pools its
8x8 images to ``round(8 * scale)`` pixels a side and upsamples them back (progressive resizing);
a sequence task crops its sequences to ``round(scale * T)`` tokens (sequence-length warmup).
The scale starts at ``start_scale`` and reaches 1 after ``ramp_fraction`` of the run's steps,
linearly or in ``stages`` equal steps. Evaluation always sees full-size inputs.

Predicted factor: the mean, over the run, of (input size of the view / full input size), measured
by calling the task's ``progressive_view`` on one example at each scale. For digits the view keeps
its 8x8 shape, so the factor is 1: a fixed-input model gets less information early, not less
compute. For a sequence model the factor is about the mean scale (attention's quadratic term aside).
"""
from __future__ import annotations

import math

from budgetsweep.recipe import Recipe
from budgetsweep.reductions.base import parameters
from budgetsweep.reductions.runtime import Runtime
from budgetsweep.reductions.support import ExplainedReduction, probe_batch, task_class, task_for, with_extra
from budgetsweep.validate import choice, integer, number

SCHEDULES = ("linear", "step")
_GRID = 1000  # points of training progress averaged for the predicted factor


def input_scale(progress: float, *, start_scale: float, ramp_fraction: float, schedule: str, stages: int) -> float:
    """Input scale at ``progress`` (share of the run's steps done, 0 at the first step) in [start, 1]."""
    tau = min(1.0, max(0.0, progress / ramp_fraction))
    if schedule == "linear":
        return start_scale + (1.0 - start_scale) * tau
    return start_scale + (1.0 - start_scale) * math.floor(stages * tau + 1e-9) / stages


class ProgressiveRuntime(Runtime):
    """Each training batch as the task's view at the input scale scheduled for the step; evaluation
    sees full-size inputs."""

    def prepare(self, trainer) -> None:
        super().prepare(trainer)
        self.task = trainer.task
        if not callable(getattr(self.task, "progressive_view", None)):
            raise ValueError(f"reduction=progressive needs the task to define progressive_view(x, y, scale); task "
                             f"{getattr(self.task, 'name', type(self.task).__name__)!r} does not")

    def view(self, x, y, step: int, total_steps: int):
        scale = input_scale(step / total_steps, **self.spec)
        return (x, y) if scale >= 1 else self.task.progressive_view(x, y, scale)


@parameters
class Progressive(ExplainedReduction):
    name = "progressive"
    changes = ("extra.progressive",)
    runtime = ProgressiveRuntime

    start_scale: float = 0.5
    ramp_fraction: float = 0.5
    schedule: str = "linear"
    stages: int = 2

    def __post_init__(self) -> None:
        self.start_scale = number("reduction.progressive.start_scale", self.start_scale, 0.0, 1.0)
        self.ramp_fraction = number("reduction.progressive.ramp_fraction", self.ramp_fraction, 0.0, 1.0)
        self.schedule = choice("reduction.progressive.schedule", self.schedule, SCHEDULES)
        self.stages = integer("reduction.progressive.stages", self.stages, minimum=1)

    def spec(self) -> dict:
        return {"start_scale": self.start_scale, "ramp_fraction": self.ramp_fraction,
                "schedule": self.schedule, "stages": self.stages}

    def check_task(self, recipe: Recipe) -> None:
        cls = task_class(recipe)
        if cls is not None and not callable(getattr(cls, "progressive_view", None)):
            raise ValueError(
                f"reduction=progressive needs the task to define progressive_view(x, y, scale); task "
                f"{getattr(cls, 'name', cls.__name__)!r} ({recipe.task['_target_']}) does not")

    def apply(self, recipe: Recipe) -> Recipe:
        self.check_task(recipe)
        return with_extra(recipe, self.name, self.spec())

    def scale_at(self, progress: float) -> float:
        return input_scale(progress, **self.spec())

    def estimate(self, recipe: Recipe) -> tuple[float, str]:
        self.check_task(recipe)
        batch = probe_batch(recipe)
        if batch is None:
            return 1.0, "no task to probe: the input-size share of the views is unknown, assumed 1"
        x, y = batch
        task = task_for(recipe)
        ratios: dict[float, float] = {}
        total = 0.0
        for i in range(_GRID):
            scale = self.scale_at((i + 0.5) / _GRID)
            if scale not in ratios:
                view_x, _ = task.progressive_view(x, y, scale) if scale < 1 else (x, y)
                ratios[scale] = view_x.numel() / x.numel()
            total += ratios[scale]
        factor = total / _GRID
        if factor == 1.0:
            return 1.0, ("the task's views keep the input size (e.g. images upsampled back to full "
                         "resolution), so compute per example is unchanged; information is what grows")
        return factor, "mean input size of the scheduled views relative to full-size inputs"

