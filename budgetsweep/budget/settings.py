"""The budget a sweep may spend, validated before anything runs (``hydra.sweeper.budget``)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from budgetsweep.budget.units import Unit, check_unit

KEY = "hydra.sweeper.budget"


def _number(name: str, value: Any, *, low: float, low_open: bool, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    bound = f"> {low:g}" if low_open else f">= {low:g}"
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value > low if low_open else value >= low
    if not ok:
        extra = " (or null)" if optional else ""
        raise ValueError(f"{KEY}.{name}={value!r} is not allowed; it must be a finite number {bound}{extra}")
    return float(value)


@dataclass(frozen=True)
class BudgetSettings:
    """``limit=None`` (the default) sets no cap: the sweeper then runs like hydra-optuna-sweeper,
    bounded by ``n_trials``, and still measures, charges and summarises every trial's cost."""

    unit: Unit = Unit.GPU_HOURS
    # None: no cap; the sweep is bounded by n_trials (as hydra-optuna-sweeper), costs still measured
    limit: float | None = None
    # how far past its reservation a job may run before it stops itself (0.1 = 10%)
    tolerance: float = 0.1
    # added to calibrated gpu_hours predictions; examples and flops are predicted exactly
    safety_margin: float = 0.25
    # prediction for an app that has no plan (no ``task`` in its config) and no history yet
    default_trial_cost: float | None = None
    # gpu_hours before calibration: overhead + flops / throughput, deliberately slow
    assumed_flops_per_second: float = 1e9
    assumed_overhead_seconds: float = 10.0
    # sampled trials that do not fit and are skipped (FAIL, never run) before the sweep stops;
    # only while a cheaper trial has been seen that would still fit
    max_skipped: int = 10
    # liveness of a sweeper holding reservations (several sweepers may share one study)
    heartbeat_seconds: float = 30.0
    stale_after_seconds: float = 600.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", check_unit(self.unit, f"{KEY}.unit"))  # a Unit from here on
        _number("limit", self.limit, low=0.0, low_open=True, optional=True)
        _number("tolerance", self.tolerance, low=0.0, low_open=False)
        _number("safety_margin", self.safety_margin, low=0.0, low_open=False)
        _number("default_trial_cost", self.default_trial_cost, low=0.0, low_open=True, optional=True)
        _number("assumed_flops_per_second", self.assumed_flops_per_second, low=0.0, low_open=True)
        _number("assumed_overhead_seconds", self.assumed_overhead_seconds, low=0.0, low_open=False)
        _number("heartbeat_seconds", self.heartbeat_seconds, low=0.0, low_open=True)
        _number("stale_after_seconds", self.stale_after_seconds, low=self.heartbeat_seconds, low_open=True)
        if not (isinstance(self.max_skipped, int) and not isinstance(self.max_skipped, bool)
                and self.max_skipped >= 0):
            raise ValueError(f"{KEY}.max_skipped={self.max_skipped!r} is not allowed; it must be an integer >= 0")

    @classmethod
    def from_mapping(cls, node: Mapping[str, Any] | None) -> "BudgetSettings":
        node = dict(node or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(node) - known)
        if unknown:
            raise ValueError(f"{KEY}.{unknown[0]} is not a budget setting; allowed: {', '.join(sorted(known))}")
        return cls(**node)

    @property
    def capped(self) -> bool:
        return self.limit is not None
