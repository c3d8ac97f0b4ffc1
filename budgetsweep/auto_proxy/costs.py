"""Each rung's predicted cost of one trial, from the planner (``budgetsweep-plan``'s rows).

The base overrides (the task and fixed settings of the sweep, no search-space values) are composed
once at full scale and once with each candidate's overrides, exactly as ``budgetsweep-plan`` composes
a command (``plan_compose.compose_jobs``), and planned by ``plan_table.plan_row``: ``examples`` and
``flops`` are the planner's exact training work (what the cost model charges in those units),
``gpu_hours`` its time model's seconds (training, evaluation and per-job overhead, calibrated on the
records under ``records`` when there are enough) / 3600. Nothing trains.

A candidate that cannot run for this task (an unknown preset, a reduction the task rejects, a preset
that switches the task, like ``charlm_proxy50`` on digits) is one ``AutoProxyConfigError`` naming the
candidate's key, before anything runs.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .phases import SAMPLED, RungCost
from .proxy_search import rung_name
from .settings import KEY, AutoProxyConfigError, AutoProxySettings, Candidate, ProxySearch

PLAN_UNITS = {"examples": ("examples",), "flops": ("examples", "flops"), "gpu_hours": ("examples", "time")}


@dataclass(frozen=True)
class RungPlan:
    """A rung as the planner sees it: its predicted cost per trial and the guards' warnings."""

    name: str
    label: str
    cost: float
    overrides: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def rung_cost(self) -> RungCost:
        return RungCost(self.name, self.cost, self.label)


def _cost(row, unit: str) -> float | None:
    if unit == "examples":
        return float(row.examples)
    if unit == "flops":
        return None if row.flops is None else float(row.flops)
    return None if row.seconds is None else row.seconds / 3600.0


def _plan(overrides: list[str], unit: str, records: str, config_path: str | None, config_name: str, key: str,
          full_cache: dict):
    from budgetsweep.plan import ConfigError
    from budgetsweep.plan_compose import ComposeError, compose_jobs
    from budgetsweep.plan_table import plan_row

    try:
        [(cfg, job, _)] = compose_jobs(overrides, config_path=config_path, config_name=config_name)
        row = plan_row(0, cfg, job, [], records, PLAN_UNITS[unit], full_cache)
    except (ComposeError, ConfigError) as exc:
        raise AutoProxyConfigError(f"{key}: cannot run for this task: {exc}") from None
    return cfg, row


def rung_plans(base: Sequence[str], settings: AutoProxySettings, unit: str, *, records: str = "outputs",
               config_path: str | None = None, config_name: str = "config") -> tuple[RungPlan, list[RungPlan]]:
    """(full scale, [each candidate]) as planned for ``base`` overrides in ``unit``.

    Args:
        base: the sweep's fixed overrides (task, model, ...); no search-space values (the trials' own
            costs are the sweeper's cost model's job; these are the phase plan's).
        settings: the candidates.
        unit: the budget unit.
        records: the folder whose records calibrate the time model (``gpu_hours``).
        config_path, config_name: a user's own config folder, as ``budgetsweep-plan --config-path``.

    Raises:
        AutoProxyConfigError: a candidate (or the full recipe) cannot be planned, or its cost cannot be
            counted in ``unit`` (no FLOPs for a user's own loop).
    """
    if unit not in PLAN_UNITS:
        raise AutoProxyConfigError(f"hydra.sweeper.budget.unit={unit!r} is not a budget unit; allowed: "
                                   f"{', '.join(PLAN_UNITS)}")
    cache: dict = {}
    full_cfg, full_row = _plan(list(base), unit, records, config_path, config_name, "the full recipe", cache)
    full_cost = _cost(full_row, unit)
    if full_cost is None:
        raise AutoProxyConfigError(f"hydra.sweeper.budget.unit={unit}: the planner cannot count this config's cost "
                                   "in it (no FLOPs for a user's own loop); use unit=examples")
    full = RungPlan("full", full_row.reduction_label, full_cost, tuple(base), tuple(full_row.fidelity_warnings))
    plans = [_candidate(c, i, base, unit, records, config_path, config_name, cache, full_cfg)
             for i, c in enumerate(settings.candidates)]
    if settings.proxy_search.reduction:
        plans += _proxy_search(settings, base, unit, records, config_path, config_name, cache, full_cfg)
    return full, plans


def space_corners(params: dict[str, str]) -> list[dict[str, Any]]:
    """Every combination of the extreme values of a proxy search space (interval and range: both
    ends; choice: every value), as {parameter: value}; the costliest trial is at one of them for any
    cost monotone in each parameter (a fraction, a factor, a width)."""
    import itertools

    import numpy as np
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    parser = OverridesParser.create()
    ends = {}
    for param, space in params.items():
        value = parser.parse_override(f"reduction.{param}={space}").value()
        if isinstance(value, IntervalSweep):
            ends[param] = [value.start, value.end]
        elif isinstance(value, RangeSweep):
            values = np.arange(value.start, value.stop, value.step)
            ends[param] = [values[0].item(), values[-1].item()] if len(values) else []
        elif isinstance(value, ChoiceSweep):
            ends[param] = list(value.list)
        else:  # validated as a sweep by ProxySearch; anything else is one value
            ends[param] = [value]
    return [dict(zip(ends, combo)) for combo in itertools.product(*ends.values())]


def proxy_search_plans(search: ProxySearch, price: Callable[[Candidate], RungPlan]) -> list[RungPlan]:
    """The proxy search's ``trials`` settings (rungs ``proxy_search[i]``, label ``sampled``), each priced
    at the costliest corner of its space: the phase plan must hold whatever Optuna samples. ``price``
    plans one corner (as a Candidate) and raises AutoProxyConfigError for one that cannot run."""
    corners = [price(Candidate(name=f"proxy_search{corner}", reduction=list(search.reduction), params=corner))
               for corner in space_corners(dict(search.params))]
    costliest = max(corners, key=lambda p: p.cost)
    return [RungPlan(rung_name(i), SAMPLED, costliest.cost, costliest.overrides, costliest.warnings)
            for i in range(search.trials)]


def _proxy_search(settings: AutoProxySettings, base: Sequence[str], unit: str, records: str,
                  config_path: str | None, config_name: str, cache: dict, full_cfg) -> list[RungPlan]:
    return proxy_search_plans(settings.proxy_search, lambda c: _candidate(
        c, -1, base, unit, records, config_path, config_name, cache, full_cfg))


def _candidate(candidate: Candidate, i: int, base: Sequence[str], unit: str, records: str, config_path: str | None,
               config_name: str, cache: dict, full_cfg) -> RungPlan:
    key = f"{KEY}.candidates[{i}] ({candidate.label})" if i >= 0 else f"{KEY}.proxy_search ({candidate.label})"
    cfg, row = _plan([*base, *candidate.overrides()], unit, records, config_path, config_name, key, cache)
    if "task" in full_cfg and cfg.get("task") != full_cfg.get("task"):
        raise AutoProxyConfigError(
            f"{key}: cannot run for this task: it switches the task to {cfg.task.get('_target_')!r} (a candidate "
            "proxy must reduce the sweep's own task); pick a preset that keeps the task or give reduction: [...]")
    if row.reduction_label == "full":
        raise AutoProxyConfigError(f"{key}: reduces nothing (its recipe is the full recipe); drop it")
    cost = _cost(row, unit)
    if cost is None:
        raise AutoProxyConfigError(f"{key}: the planner cannot count its cost in {unit}")
    return RungPlan(candidate.label, row.reduction_label, cost, tuple(candidate.overrides()),
                    tuple(row.fidelity_warnings))


def unflagged(plans: Sequence[RungPlan]) -> tuple[list[RungPlan], list[RungPlan]]:
    """(candidates without fidelity warnings, those with): the default candidates are the presets the
    planner does not flag as degenerate (issue 15); a warning about cost alone (evaluation above its
    share) flags nothing. User-given candidates are kept and their warnings shown."""
    return [p for p in plans if not p.warnings], [p for p in plans if p.warnings]


__all__ = ["RungPlan", "proxy_search_plans", "rung_plans", "unflagged"]
