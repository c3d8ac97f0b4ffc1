"""``reduction=distill``: a smaller student learns from a teacher's soft targets (Hinton et al. 2015).

Loss: (1 - alpha) CE(y, s) + alpha T^2 KL(softmax(t / T) || softmax(s / T)) for classification
(t, s: teacher and student logits, T: ``temperature``); for a regression task the soft term is the
mean squared error to the teacher's output. The student is the input recipe's model with its
width x ``width`` and depth x ``depth``.

The teacher is either a completed run (``teacher=<run dir | record.json | checkpoint>``; a run
saves one with ``train.save_checkpoint=true``, and its record gives the teacher's model config), or,
with ``teacher=null``, the input recipe itself trained on the fly before the student: put
``distill`` first in the list to make that the full recipe. An on-the-fly teacher is cached
(a state dict under ``cache_dir``, keyed by its recipe), so students that share it pay once.

Predicted factor, from counted FLOPs per example as the training loop counts them: the student's
training (forward + backward, ``support.training_flops``) plus the teacher's forward pass (inference,
``support.forward_flops``), (S_train + T_fwd) / M_train, M being the input recipe's model; plus 1 (the
teacher's own training) while an on-the-fly teacher is not cached yet.
"""
from __future__ import annotations

from typing import Any

from budgetsweep.recipe import Recipe
from budgetsweep.reductions.base import parameters
from budgetsweep.reductions.runtime import Runtime
from budgetsweep.reductions.support import (ExplainedReduction, cache_file, content, forward_flops, resolve_checkpoint,
                                            run_examples, scaled_model, training_flops, with_extra)
from budgetsweep.validate import number, path_string


def teacher_cache_file(cache_dir: str, teacher_recipe: dict[str, Any]):
    return cache_file(cache_dir, "teacher", content(teacher_recipe), ".pt")


def distillation_loss(student, teacher, target, *, temperature: float, alpha: float, hard=None):
    """(1 - alpha) CE(y, s) + alpha T^2 KL(softmax(t / T) || softmax(s / T)) (Hinton et al. 2015).

    Logits (tensors) may have leading dimensions (batch, positions, classes); the KL term is averaged
    over all rows, as the cross-entropy is. ``hard`` replaces the cross-entropy term (the task's loss).
    """
    import torch.nn.functional as F

    s = student.reshape(-1, student.shape[-1])
    t = teacher.reshape(-1, teacher.shape[-1])
    if hard is None:
        hard = F.cross_entropy(s, target.reshape(-1))
    soft = F.kl_div(F.log_softmax(s / temperature, dim=-1), F.log_softmax(t / temperature, dim=-1),
                    reduction="batchmean", log_target=True)
    return (1 - alpha) * hard + alpha * temperature ** 2 * soft


class Distillation:
    """The run's loss mixed with the teacher's soft targets; for regression the soft term is the
    mean squared error to the teacher's output (there is no temperature to apply)."""

    def __init__(self, hard_loss, teacher, *, temperature: float, alpha: float) -> None:
        self.hard_loss, self.teacher = hard_loss, teacher.eval().requires_grad_(False)
        self.temperature, self.alpha = temperature, alpha

    def __call__(self, output, target, inputs):
        import torch
        import torch.nn.functional as F

        with torch.no_grad():
            teacher_out = self.teacher(inputs)
        hard = self.hard_loss(output, target, inputs)
        if target.is_floating_point():
            return (1 - self.alpha) * hard + self.alpha * F.mse_loss(output, teacher_out)
        return distillation_loss(output, teacher_out, target, temperature=self.temperature, alpha=self.alpha,
                                 hard=hard)


class DistillRuntime(Runtime):
    """Builds the teacher (loaded, or the input recipe trained first or found in the cache) in the prepare
    step; the loss hook mixes in its soft targets."""

    def prepare(self, trainer) -> None:
        super().prepare(trainer)
        source = self.spec["teacher"]
        if "checkpoint" in source:
            self.teacher = trainer.load(source["model"], source["checkpoint"])
            self.info = {"distill": {"teacher": source["checkpoint"]}}
            return
        teacher_recipe = Recipe.from_dict(source["recipe"]).evolve(train={"device": self.recipe.train.device})
        path = teacher_cache_file(source["cache_dir"], source["recipe"])
        teacher, info = trainer.trained_or_cached(teacher_recipe, path, "distillation teacher")
        self.teacher, self.info = teacher.to(trainer.device), {"distill": info}

    def loss(self, loss_fn):
        return Distillation(loss_fn, self.teacher, temperature=self.spec["temperature"], alpha=self.spec["alpha"])


@parameters
class Distill(ExplainedReduction):
    name = "distill"
    changes = ("model", "extra.distill")
    runtime = DistillRuntime

    teacher: str | None = None
    temperature: float = 4.0
    alpha: float = 0.5
    width: float = 0.5
    depth: float = 1.0
    cache_dir: str = "outputs/.cache/teacher"

    def __post_init__(self) -> None:
        key = "reduction.distill"
        teacher = self.teacher
        self.teacher = None if teacher is None else str(teacher)
        self._source = None if teacher is None else resolve_checkpoint(teacher, f"{key}.teacher")
        if self._source is not None and not self._source["model"]:
            raise ValueError(f"{key}.teacher={teacher!r}: no run record beside the checkpoint gives the teacher's "
                             f"model config; pass the run directory or its record.json")
        self.temperature = number(f"{key}.temperature", self.temperature, 0.0, 1e3)
        self.alpha = number(f"{key}.alpha", self.alpha, 0.0, 1.0, low_open=False)
        self.width = number(f"{key}.width", self.width, 0.0, 1.0)
        self.depth = number(f"{key}.depth", self.depth, 0.0, 1.0)
        self.cache_dir = path_string(f"{key}.cache_dir", self.cache_dir)

    def student_model(self, recipe: Recipe) -> dict[str, Any]:
        return scaled_model(recipe.model, self.width, self.depth, width_key="reduction.distill.width",
                            depth_key="reduction.distill.depth")

    def teacher_spec(self, recipe: Recipe) -> dict[str, Any]:
        if self._source is None:
            return {"recipe": recipe.to_dict(), "cache_dir": self.cache_dir}
        source_task = (self._source["task"] or {}).get("_target_")
        if source_task and recipe.task.get("_target_") and source_task != recipe.task["_target_"]:
            raise ValueError(f"reduction.distill.teacher={self.teacher!r} was trained on task {source_task}, "
                             f"not on this run's task {recipe.task['_target_']}")
        return {"checkpoint": self._source["checkpoint"], "model": self._source["model"]}

    def apply(self, recipe: Recipe) -> Recipe:
        spec = {"temperature": self.temperature, "alpha": self.alpha, "teacher": self.teacher_spec(recipe)}
        return with_extra(recipe, self.name, spec, model=self.student_model(recipe))

    def estimate(self, recipe: Recipe) -> tuple[float, str]:
        teacher = self.teacher_spec(recipe)
        student = training_flops(recipe.evolve(model=self.student_model(recipe)))
        teacher_model = teacher["model"] if "model" in teacher else recipe.model
        teacher_fwd = forward_flops(recipe.evolve(model=teacher_model))
        model = training_flops(recipe)
        if None in (student, teacher_fwd, model):
            factor = self.width ** 2 * self.depth + 1 / 3  # rough: hidden matrices scale with width^2
            why = "rough (no task to probe): student ~ width^2 x depth, plus a teacher forward pass (1/3)"
        else:
            factor = (student + teacher_fwd) / model
            why = (f"student training ({student:.3g} training FLOPs/example) plus a teacher forward pass "
                   f"({teacher_fwd:.3g}) per example, over training the input model ({model:.3g})")
        if "recipe" not in teacher:
            return factor, why + "; teacher from " + teacher["checkpoint"]
        cached = teacher_cache_file(self.cache_dir, teacher["recipe"])
        if cached.is_file():
            return factor, why + f"; teacher trained earlier, cached at {cached}"
        return 1.0 + factor, ("1 for the teacher, the input recipe trained on the fly first (then cached in "
                              f"{self.cache_dir}), plus {factor:.3g}: " + why)

    def extra_work(self, recipe: Recipe) -> tuple[int, float]:
        """(examples, FLOPs) the run spends besides training its student, for a cost model: the teacher's
        forward pass on every training example, and the teacher's own training while it is not cached.
        ``recipe`` is the final proxy recipe (after every reduction); training FLOPs are counted as the
        loop counts them (``support.training_flops``)."""
        spec = recipe.extra.get(self.name)
        examples = run_examples(recipe)
        if spec is None or examples is None:
            return 0, 0.0
        teacher = spec["teacher"]
        if "recipe" not in teacher:
            fwd = forward_flops(recipe.evolve(model=teacher["model"])) or 0.0
            return 0, examples * fwd
        teacher_recipe = Recipe.from_dict(teacher["recipe"])
        fwd = forward_flops(teacher_recipe) or 0.0
        if teacher_cache_file(teacher["cache_dir"], teacher["recipe"]).is_file():
            return 0, examples * fwd
        teacher_examples = run_examples(teacher_recipe) or 0
        return teacher_examples, examples * fwd + teacher_examples * (training_flops(teacher_recipe) or 0.0)

