"""Which examples each step trains on.

- ``ShuffledEpochs`` (default): a fresh permutation per epoch, the ragged last batch dropped.
- ``PacedSampler`` (``reduction=curriculum``): examples ordered by difficulty (or at random, the
  control); step t draws its batch uniformly from the first g(t) of them, g the pacing function.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from budgetsweep.recipe import Recipe
from budgetsweep.reductions.curriculum import pacing_size, scores_cache_file
from budgetsweep.reductions.support import DATA_EXTRAS
from budgetsweep.train.auxiliary import CostOnly, from_checkpoint, save_atomic

log = logging.getLogger("budgetsweep")
SCORE_CHUNK = 4096


class ShuffledEpochs:
    info: dict[str, Any] = {}

    def __init__(self, n: int, batch: int, seed: int, device: torch.device) -> None:
        self.n, self.batch, self.device = n, batch, device
        self.gen = torch.Generator().manual_seed(seed)
        self.order, self.pos = None, n

    def next(self, step: int) -> torch.Tensor:
        if self.pos + self.batch > self.n:  # new epoch: reshuffle, drop the ragged last batch
            self.order, self.pos = torch.randperm(self.n, generator=self.gen).to(self.device), 0
        idx = self.order[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return idx


class PacedSampler:
    """Batches drawn from the front of an ordering, the front growing with the pacing function."""

    def __init__(self, ranking: torch.Tensor, batch: int, total_steps: int, seed: int, device: torch.device,
                 pacing: dict[str, Any], info: dict[str, Any] | None = None) -> None:
        self.ranking = ranking.to(device)  # example indices, the first to be let in first
        self.batch, self.total_steps, self.pacing = batch, total_steps, pacing
        self.gen = torch.Generator().manual_seed(seed)
        self.info = {"curriculum": info or {}}

    def available(self, step: int) -> int:
        return pacing_size(step, self.total_steps, len(self.ranking), self.batch, **self.pacing)

    def next(self, step: int) -> torch.Tensor:
        pick = torch.randperm(self.available(step), generator=self.gen)[:self.batch]
        return self.ranking[pick.to(self.ranking.device)]


def ranking_from_scores(scores: np.ndarray, order: str, seed: int) -> torch.Tensor:
    """Example indices easiest first (ascending loss), hardest first, or in a seeded random order."""
    if order == "random":
        return torch.randperm(len(scores), generator=torch.Generator().manual_seed(seed))
    keys = scores if order == "easy_first" else -scores
    return torch.as_tensor(np.argsort(keys, kind="stable"))


@torch.no_grad()
def per_example_loss(model: torch.nn.Module, task, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """The task's loss of each example separately (vectorised with ``torch.func.vmap`` where it can be)."""
    model.eval()
    one = lambda out, target: task.loss(out.unsqueeze(0), target.unsqueeze(0))  # noqa: E731
    found = []
    for start in range(0, len(x), SCORE_CHUNK):
        out, target = model(x[start:start + SCORE_CHUNK]).float(), y[start:start + SCORE_CHUNK]
        try:
            found.append(torch.func.vmap(one)(out, target))
        except Exception:  # a loss vmap cannot trace: one example at a time
            found.append(torch.stack([one(o, t) for o, t in zip(out, target)]))
    return torch.cat(found).double().cpu().numpy()


def difficulty_scores(recipe: Recipe, task, x: torch.Tensor, y: torch.Tensor, device: torch.device,
                      reporter, train) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-example loss under the curriculum's reference model, from the cache or computed (and cached)."""
    spec = recipe.extra["curriculum"]
    path = scores_cache_file(spec["cache_dir"], spec["scores"], recipe)
    if path.is_file():
        scores = np.load(path, allow_pickle=False)
        if scores.shape != (len(x),):
            raise ValueError(f"curriculum scores {path} hold {scores.shape[0]} examples but the run trains on "
                             f"{len(x)}; delete the file to recompute them")
        return scores, {"scores": str(path), "cached": True}
    if "reference" in spec["scores"]:
        ref = spec["scores"]["reference"]
        model = from_checkpoint(task, recipe, ref["model"], ref["checkpoint"], device)
        what = {"reference": ref["checkpoint"]}
    else:
        scorer = Recipe.from_dict(spec["scores"]["scorer"]).evolve(train={"device": recipe.train.device})
        run_data = (recipe.data, {k: v for k, v in recipe.extra.items() if k in DATA_EXTRAS})
        if (scorer.data, scorer.extra) != run_data:
            raise ValueError(f"the curriculum scorer was planned for data {scorer.data} {scorer.extra} but the run "
                             f"trains on {run_data[0]} {run_data[1]}; list curriculum after data_subset and "
                             f"synthetic_data in reduction=[...]")
        with torch.random.fork_rng():
            result = train(scorer, task, CostOnly(reporter), progress=False)
        model = result.model
        reporter.add_cost(flops=len(x) * result.flops_per_example / 3)  # the scoring pass: forward only
        what = {"scorer_metrics": result.metrics, "scorer_steps": result.steps}
    scores = per_example_loss(model, task, x, y)
    note = {"what": "curriculum difficulty scores (per-example loss)", **what, "task": recipe.task,
            "data": recipe.to_dict()["data"]}
    save_atomic(path, lambda fh: np.save(fh, scores, allow_pickle=False), note)
    log.info("curriculum: scored %d examples, cached at %s", len(scores), path)
    return scores, {"scores": str(path), "cached": False, **what}


def batch_sampler(recipe: Recipe, task, x: torch.Tensor, y: torch.Tensor, batch: int, total_steps: int,
                  device: torch.device, reporter, train=None):
    """Shuffled epochs, or (``reduction=curriculum``) batches paced over a difficulty ordering."""
    spec = recipe.extra.get("curriculum")
    if spec is None:
        return ShuffledEpochs(len(x), batch, recipe.seed, device)
    if spec["order"] == "random":  # the control: the same pacing over a random order needs no scores
        scores, info = np.zeros(len(x)), {}
    else:
        scores, info = difficulty_scores(recipe, task, x, y, device, reporter, train)
    ranking = ranking_from_scores(scores, spec["order"], recipe.seed)
    pacing = {k: spec[k] for k in ("pacing", "start_fraction", "ramp_fraction")}
    return PacedSampler(ranking, batch, total_steps, recipe.seed, device, pacing, {**info, "order": spec["order"]})
