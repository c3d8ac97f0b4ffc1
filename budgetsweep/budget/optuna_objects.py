"""Samplers and pruners from their configs (``hydra/sweeper/sampler``, ``hydra/sweeper/pruner``).

A ``null`` argument means "the sampler's own default" and is not passed, so Optuna 5's defaults
apply and its deprecated arguments (which hydra-optuna-sweeper configs still carry) warn only when
a user sets them. The pruner's config is also what a job needs to rebuild the study's pruner, so it
travels as plain data (a study user attribute), never as a pickled object.
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from budgetsweep.dotted import get_method

PRUNER_ATTR = "budgetsweep:pruner"


def _target(conf: Mapping[str, Any], key: str):
    path = conf.get("_target_")
    if not isinstance(path, str) or "." not in path:
        raise ValueError(f"{key}._target_={path!r} is not allowed; it must be a dotted path to a class")
    try:
        return get_method(path)
    except (ImportError, ValueError) as exc:
        raise ValueError(f"{key}._target_={path!r} cannot be imported: {exc}") from None


def _required(target) -> set[str]:
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in params if p.default is inspect.Parameter.empty}


def build(conf: Mapping[str, Any] | None, key: str, **extra: Any):
    """Instantiate ``conf`` (a mapping with ``_target_``; nested ``_target_`` mappings too)."""
    if conf is None:
        return None
    conf = dict(conf)
    target = _target(conf, key)
    required = _required(target)
    kwargs = {}
    for name, value in conf.items():
        if name.startswith("_") and name.endswith("_"):
            continue  # _target_, _partial_, ...
        if value is None and name not in required:
            continue
        if value == "???":
            raise ValueError(f"{key}.{name} is required by {conf['_target_']} and not set; set {key}.{name}")
        if isinstance(value, Mapping) and "_target_" in value:
            value = build(value, f"{key}.{name}")
        kwargs[name] = value
    kwargs.update(extra)
    try:
        return target(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{key}: {conf['_target_']}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}) "
                         f"is not allowed: {exc}") from None


def is_grid(conf: Mapping[str, Any] | None) -> bool:
    return bool(conf) and str(conf.get("_target_", "")).endswith("GridSampler")


def build_sampler(conf: Mapping[str, Any] | None, grid: dict[str, list] | None = None):
    if is_grid(conf):
        return build(conf, "hydra.sweeper.sampler", search_space=grid or {})
    return build(conf, "hydra.sweeper.sampler")


def build_pruner(conf: Mapping[str, Any] | None):
    if not conf:
        import optuna

        return optuna.pruners.NopPruner()
    return build(conf, "hydra.sweeper.pruner")
