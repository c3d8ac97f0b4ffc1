"""``reduction=curriculum``: easy examples first, the rest let in by a pacing function.

Every training example gets a difficulty score: its loss under a reference model. By default that
model is a small scorer (the run's model at ``scorer_width``, AdamW at ``scorer_lr``, batch 32,
``scorer_epochs`` epochs, seed 0) trained on the run's training set before the run starts;
``reference=<run dir | record.json | checkpoint>`` scores with a completed run's model instead.
Scores are cached as ``.npy`` under ``cache_dir``, keyed by the task config, the data subset and
the scorer, so the configurations of a sweep share them and only the first run pays.

Pacing (Wu et al. 2021, DESIGN section 10): with N examples, start fraction b, ramp fraction a
and tau = t / (a T), step t of a T-step run draws its batch uniformly from the first g(t) examples
of the ordering: linear b + (1-b) tau, quad b + (1-b) tau^2, root b + (1-b) sqrt(tau), exp
b + (1-b) (e^(10 tau) - 1) / (e^10 - 1), log b + (1-b) (1 + 0.1 ln(tau + e^-10)), step b until
tau = 1, then all (times N, never below one batch). ``order=easy_first`` sorts by ascending loss,
``hard_first`` by descending loss, ``random`` by a seeded permutation: the same pacing over a
random order is the control that separates a curriculum effect from a smaller-dataset effect
(it needs no scores, so it trains no scorer).

Predicted factor: 1 (the run processes the same examples), plus the scorer's training and the
scoring pass relative to the run when the scores are not cached yet.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from budgetsweep.recipe import OptimSpec, Recipe, TrainSpec
from budgetsweep.reductions.base import parameters
from budgetsweep.reductions.runtime import Runtime
from budgetsweep.reductions.support import (DATA_EXTRAS, ExplainedReduction, cache_file, content, file_stamp,
                                            forward_flops, n_train_seen, resolve_checkpoint, run_examples,
                                            scaled_model, training_flops, with_extra)
from budgetsweep.validate import choice, fail, number, path_string

PACINGS = ("linear", "quad", "root", "exp", "log", "step")
ORDERS = ("easy_first", "random", "hard_first")
SCORER_BATCH = 32
SCORER_SEED = 0
SCORE_CHUNK = 4096
log = logging.getLogger("budgetsweep")


def pacing_fraction(step: int, total_steps: int, *, pacing: str, start_fraction: float,
                    ramp_fraction: float) -> float:
    """Share of the ordered training set available at ``step`` (0-based) of a ``total_steps`` run."""
    tau = min(1.0, step / max(1e-12, ramp_fraction * total_steps))
    b = start_fraction
    if pacing == "linear":
        grow = tau
    elif pacing == "quad":
        grow = tau ** 2
    elif pacing == "root":
        grow = math.sqrt(tau)
    elif pacing == "exp":
        grow = (math.exp(10 * tau) - 1) / (math.exp(10) - 1)
    elif pacing == "log":
        grow = max(0.0, 1 + 0.1 * math.log(tau + math.exp(-10)))
    elif pacing == "step":
        grow = 1.0 if tau >= 1 else 0.0
    else:
        fail("reduction.curriculum.pacing", pacing, f"one of {PACINGS}")
    return min(1.0, b + (1 - b) * grow)


def pacing_size(step: int, total_steps: int, n: int, batch: int, **pacing: Any) -> int:
    """Number of examples (from the front of the ordering) a batch may be drawn from at ``step``."""
    return min(n, max(batch, math.ceil(n * pacing_fraction(step, total_steps, **pacing) - 1e-9)))


def scores_cache_file(cache_dir: str, scores: dict[str, Any], recipe: Recipe) -> Path:
    """Where the scores of ``recipe``'s training set under ``scores`` (scorer or reference) live."""
    data_extras = {k: v for k, v in recipe.extra.items() if k in DATA_EXTRAS}
    if "scorer" in scores:
        scores = {"scorer": content(scores["scorer"])}
    what = {"scores": scores, "task": recipe.task, "data": recipe.to_dict()["data"], "data_extras": data_extras}
    return cache_file(cache_dir, "curriculum", what, ".npy")


class PacedSampler:
    """Batches drawn from the front of an ordering, the front growing with the pacing function."""

    def __init__(self, ranking, batch: int, total_steps: int, seed: int, device, pacing: dict[str, Any],
                 info: dict[str, Any] | None = None) -> None:
        import torch

        self.ranking = ranking.to(device)  # example indices, the first to be let in first
        self.batch, self.total_steps, self.pacing = batch, total_steps, pacing
        self.gen = torch.Generator().manual_seed(seed)
        self.info = {"curriculum": info or {}}

    def available(self, step: int) -> int:
        return pacing_size(step, self.total_steps, len(self.ranking), self.batch, **self.pacing)

    def next(self, step: int):
        import torch

        pick = torch.randperm(self.available(step), generator=self.gen)[:self.batch]
        return self.ranking[pick.to(self.ranking.device)]


def ranking_from_scores(scores: np.ndarray, order: str, seed: int):
    """Example indices (a tensor) easiest first (ascending loss), hardest first, or in a seeded random order."""
    import torch

    if order == "random":
        return torch.randperm(len(scores), generator=torch.Generator().manual_seed(seed))
    keys = scores if order == "easy_first" else -scores
    return torch.as_tensor(np.argsort(keys, kind="stable"))


def per_example_loss(model, task, x, y) -> np.ndarray:
    """The task's loss of each example separately (vectorised with ``torch.func.vmap`` where it can be)."""
    import torch

    model.eval()
    one = lambda out, target: task.loss(out.unsqueeze(0), target.unsqueeze(0))  # noqa: E731
    found = []
    with torch.no_grad():
        for start in range(0, len(x), SCORE_CHUNK):
            out, target = model(x[start:start + SCORE_CHUNK]).float(), y[start:start + SCORE_CHUNK]
            try:
                found.append(torch.func.vmap(one)(out, target))
            except Exception:  # a loss vmap cannot trace: one example at a time
                found.append(torch.stack([one(o, t) for o, t in zip(out, target)]))
    return torch.cat(found).double().cpu().numpy()


class CurriculumRuntime(Runtime):
    """Replaces the shuffled-epochs sampler by batches paced over a difficulty ordering. The reference
    model (loaded) or the scorer (trained) is built in the prepare step while the scores are not cached."""

    def prepare(self, trainer) -> None:
        super().prepare(trainer)
        self.model, self.what = None, {}
        spec, recipe = self.spec, self.recipe
        self.path = scores_cache_file(spec["cache_dir"], spec["scores"], recipe)
        if spec["order"] == "random" or self.path.is_file():
            return  # the control needs no scores; cached ones need no model
        if "reference" in spec["scores"]:
            ref = spec["scores"]["reference"]
            self.model, self.what = trainer.load(ref["model"], ref["checkpoint"]), {"reference": ref["checkpoint"]}
            return
        scorer = Recipe.from_dict(spec["scores"]["scorer"]).evolve(train={"device": recipe.train.device})
        run_data = (recipe.data, {k: v for k, v in recipe.extra.items() if k in DATA_EXTRAS})
        if (scorer.data, scorer.extra) != run_data:
            raise ValueError(f"the curriculum scorer was planned for data {scorer.data} {scorer.extra} but the run "
                             f"trains on {run_data[0]} {run_data[1]}; list curriculum after data_subset and "
                             f"synthetic_data in reduction=[...]")
        result = trainer.train(scorer)
        self.model = result.model
        self.what = {"scorer_metrics": result.metrics, "scorer_steps": result.steps}

    def scores(self, x, y) -> tuple[np.ndarray, dict[str, Any]]:
        """Per-example loss under the reference model, from the cache or computed (and cached)."""
        path = self.path
        if self.model is None:
            scores = np.load(path, allow_pickle=False)
            if scores.shape != (len(x),):
                raise ValueError(f"curriculum scores {path} hold {scores.shape[0]} examples but the run trains on "
                                 f"{len(x)}; delete the file to recompute them")
            return scores, {"scores": str(path), "cached": True}
        from budgetsweep.flops import forward_flops_per_example

        # the scoring pass (a scorer's or a reference model's): one forward pass per example, counted as
        # the plan counts it (``support.forward_flops``)
        self.trainer.add_cost(flops=len(x) * forward_flops_per_example(self.model, x[:1]))
        scores = per_example_loss(self.model, self.trainer.task, x, y)
        note = {"what": "curriculum difficulty scores (per-example loss)", **self.what, "task": self.recipe.task,
                "data": self.recipe.to_dict()["data"]}
        self.trainer.save_atomic(path, lambda fh: np.save(fh, scores, allow_pickle=False), note)
        log.info("curriculum: scored %d examples, cached at %s", len(scores), path)
        return scores, {"scores": str(path), "cached": False, **self.what}

    def sampler(self, sampler, x, y, batch: int, total_steps: int):
        spec, seed = self.spec, self.recipe.seed
        if spec["order"] == "random":  # the control: the same pacing over a random order needs no scores
            scores, info = np.zeros(len(x)), {}
        else:
            scores, info = self.scores(x, y)
        ranking = ranking_from_scores(scores, spec["order"], seed)
        pacing = {k: spec[k] for k in ("pacing", "start_fraction", "ramp_fraction")}
        paced = PacedSampler(ranking, batch, total_steps, seed, x.device, pacing, {**info, "order": spec["order"]})
        self.info = paced.info
        return paced


@parameters
class Curriculum(ExplainedReduction):
    name = "curriculum"
    changes = ("extra.curriculum",)
    runtime = CurriculumRuntime

    pacing: str = "linear"
    start_fraction: float = 0.2
    ramp_fraction: float = 0.5
    order: str = "easy_first"
    reference: str | None = None
    scorer_width: float = 0.5
    scorer_epochs: float = 2.0
    scorer_lr: float = 1e-3
    cache_dir: str = "outputs/.cache/curriculum"

    def __post_init__(self) -> None:
        key = "reduction.curriculum"
        self.pacing = choice(f"{key}.pacing", self.pacing, PACINGS)
        self.start_fraction = number(f"{key}.start_fraction", self.start_fraction, 0.0, 1.0)
        self.ramp_fraction = number(f"{key}.ramp_fraction", self.ramp_fraction, 0.0, 1.0)
        self.order = choice(f"{key}.order", self.order, ORDERS)
        reference = self.reference
        self.reference = None if reference is None else str(reference)
        self._reference = None if reference is None else resolve_checkpoint(reference, f"{key}.reference")
        if self._reference is not None and not self._reference["model"]:
            raise ValueError(f"{key}.reference={reference!r}: no run record beside the checkpoint gives its model "
                             f"config; pass the run directory or its record.json")
        self.scorer_width = number(f"{key}.scorer_width", self.scorer_width, 0.0, 1.0)
        self.scorer_epochs = number(f"{key}.scorer_epochs", self.scorer_epochs, 0.0, 1e6)
        self.scorer_lr = number(f"{key}.scorer_lr", self.scorer_lr, 0.0, 10.0)
        self.cache_dir = path_string(f"{key}.cache_dir", self.cache_dir)

    def scorer_recipe(self, recipe: Recipe) -> Recipe:
        """The small model trained briefly on the run's training set to score its examples."""
        model = scaled_model(recipe.model, self.scorer_width, 1.0, width_key="reduction.curriculum.scorer_width",
                             depth_key="reduction.curriculum.scorer_depth")
        return Recipe(
            task=dict(recipe.task), model=model, optim=OptimSpec(name="adamw", lr=self.scorer_lr),
            train=TrainSpec(batch_size=SCORER_BATCH, epochs=self.scorer_epochs, steps=None, schedule="cosine",
                            warmup_steps=0, eval_every=10**9, precision="fp32", device=recipe.train.device),
            data=recipe.data, seed=SCORER_SEED,
            extra={k: v for k, v in recipe.extra.items() if k in DATA_EXTRAS},
        )

    def scores_spec(self, recipe: Recipe) -> dict[str, Any]:
        if self._reference is not None:
            ref = self._reference
            return {"reference": {"checkpoint": ref["checkpoint"], "model": ref["model"],
                                  "stamp": file_stamp(ref["checkpoint"])}}
        return {"scorer": self.scorer_recipe(recipe).to_dict()}

    def apply(self, recipe: Recipe) -> Recipe:
        spec = {"pacing": self.pacing, "start_fraction": self.start_fraction, "ramp_fraction": self.ramp_fraction,
                "order": self.order, "scores": self.scores_spec(recipe), "cache_dir": self.cache_dir}
        return with_extra(recipe, self.name, spec)

    def estimate(self, recipe: Recipe) -> tuple[float, str]:
        if self.order == "random":
            return 1.0, "same examples as the input recipe; a random order needs no difficulty scores"
        scores = self.scores_spec(recipe)
        cached = scores_cache_file(self.cache_dir, scores, recipe)
        if cached.is_file():
            return 1.0, f"same examples as the input recipe; difficulty scores cached at {cached}"
        n, run = n_train_seen(recipe), run_examples(recipe)
        model_flops = training_flops(recipe)
        if self._reference is not None:
            scorer_model, scorer_examples = self._reference["model"], 0.0
        else:
            scorer = self.scorer_recipe(recipe)
            scorer_model, scorer_examples = scorer.model, float(run_examples(scorer) or 0)  # steps x batch, as run
        scorer_recipe = recipe.evolve(model=scorer_model)
        scorer_flops, scorer_train = forward_flops(scorer_recipe), training_flops(scorer_recipe)
        if None in (n, run, model_flops, scorer_flops, scorer_train):
            return 1.0, "same examples; the one-off scoring cost could not be estimated (no task to probe)"
        # the scorer's training (forward + backward, as the loop counts it), then one forward pass per example
        extra = (scorer_examples * scorer_train + n * scorer_flops) / (run * model_flops)
        how = "a completed run's model scores" if self._reference is not None else \
            f"a scorer (width x{self.scorer_width}, {self.scorer_epochs:g} epochs) is trained on the fly and scores"
        return 1.0 + extra, (f"same examples as the input recipe, plus a one-off cost of {extra:.3g}: {how} the "
                             f"{n} training examples before the run (cached afterwards in {self.cache_dir})")

    def extra_work(self, recipe: Recipe) -> tuple[int, float]:
        """(examples, FLOPs) the run spends besides its own training, for a cost model: the scorer's training
        and the scoring pass while the scores are not cached. ``recipe`` is the final proxy recipe."""
        spec = recipe.extra.get(self.name)
        if spec is None or spec["order"] == "random":
            return 0, 0.0
        if scores_cache_file(spec["cache_dir"], spec["scores"], recipe).is_file():
            return 0, 0.0
        n = n_train_seen(recipe) or 0
        if "reference" in spec["scores"]:
            return 0, n * (forward_flops(recipe.evolve(model=spec["scores"]["reference"]["model"])) or 0.0)
        scorer = Recipe.from_dict(spec["scores"]["scorer"])
        fwd, examples = forward_flops(scorer) or 0.0, run_examples(scorer) or 0
        return examples, examples * (training_flops(scorer) or 0.0) + n * fwd

