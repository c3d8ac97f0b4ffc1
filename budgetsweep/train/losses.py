"""The training loss: the task's own, or distillation from a teacher (``reduction=distill``).

Either way it is called as ``loss_fn(output, target, inputs)``; only distillation uses ``inputs``
(the teacher's forward pass on the same batch).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from budgetsweep.recipe import Recipe
from budgetsweep.reductions.distill import teacher_cache_file
from budgetsweep.train.auxiliary import from_checkpoint, trained_or_cached


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, target: torch.Tensor, *, temperature: float,
                      alpha: float, hard: torch.Tensor | None = None) -> torch.Tensor:
    """(1 - alpha) CE(y, s) + alpha T^2 KL(softmax(t / T) || softmax(s / T)) (Hinton et al. 2015).

    Logits may have leading dimensions (batch, positions, classes); the KL term is averaged over
    all rows, as the cross-entropy is. ``hard`` replaces the cross-entropy term (the task's loss).
    """
    s = student.reshape(-1, student.shape[-1])
    t = teacher.reshape(-1, teacher.shape[-1])
    if hard is None:
        hard = F.cross_entropy(s, target.reshape(-1))
    soft = F.kl_div(F.log_softmax(s / temperature, dim=-1), F.log_softmax(t / temperature, dim=-1),
                    reduction="batchmean", log_target=True)
    return (1 - alpha) * hard + alpha * temperature ** 2 * soft


class TaskLoss:
    """The task's loss; ignores the inputs."""

    info: dict[str, Any] = {}

    def __init__(self, task) -> None:
        self.task = task

    def __call__(self, output, target, inputs):
        return self.task.loss(output, target)


class Distillation:
    """The task's loss mixed with the teacher's soft targets; for regression the soft term is the
    mean squared error to the teacher's output (there is no temperature to apply)."""

    def __init__(self, task, teacher: torch.nn.Module, *, temperature: float, alpha: float,
                 info: dict[str, Any]) -> None:
        self.task, self.teacher = task, teacher.eval().requires_grad_(False)
        self.temperature, self.alpha = temperature, alpha
        self.info = {"distill": info}

    def __call__(self, output, target, inputs):
        with torch.no_grad():
            teacher_out = self.teacher(inputs)
        hard = self.task.loss(output, target)
        if target.is_floating_point():
            return (1 - self.alpha) * hard + self.alpha * F.mse_loss(output, teacher_out)
        return distillation_loss(output, teacher_out, target, temperature=self.temperature, alpha=self.alpha,
                                 hard=hard)


def training_loss(recipe: Recipe, task, device: torch.device, reporter, train=None):
    """The task's loss, or (``reduction=distill``) distillation from a loaded or freshly trained teacher."""
    spec = recipe.extra.get("distill")
    if spec is None:
        return TaskLoss(task)
    source = spec["teacher"]
    if "checkpoint" in source:
        teacher = from_checkpoint(task, recipe, source["model"], source["checkpoint"], device)
        info = {"teacher": source["checkpoint"]}
    else:  # the input recipe, trained first (or found in the cache)
        teacher_recipe = Recipe.from_dict(source["recipe"]).evolve(train={"device": recipe.train.device})
        path = teacher_cache_file(source["cache_dir"], source["recipe"])
        teacher, info = trained_or_cached(teacher_recipe, task, reporter, path, "distillation teacher", train)
        teacher = teacher.to(device)
    return Distillation(task, teacher, temperature=spec["temperature"], alpha=spec["alpha"], info=info)
