"""Column names of the tidy run frame: one row per run, whatever the source.

Every other analysis module reads runs through these names, so the loaders (record files,
Optuna storage) and the synthetic frames of tests and benchmarks agree on one schema.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from budgetsweep.records import DIRECTIONS, STATUSES

CONFIG_PREFIX = "config."
METRIC_PREFIX = "metric."
FULL_LABEL = "full"  # reduction_label of the identity reduction: a full-scale run
COMPLETED = "completed"

# fixed columns, in display order; config.* and metric.* columns follow them
RUN_COLUMNS = (
    "config_key",
    "reduction_label",
    "seed",
    "status",
    "objective_name",
    "objective_direction",
    "objective_value",
    "predicted_factor",
    "predicted_unit",
    "predicted_cost",
    "wall_seconds",
    "examples",
    "flops",
    "peak_memory_mb",
    "device_kind",
    "device_count",
    "started_at",
    "ended_at",
    "error",
    "trial_number",
    "study_name",
    "source",
    "path",
    "record_path",
)
FLOAT_COLUMNS = ("objective_value", "predicted_factor", "predicted_cost", "wall_seconds", "examples",
                 "flops", "peak_memory_mb")
INT_COLUMNS = ("seed", "device_count", "trial_number")
COST_COLUMNS = {"examples": "examples", "time": "wall_seconds", "flops": "flops"}


def empty_runs() -> pd.DataFrame:
    """A run frame with no rows (and the fixed columns)."""
    return normalize_runs(pd.DataFrame(columns=list(RUN_COLUMNS)))


def normalize_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Fixed columns present, in order, with their dtypes; config.*/metric.* after them.

    Column-wise conversions only, so it costs the same for 10 rows or 100k.
    """
    df = df.copy()
    for col in RUN_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan
    for col in FLOAT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in INT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in [c for c in df.columns if c.startswith(METRIC_PREFIX)]:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    extra = sorted(c for c in df.columns if c.startswith(CONFIG_PREFIX))
    extra += sorted(c for c in df.columns if c.startswith(METRIC_PREFIX))
    rest = [c for c in df.columns if c not in RUN_COLUMNS and c not in extra]
    return df[list(RUN_COLUMNS) + extra + rest].reset_index(drop=True)


def check_runs(df: Any, name: str = "runs") -> pd.DataFrame:
    """Validate a run frame at an API entry; returns it. Errors name the argument and the column."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame of runs (see load_runs), got {type(df).__name__}")
    needed = ("config_key", "reduction_label", "status", "objective_direction", "objective_value")
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks the run column(s) {missing}; build it with load_runs or load_study_runs")
    missing_status = int(df["status"].isna().sum())
    if missing_status:
        # a run without a status would silently drop out of every measure: say so instead
        raise ValueError(f"{name}.status has {missing_status} missing value(s); every run needs one of {STATUSES} "
                         "(from_frame(..., status=None) counts every run of a results table as completed)")
    bad_status = sorted(set(df["status"].dropna().unique()) - set(STATUSES))
    if bad_status:
        raise ValueError(f"{name}.status has value(s) {bad_status}; allowed: {STATUSES}")
    return df


def usable(df: pd.DataFrame) -> pd.Series:
    """Rows that enter fidelity metrics: completed, with a finite objective value and a config key."""
    value = pd.to_numeric(df["objective_value"], errors="coerce")
    return (df["status"] == COMPLETED) & np.isfinite(value) & df["config_key"].notna()


def direction_of(df: pd.DataFrame, name: str) -> str | None:
    """The one objective direction of a set of runs (None when it has no usable rows)."""
    found = sorted(df.loc[usable(df), "objective_direction"].dropna().unique())
    if not found:
        return None
    if len(found) > 1 or found[0] not in DIRECTIONS:
        raise ValueError(
            f"{name}.objective_direction has value(s) {found}; one set of runs must have a single "
            f"direction, one of {DIRECTIONS}"
        )
    return str(found[0])


def scores(values: pd.Series, direction: str) -> pd.Series:
    """Objective values turned into scores where higher is better, whatever the direction."""
    return values if direction == "maximize" else -values


def searched(kind: str) -> str:
    """What ranked an auto-proxy search's configurations, as its answer and report name it: ``proxy``, or
    ``search`` when the search ran at full scale (``Choice.kind`` ``full``: its one-seed ranking, which the
    verification checks on more seeds)."""
    return "search" if kind == FULL_LABEL else "proxy"
