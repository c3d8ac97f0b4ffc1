"""Cost in a budget unit, from what a job measured.

``gpu_hours`` is device time: wall seconds x device count / 3600. On a machine without a GPU the
device is whatever ran the job (the CPU process counts as one device), so ``gpu_hours`` is then
device-hours of that process, not of a GPU. ``flops`` is the job's own estimate (examples x counted
training FLOPs per example); ``examples`` is exact and machine-independent.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any


class Unit(enum.StrEnum):
    """A budget unit; a member equals its string, so configs, ledgers and JSON hold plain strings."""

    GPU_HOURS = "gpu_hours"
    FLOPS = "flops"
    EXAMPLES = "examples"


UNITS = tuple(u.value for u in Unit)


def check_unit(unit: Any, key: str = "hydra.sweeper.budget.unit") -> Unit:
    """``unit`` as a Unit; ValueError naming ``key``, the value and the allowed units."""
    if unit not in UNITS:
        raise ValueError(f"{key}={unit!r} is not a budget unit; allowed: {', '.join(UNITS)}")
    return Unit(unit)


def _field(measured: Any, name: str, default: float) -> float:
    if isinstance(measured, Mapping):
        value = measured.get(name, default)
    else:
        value = getattr(measured, name, default)
    return float(default if value is None else value)


def cost_in_unit(measured: Any, unit: str) -> float:
    """``measured`` is a ``budgetsweep.records.MeasuredCost`` or a mapping with the same fields."""
    unit = check_unit(unit)
    if unit == Unit.EXAMPLES:
        return _field(measured, "examples", 0.0)
    if unit == Unit.FLOPS:
        return _field(measured, "flops", 0.0)
    seconds = _field(measured, "wall_seconds", 0.0)
    devices = max(1.0, _field(measured, "device_count", 1.0))
    return seconds * devices / 3600.0


def device_seconds(measured: Any) -> float:
    """Wall seconds x device count: the quantity the gpu_hours cost model calibrates."""
    return _field(measured, "wall_seconds", 0.0) * max(1.0, _field(measured, "device_count", 1.0))


def format_cost(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == Unit.EXAMPLES:
        return f"{value:,.0f}"
    if unit == Unit.FLOPS:
        return f"{value:.3g}"
    return f"{value:.4g}"
