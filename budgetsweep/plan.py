"""From a composed config to a planned run: task, full recipe, reductions, proxy recipe, work.

Everything here is checked before any training starts, so bad input fails with one message
and no compute spent. The budget sweeper calls ``plan_run`` to predict a trial's cost.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from budgetsweep.guards import GuardSettings, evaluation_over_bound, recipe_warnings
from budgetsweep.recipe import (FORWARD_SHARE, HOW_NOT_WHAT, DataSpec, OptimSpec, Recipe, TrainSpec, canonical, config_key,
                                spec_from_mapping)
from budgetsweep.reductions.base import Reduction, apply_all, reduction_label

# overrides that do not define a configuration: how it is reduced, its seed, where it runs
_NOT_CONFIG = ("reduction", "seed", "hydra", "budgetsweep", "guards", "logger", "hparams_search", *(f"train.{name}" for name in HOW_NOT_WHAT))


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key, the value and what is allowed."""


@dataclass(frozen=True)
class RunPlan:
    task: Any = field(repr=False)  # None for a user's own app
    full_recipe: Recipe
    recipe: Recipe
    reductions: tuple[Reduction, ...]
    described: list[dict[str, Any]]
    predicted_factor: float
    config_key: str
    config: dict[str, Any]
    reduction_label: str
    n_train_full: int
    steps: int
    examples: int
    flops_per_example: float | None = None
    extra_examples: int = 0   # an auxiliary model trained on the fly (distill's teacher, curriculum's scorer)
    extra_flops: float = 0.0  # its training FLOPs plus a teacher's forward passes
    warnings: tuple[str, ...] = ()  # every guard's warning (budgetsweep.guards): logged and recorded by runs
    # the subset about cost, not fidelity (evaluation above its share): a proxy with only these still ranks
    # as it would; auto-proxy's default candidates leave out only those with fidelity warnings
    cost_warnings: tuple[str, ...] = ()
    guards: GuardSettings = field(default_factory=GuardSettings)  # the ``guards`` config section
    # evaluation: ``evaluations`` passes over ``n_val`` validation examples (after eval_subset), then
    # one over ``n_test`` test examples; None where unknown (a user's own loop)
    evaluations: int = 0
    n_val: int | None = None
    n_test: int = 0

    @property
    def flops(self) -> float | None:
        if self.flops_per_example is None:
            return None
        return (self.examples - self.extra_examples) * self.flops_per_example + self.extra_flops

    @property
    def eval_examples(self) -> int | None:
        """Examples evaluated over the run (forward passes only); None when the validation size is unknown."""
        if self.n_val is None:
            return None
        return self.evaluations * self.n_val + self.n_test

    @property
    def eval_flops(self) -> float | None:
        """FLOPs of the run's evaluations: examples evaluated x a forward pass (``FORWARD_SHARE`` of a
        training example's FLOPs)."""
        if self.eval_examples is None or self.flops_per_example is None:
            return None
        return self.eval_examples * self.flops_per_example * FORWARD_SHARE


def _container(node) -> dict[str, Any]:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})


def build_full_recipe(cfg: DictConfig) -> Recipe:
    optim = _container(cfg.optim)
    train = _container(cfg.train)
    return Recipe(
        task=_container(cfg.task),
        model=_container(cfg.model),
        optim=spec_from_mapping(OptimSpec, optim, "optim"),
        train=spec_from_mapping(TrainSpec, train, "train"),
        data=DataSpec(),
        seed=cfg.seed,
    )


def build_reductions(cfg: DictConfig) -> list[Reduction]:
    """Instantiate ``cfg.reduction`` (a mapping name -> config with ``_target_``), in list order."""
    found = []
    nodes = dict((cfg.get("reduction") or {}).items())
    listed = [n for n, node in nodes.items() if isinstance(node, DictConfig) and "_target_" in node]
    for name, node in nodes.items():
        if not isinstance(node, DictConfig) or "_target_" not in node:
            raise ConfigError(
                f"reduction.{name} has no _target_: parameters were given for reduction {name} (by an override or "
                f"a preset), but it is not in the reduction list ({', '.join(listed) or 'full'}); add it to "
                f"reduction=[...] or drop its parameters. Each reduction config must name its class")
        try:
            found.append(instantiate(node))
        except Exception as exc:  # Hydra wraps the constructor's ValueError
            raise ConfigError(_root_message(exc)) from None
    return found


def _root_message(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc)


def readable_config(overrides: list[str], task_name: str) -> dict[str, Any]:
    """The hyperparameters that identify a configuration, from the command line's overrides, parsed
    as Hydra parses them and in canonical form (``recipe.canonical``: ``train.epochs=10`` and
    ``=10.0`` read alike, and ``[1,2]`` like ``[1.0, 2]``)."""
    config: dict[str, Any] = {"task": task_name}
    for item in overrides:
        key, sep, value = item.lstrip("+~").partition("=")
        if not sep or key.startswith(_NOT_CONFIG):
            continue
        config[key] = canonical(_parsed(item, value))
    return config


@functools.lru_cache(maxsize=1)
def _parser():
    """Hydra's override parser, built once (building its grammar costs more than parsing a line)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


def _parsed(item: str, text: str):
    try:
        value = _parser().parse_override(item).value()
    except Exception:  # not Hydra's grammar (it ran, so Hydra accepted it): read it as a scalar
        return _scalar(text)
    if isinstance(value, str):  # a quoted '10' stays a string; Hydra writes sweep values back as None
        return _WORDS.get(value.lower(), value) if value.lower() in ("none", "null") else value
    return value


_WORDS = {"true": True, "false": False, "null": None, "none": None}


def _scalar(text: str):
    if text.lower() in _WORDS:  # Hydra writes sweep values back as True/False/None
        return _WORDS[text.lower()]
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def check_target_types(node, section: str) -> None:
    """Check a ``_target_`` config's values against the target's constructor annotations (the task's
    and model's fields are recipe fields too), so ``task.n_train=abc`` names the key, the value and
    the type instead of failing deep inside. Keys the constructor does not annotate pass unchecked."""
    import inspect
    import typing

    from hydra.utils import get_object

    from budgetsweep.recipe import check_value_type

    data = _container(node)
    target = data.get("_target_")
    if not target:
        return
    try:
        obj = get_object(target)
        init = obj.__init__ if inspect.isclass(obj) else obj
        hints = typing.get_type_hints(init)
    except Exception:  # an unimportable target is reported by instantiate; odd annotations check nothing
        return
    for key, value in data.items():
        if key in hints and not key.startswith("_"):
            check_value_type(value, hints[key], f"{section}.{key}")


def guard_settings(cfg: DictConfig) -> GuardSettings:
    """The ``guards`` section of ``cfg`` (defaults when absent); ConfigError naming a bad key or value."""
    try:
        return GuardSettings.from_mapping(_container(cfg.get("guards")))
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


def plan_run(cfg: DictConfig, overrides: list[str] | None = None, *, count_flops: bool = True) -> RunPlan:
    """Validate and plan one run. Raises ConfigError for anything that cannot run."""
    guards = guard_settings(cfg)
    try:
        check_target_types(cfg.task, "task")
        check_target_types(cfg.model, "model")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        task = instantiate(cfg.task)
    except Exception as exc:
        raise ConfigError(_root_message(exc)) from None
    try:
        full = build_full_recipe(cfg)
        reductions = build_reductions(cfg)
        recipe, described, factor = apply_all(reductions, full)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    n_full = task.n_train()
    n_val_split = eval_sizes(task, recipe)[0]
    recipe, n_val, n_test = bound_evaluation(task, recipe, n_full)
    steps = recipe.run_steps(n_full)
    examples = recipe.run_examples(n_full)  # the trainer's own formulas: planned = measured
    cost = tuple(evaluation_over_bound(recipe, examples, recipe.evaluations(n_full), n_val, n_val_split, n_test))
    flops_per_example = _count_flops(task, recipe) if count_flops else None
    extra = [r.extra_work(recipe) for r in reductions if hasattr(r, "extra_work")]
    extra_examples, extra_flops = sum(e for e, _ in extra), sum(f for _, f in extra)
    if guards.noise_scale:  # the opt-in measurement's forward and backward passes are work too
        probe = noise_scale_examples(recipe, n_full, guards)
        extra_examples += probe
        extra_flops += probe * (flops_per_example or 0.0)
    if flops_per_example is not None:
        factor = _flops_factor(task, full, n_full, examples * flops_per_example + extra_flops, factor)
    return RunPlan(
        task=task, full_recipe=full, recipe=recipe, reductions=tuple(reductions), described=described,
        predicted_factor=factor, config_key=config_key(full), reduction_label=reduction_label(reductions),
        config=readable_config(overrides or [], getattr(task, "name", "task")),
        n_train_full=n_full, steps=steps, examples=examples + extra_examples, flops_per_example=flops_per_example,
        extra_examples=extra_examples, extra_flops=extra_flops,
        warnings=recipe_warnings(full, recipe, n_full, guards) + reduction_warnings(reductions, full) + cost,
        cost_warnings=cost, guards=guards, evaluations=recipe.evaluations(n_full), n_val=n_val, n_test=n_test,
    )


def reduction_warnings(reductions, full: Recipe) -> tuple[str, ...]:
    """Warnings of the reductions that have them (``warnings(recipe)``: e.g. batch_scaling's rule against
    the optimizer), each given the recipe it is applied to."""
    found, recipe = [], full
    for reduction in reductions:
        check = getattr(reduction, "warnings", None)
        if callable(check):
            found += check(recipe)
        recipe = reduction.apply(recipe)
    return tuple(found)


def noise_scale_examples(recipe: Recipe, n_train: int, guards: GuardSettings) -> int:
    """Examples the gradient-noise-scale measurement processes: the run's batch (split into small ones), per batch."""
    from budgetsweep.train.noise_scale import measurement_examples  # no torch: the module imports it lazily

    return measurement_examples(recipe.batch_for(n_train), guards.noise_scale_batches)


def eval_sizes(task, recipe: Recipe) -> tuple[int, int]:
    """(validation, test) examples of the task's splits: the task's ``eval_sizes()`` where it has one
    (the built-in tasks: no data built), else counted from ``build_data``."""
    sizes = getattr(task, "eval_sizes", None)
    if callable(sizes):
        n_val, n_test = sizes()
        return int(n_val), int(n_test)
    data = task.build_data(recipe)
    return len(data.val_x), 0 if data.test_x is None else len(data.test_x)


def bound_evaluation(task, recipe: Recipe, n_train: int) -> tuple[Recipe, int, int]:
    """The recipe with ``train.eval_every`` raised so evaluation stays within
    ``train.eval_budget_share`` of the run's compute (``Recipe.bounded_eval_every``), and the
    validation examples one evaluation covers and the test examples evaluated once. The trainer runs
    this recipe, so the planned evaluations are the ones it makes."""
    n_val_split, n_test = eval_sizes(task, recipe)
    n_val = recipe.val_set_size(n_val_split)
    every = recipe.bounded_eval_every(n_train, n_val, n_val + n_test)
    if every != recipe.train.eval_every:
        recipe = recipe.evolve(train={"eval_every": every})
    return recipe, n_val, n_test


# recipe fields a reduction may only change if the user's config defines them: otherwise it
# would silently rescale a default the user's code never uses
_USER_FIELDS = {"train.batch_size", "train.epochs", "train.steps", "optim.lr", "optim.beta1", "optim.beta2",
                "optim.eps"}


def _field(recipe: Recipe, dotted: str) -> Any:
    section, name = dotted.split(".")
    return getattr(getattr(recipe, section), name)


def _user_section(cfg: DictConfig, name: str, spec_cls) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a user's config section into the recipe fields we know and the user's own fields."""
    data = _container(cfg.get(name) or {})
    known = {f for f in spec_cls.__dataclass_fields__}
    return {k: v for k, v in data.items() if k in known}, {k: v for k, v in data.items() if k not in known}


def plan_user_run(cfg: DictConfig, overrides: list[str] | None = None) -> RunPlan:
    """Plan a run of a user's own training code: the recipe comes from the ``optim`` and ``train``
    sections of their config (same names as ours; other keys are kept as user fields), reductions
    from ``reduction``. Raises ConfigError when a reduction changes a field the config lacks."""
    guards = guard_settings(cfg)
    optim, optim_extra = _user_section(cfg, "optim", OptimSpec)
    train, train_extra = _user_section(cfg, "train", TrainSpec)
    if "steps" in train and train.get("steps") is not None:
        train.setdefault("epochs", None)
    defined = {f"optim.{k}" for k in optim} | {f"train.{k}" for k in train}
    user_config = {k: v for k, v in _container(cfg).items() if k not in ("reduction", "seed", "budgetsweep", "guards")}
    try:
        full = Recipe(task={"app": "user"}, model=_container(cfg.get("model") or {}),
                      optim=OptimSpec(**optim), train=TrainSpec(**train), data=DataSpec(),
                      seed=int(cfg.get("seed", 0) or 0),
                      extra={"config": user_config, "user_fields": {"optim": optim_extra, "train": train_extra}})
        reductions = build_reductions(cfg)
        current = full
        for reduction in reductions:
            # the fields this reduction really changes with these parameters (batch_scaling's sqrt rule
            # declares the Adam betas but leaves them alone): only those must be in the user's config
            after = reduction.apply(current)
            lacking = sorted(f for f in reduction.changes if f in _USER_FIELDS and f not in defined
                             and _field(current, f) != _field(after, f))
            current = after
            if lacking:
                raise ConfigError(
                    f"reduction.{reduction.name} changes {', '.join(lacking)}, which this app's config does not "
                    f"define; add {' and '.join(lacking)} to the config (and read them through the run context) "
                    f"or drop the reduction")
        recipe, described, factor = apply_all(reductions, full)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    steps = recipe.run_steps(0) if recipe.train.steps is not None else 0
    return RunPlan(
        task=None, full_recipe=full, recipe=recipe, reductions=tuple(reductions), described=described,
        predicted_factor=factor, config_key=config_key(full), reduction_label=reduction_label(reductions),
        config=readable_config(overrides or [], "user"), n_train_full=0, steps=steps,
        examples=steps * recipe.train.batch_size,
        warnings=(recipe_warnings(full, recipe, None, guards) + reduction_warnings(reductions, full)
                  + _unmeasured(guards)),
        guards=guards,
        evaluations=(steps - 1) // recipe.train.eval_every + 1 if steps else 0,  # sizes unknown: n_val None
    )


def _unmeasured(guards: GuardSettings) -> tuple[str, ...]:
    # the measurement needs the task's data and model, which an own loop keeps to itself
    if not guards.noise_scale:
        return ()
    return ("guards.noise_scale=true measures the gradient noise scale for built-in tasks only; this own training "
            "loop's run was not measured",)


def _flops_factor(task, full: Recipe, n_full: int, proxy_flops: float, product: float) -> float:
    """The proxy's training FLOPs (one-off work included) over its full recipe's: what budgetsweep-plan
    shows and the run measures. The product of the reductions' own factors is not that number once a
    reduction with one-off work (a teacher or scorer trained first) is followed by another, which does
    not shrink the one-off work, or a model-changing one follows distill (its ratio is the student's
    alone); it stays the answer where the full recipe's FLOPs cannot be counted."""
    full_flops = full.run_examples(n_full) * _count_flops(task, full)
    return proxy_flops / full_flops if full_flops > 0 else product


def _count_flops(task, recipe: Recipe) -> float:
    analytic = getattr(task, "flops_per_example", None)  # a task's own formula (charlm's GPT): no data, no model
    if callable(analytic) and (value := analytic(recipe)):
        return float(value)
    import torch

    from budgetsweep.flops import training_flops_per_example

    from budgetsweep.tasks.cache import FLOPS, content_key, tensor_signature

    data = task.build_data(recipe)
    batch = min(8, len(data.train_x))
    x, y = data.train_x[:batch], data.train_y[:batch]

    def count() -> float:
        try:
            model = task.build_model(recipe)
        except Exception as exc:
            raise ConfigError(f"model could not be built: {_root_message(exc)}") from None
        with torch.random.fork_rng():
            return training_flops_per_example(model, task.loss, x, y)

    task_key = getattr(task, "cache_key", None)
    if not callable(task_key):  # a user's task without a content key: counted every time
        return count()
    # once per distinct task content, model config and batch shape (budgetsweep.tasks.cache)
    return FLOPS.get(content_key("plan", task_key(), recipe.model, tensor_signature(x, y)), count)
