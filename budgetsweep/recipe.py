"""The recipe: everything one training run needs, as plain validated dataclasses.

Reductions transform a recipe into a cheaper one (``dataclasses.replace``), so a recipe is
frozen. Bad values raise ``ValueError`` naming the field, its value and what is allowed.
"""
from __future__ import annotations

import hashlib
import json
import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from budgetsweep.validate import require

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("constant", "cosine", "linear", "wsd")
PRECISIONS = ("fp32", "bf16", "fp16")
KEEP_MODES = ("epochs", "steps")
DEVICES = ("auto", "cpu", "cuda")
# train fields that change how, not what, is trained: not part of a configuration's identity
HOW_NOT_WHAT = ("device", "eval_every", "eval_budget_share", "save_checkpoint", "log_every_s")
# FLOPs of a forward pass as a share of a training step's (forward + backward, the backward costing
# about two forwards: 2N of 6N per token, Kaplan et al. 2020): what evaluating one example costs in
# training-example units, for pricing and bounding evaluation
FORWARD_SHARE = 1 / 3


# f x n is computed in floating point: 0.07 x 100 = 7.000000000000001 must count as 7, not 8
_ROUNDING = 1e-9


def subset_size(n: int, fraction: float) -> int:
    """Examples in a ``fraction`` subset of ``n``: ceil(fraction x n), at least 1, at most n.

    The one rule for subset sizes: ``budgetsweep.tasks.subset`` draws exactly this many, and the
    plan counts with it before any data is loaded. Raises ValueError for a fraction outside (0, 1].
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction={fraction!r} is out of range; it must be in (0, 1]")
    if n < 1:
        raise ValueError(f"n={n!r} examples: a training set needs at least 1")
    return min(n, max(1, math.ceil(fraction * n - _ROUNDING)))


_TYPE_WORDS = {float: "a number (float)", int: "an integer", str: "a string", bool: "true or false",
               type(None): "null"}


def _typed(value: Any, kind: type) -> tuple[bool, Any]:
    """(fits, value as stored): an int is a valid float (stored as float), an integral float a valid
    int (stored as int: 10.0 steps are 10 steps), a bool neither (YAML's true is no number)."""
    if kind is type(None):
        return value is None, value
    if isinstance(value, bool):
        return kind is bool, value
    if kind is float and isinstance(value, (int, float)):
        return True, float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return True, int(value)
    return isinstance(value, kind), value


def _kinds(hint: Any) -> tuple | None:
    """The plain types an annotation allows, or None when it says nothing checkable (Any, a class)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        found = [_kinds(arg) for arg in typing.get_args(hint)]
        return None if any(k is None for k in found) else tuple(k for ks in found for k in ks)
    origin = typing.get_origin(hint) or hint
    if origin in _TYPE_WORDS or origin in (list, dict, tuple):
        return (origin,)
    return None


def check_value_type(value: Any, hint: Any, key: str) -> Any:
    """``value`` checked against the annotation ``hint`` (ints are floats, integral floats ints, bools
    neither; containers by their kind only); returns it normalised. Raises ValueError naming ``key``,
    the value and the allowed type. An annotation it cannot check (Any, a class) passes the value."""
    kinds = _kinds(hint)
    if kinds is None:
        return value
    for kind in kinds:
        if kind in (list, tuple) and isinstance(value, (list, tuple)):
            return value
        if kind is dict and hasattr(value, "items"):
            return value
        fits, stored = _typed(value, kind) if kind in _TYPE_WORDS else (False, value)
        if fits:
            return stored
    allowed = " or ".join(_TYPE_WORDS.get(k, f"a {k.__name__}") for k in kinds)
    raise ValueError(f"{key}={value!r} has the wrong type ({type(value).__name__}); {key} must be {allowed}")


def check_types(spec: Any, section: str) -> None:
    """Check every field of a recipe dataclass against its annotation, normalising numbers in place.

    The recipe's dataclasses are the schema of the ``optim``/``train``/``data`` config sections, so a
    wrong type (``optim.lr=fast``) is a ValueError naming the key, the value and the allowed type
    before any compute, for the built-in app and users' own apps alike. (Hydra's structured configs
    would reject it at composition, but Hydra's multirun composes every job before running any, so one
    bad value would stop the whole sweep without a record.)
    """
    hints = typing.get_type_hints(type(spec))
    for f in fields(spec):
        stored = check_value_type(getattr(spec, f.name), hints[f.name], f"{section}.{f.name}")
        object.__setattr__(spec, f.name, stored)  # frozen: normalised once, at construction


@dataclass(frozen=True)
class OptimSpec:
    name: str = "adamw"
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        check_types(self, "optim")
        require(self.name in OPTIMIZERS, "optim.name", self.name, f"one of {OPTIMIZERS}")
        require(self.lr > 0 and math.isfinite(self.lr), "optim.lr", self.lr, "a positive number")
        require(0 <= self.momentum < 1, "optim.momentum", self.momentum, "in [0, 1)")
        require(self.weight_decay >= 0, "optim.weight_decay", self.weight_decay, ">= 0")
        require(0 <= self.beta1 < 1, "optim.beta1", self.beta1, "in [0, 1)")
        require(0 <= self.beta2 < 1, "optim.beta2", self.beta2, "in [0, 1)")
        require(self.eps > 0, "optim.eps", self.eps, "> 0")


@dataclass(frozen=True)
class TrainSpec:
    """How long and how to train.

    Length is ``epochs`` or ``steps`` (exactly one). The schedule has a nominal length
    (``schedule_fraction`` of the full length) and the run stops after ``run_fraction`` of
    the full length; a truncated schedule stops before its nominal end, a compressed one
    shrinks the nominal length itself.
    """

    batch_size: int = 32
    epochs: float | None = 30.0
    steps: int | None = None
    schedule: str = "cosine"
    warmup_steps: int = 0
    cooldown_fraction: float = 0.2  # share of the schedule spent decaying under wsd
    min_lr_ratio: float = 0.0
    eval_every: int = 100
    # evaluation's most share of the run's compute (training + evaluation, in forward-pass FLOPs): the
    # plan raises eval_every until it fits (``Recipe.bounded_eval_every``); 1 leaves eval_every alone
    eval_budget_share: float = 0.1
    precision: str = "fp32"
    device: str = "auto"
    run_fraction: float = 1.0
    schedule_fraction: float = 1.0
    save_checkpoint: bool = False
    # off a terminal (SLURM, nohup, launchers' log files): a progress line every this many seconds (0: at the end only)
    log_every_s: float = 30.0

    def __post_init__(self) -> None:
        check_types(self, "train")
        require(isinstance(self.batch_size, int) and self.batch_size >= 1,
               "train.batch_size", self.batch_size, "an integer >= 1")
        require((self.epochs is None) != (self.steps is None), "train.epochs/train.steps",
               (self.epochs, self.steps), "exactly one of them set (the other null)")
        if self.epochs is not None:
            require(self.epochs > 0, "train.epochs", self.epochs, "> 0")
        if self.steps is not None:
            require(isinstance(self.steps, int) and self.steps >= 1, "train.steps", self.steps, "an integer >= 1")
        require(self.schedule in SCHEDULES, "train.schedule", self.schedule, f"one of {SCHEDULES}")
        require(self.warmup_steps >= 0, "train.warmup_steps", self.warmup_steps, ">= 0")
        require(0 < self.cooldown_fraction <= 1, "train.cooldown_fraction", self.cooldown_fraction, "in (0, 1]")
        require(0 <= self.min_lr_ratio <= 1, "train.min_lr_ratio", self.min_lr_ratio, "in [0, 1]")
        require(self.eval_every >= 1, "train.eval_every", self.eval_every, "an integer >= 1")
        require(math.isfinite(self.log_every_s) and self.log_every_s >= 0, "train.log_every_s", self.log_every_s,
                "seconds >= 0 (0: a line at the end only)")
        require(0 < self.eval_budget_share <= 1, "train.eval_budget_share", self.eval_budget_share,
               "in (0, 1] (the most share of a run's compute that evaluation may take; 1: no bound)")
        require(self.precision in PRECISIONS, "train.precision", self.precision, f"one of {PRECISIONS}")
        require(self.device in DEVICES, "train.device", self.device, f"one of {DEVICES}")
        require(0 < self.run_fraction <= 1, "train.run_fraction", self.run_fraction, "in (0, 1]")
        require(0 < self.schedule_fraction <= 1, "train.schedule_fraction", self.schedule_fraction, "in (0, 1]")
        require(self.run_fraction <= self.schedule_fraction + 1e-12, "train.run_fraction",
               self.run_fraction, f"<= train.schedule_fraction ({self.schedule_fraction})")


@dataclass(frozen=True)
class DataSpec:
    """Which part of the task's training set a run sees."""

    fraction: float = 1.0
    keep: str = "epochs"  # with a subset: keep the epoch count (cheaper) or the step count
    subset_seed: int = 0

    def __post_init__(self) -> None:
        check_types(self, "data")
        require(0 < self.fraction <= 1, "data.fraction", self.fraction, "in (0, 1]")
        require(self.keep in KEEP_MODES, "data.keep", self.keep, f"one of {KEEP_MODES}")


@dataclass(frozen=True)
class Recipe:
    task: dict[str, Any]
    model: dict[str, Any]
    optim: OptimSpec = field(default_factory=OptimSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    data: DataSpec = field(default_factory=DataSpec)
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # fields a reduction adds (distill, ...)

    def __post_init__(self) -> None:
        fits, seed = _typed(self.seed, int)
        require(fits and seed >= 0, "seed", self.seed, "an integer >= 0")
        object.__setattr__(self, "seed", seed)

    # -- derived sizes and lengths ---------------------------------------------------------
    # One set of formulas for the plan, the trainer and a user's loop (``RunContext.steps``), so
    # planned work equals measured work exactly (examples are the exact budget unit).
    def train_set_size(self, n_train: int) -> int:
        """Examples in the training set the run draws batches from.

        ``n_train`` is the task's full training-set size; the run keeps ``subset_size(n_train,
        data.fraction)`` of them, and an ``extra`` that replaces the set by another of a given
        relative size (``synthetic_data``: ``{"train_set_factor": size}``) rescales that (rounded).
        """
        n = subset_size(n_train, self.data.fraction)
        for spec in self.extra.values():
            factor = spec.get("train_set_factor") if isinstance(spec, dict) else None
            if factor is not None:
                n = max(1, round(n * factor))
        return n

    def batch_for(self, n_train: int) -> int:
        """Examples per step: ``train.batch_size``, capped at the training set's size (a tiny subset
        cannot fill a large batch)."""
        return min(self.train.batch_size, self.train_set_size(n_train))

    def full_steps(self, n_train: int) -> int:
        """Steps of the un-shortened schedule.

        ``n_train`` is the task's full training-set size. With ``train.steps`` that count (a
        reduction that keeps epochs has already rescaled it). With ``train.epochs``:
        ceil(epochs x n / batch) where, under ``data.keep=epochs``, n is the subset's size and
        batch ``batch_for(n_train)`` (the same epochs over fewer examples), and under
        ``data.keep=steps`` n and the batch are the full set's (the full run's step count).
        """
        if self.train.steps is not None:
            return self.train.steps
        if self.data.keep == "epochs":
            batch = self.batch_for(n_train)
        else:
            batch = min(self.train.batch_size, n_train)
        return max(1, math.ceil(self.train.epochs * self.epoch_size(n_train) / batch - _ROUNDING))

    def epoch_size(self, n_train: int) -> int:
        """Examples one of ``train.epochs`` passes over: the subset's ``subset_size(n_train,
        data.fraction)`` under ``data.keep=epochs``, the full set's ``n_train`` under ``keep=steps``;
        an ``extra`` that replaces the set and counts epochs over its stand-in (``synthetic_data``
        keep=epochs: ``{"train_set_factor": size, "epochs_over_set": true}``) rescales that (rounded
        as ``train_set_size`` rounds), so ``train.epochs`` stays the number of passes the run makes.
        """
        n = subset_size(n_train, self.data.fraction) if self.data.keep == "epochs" else n_train
        for spec in self.extra.values():
            if isinstance(spec, dict) and spec.get("epochs_over_set") and spec.get("train_set_factor") is not None:
                n = max(1, round(n * spec["train_set_factor"]))
        return n

    def schedule_steps(self, n_train: int) -> int:
        """Length of the learning-rate schedule: ``train.schedule_fraction`` of ``full_steps``."""
        return max(1, round(self.full_steps(n_train) * self.train.schedule_fraction))

    def run_steps(self, n_train: int) -> int:
        """Steps the run takes: ``train.run_fraction`` of ``full_steps``."""
        return max(1, round(self.full_steps(n_train) * self.train.run_fraction))

    def run_examples(self, n_train: int) -> int:
        """Training examples the run processes: ``run_steps`` x ``batch_for`` (before any auxiliary
        model a reduction trains)."""
        return self.run_steps(n_train) * self.batch_for(n_train)

    # -- evaluation ------------------------------------------------------------------------
    def val_set_size(self, n_val: int) -> int:
        """Validation examples one evaluation covers: ``n_val`` (the task's validation split), cut by
        an ``extra`` that evaluates on a subset (``eval_subset``: ``{"val_set_fraction": f}``) to
        ``subset_size(n_val, f)``."""
        for spec in self.extra.values():
            fraction = spec.get("val_set_fraction") if isinstance(spec, dict) else None
            if fraction is not None and n_val > 0:
                n_val = subset_size(n_val, fraction)
        return n_val

    def bounded_eval_every(self, n_train: int, n_val: int, n_final: int) -> int:
        """Steps between evaluations, so that evaluation takes at most ``train.eval_budget_share`` of
        the run's compute: ``train.eval_every`` raised to the smallest interval k whose evaluations fit.

        Units are forward passes of one example: a training example costs 1 / ``FORWARD_SHARE`` (3),
        an evaluated one 1. ``n_val`` examples are evaluated every k steps and at the last step;
        ``n_final`` (the last validation pass plus a test pass) are always evaluated, since the
        objective needs them, so only the intermediate evaluations are bounded: at most
        floor((s/(1-s) x training - n_final) / n_val) of them (s the share), hence
        k = (steps - 1) // (allowed + 1) + 1, at most the step count (evaluate at the end only).
        """
        t = self.train
        steps = self.run_steps(n_train)
        if t.eval_budget_share >= 1 or n_val <= 0:
            return t.eval_every
        training = steps * self.batch_for(n_train) / FORWARD_SHARE
        spare = t.eval_budget_share / (1 - t.eval_budget_share) * training - n_final
        allowed = max(0, math.floor(spare / n_val + _ROUNDING))
        return min(max(t.eval_every, (steps - 1) // (allowed + 1) + 1), max(steps, t.eval_every))

    def evaluations(self, n_train: int) -> int:
        """Evaluations during the run: every ``train.eval_every`` steps and after the last step."""
        return (self.run_steps(n_train) - 1) // self.train.eval_every + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Recipe":
        return cls(
            task=dict(data["task"]),
            model=dict(data["model"]),
            optim=OptimSpec(**data.get("optim", {})),
            train=TrainSpec(**data.get("train", {})),
            data=DataSpec(**data.get("data", {})),
            seed=int(data.get("seed", 0)),
            extra=dict(data.get("extra", {})),
        )

    def evolve(self, **sections: Any) -> "Recipe":
        """A new recipe with some sections replaced; each section given as a dict of field changes."""
        changes = {}
        for name, value in sections.items():
            current = getattr(self, name)
            if isinstance(value, dict) and hasattr(current, "__dataclass_fields__"):
                changes[name] = replace(current, **value)
            else:
                changes[name] = value
        return replace(self, **changes)


def spec_from_mapping(cls, mapping: dict[str, Any], section: str):
    """Build a spec dataclass from a config mapping, naming unknown keys clearly."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in '{section}'; allowed keys: {sorted(known)}")
    return cls(**mapping)


def canonical(value: Any) -> Any:
    """A value in one spelling per meaning, for identities: an integral float is an int (10.0 -> 10,
    so ``train.epochs=10`` and ``=10.0`` agree), tuples are lists, mapping keys strings; floats are
    compared as floats, so 1e-3 and 0.001 already agree. Bools, None and strings stay as they are.
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return str(value)


def config_key(full_recipe: Recipe) -> str:
    """Identity of a configuration: the full recipe without its seed, in canonical form.

    Proxy and full runs of one configuration share it, because reductions are applied after
    the full recipe is built. Equal values give equal keys however they were spelled
    (``canonical``): 10 and 10.0, 1e-3 and 0.001, [1, 2] and [1.0, 2.0].
    """
    data = full_recipe.to_dict()
    data.pop("seed", None)
    for where in HOW_NOT_WHAT:
        data["train"].pop(where, None)
    canon = json.dumps(canonical(data), sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()[:12]
