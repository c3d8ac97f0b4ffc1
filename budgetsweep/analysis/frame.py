"""Any results table in: map a user's columns into the run frame the analysis reads.

A learning-curve table, a spreadsheet of past sweeps or a benchmark's results need no
record.json files: name which columns are the hyperparameters, the strategy label, the seed and
the objective, and ``from_frame`` builds the run frame (``schema.RUN_COLUMNS``) from them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from budgetsweep.records import DIRECTIONS, STATUSES

from .ranks import RTOL, snap_ties
from .schema import CONFIG_PREFIX, FULL_LABEL, normalize_runs

COST_FIELDS = ("examples", "wall_seconds", "flops", "predicted_factor")
CONFIG_RTOL = RTOL  # float hyperparameters equal within this relative tolerance are one configuration


def _columns(value: str | Sequence[str] | None, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{what}={value!r}; must be a column name or a list of column names")
    return list(value)


def _value_text(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))  # 10.0 and 10 name one configuration
    return str(v)


def snap_config(values: pd.Series) -> pd.Series:
    """A float column with values equal within ``CONFIG_RTOL`` (relative) replaced by one of them,
    the shortest as text: 0.1 and 0.1 + 1e-12 (a value computed two ways, or written by two
    programs) are one configuration. Other columns are returned as they are."""
    if not pd.api.types.is_float_dtype(values.dtype):
        return values
    unique = pd.unique(values.dropna().to_numpy(float))
    if len(unique) < 2:
        return values
    snapped = snap_ties(unique, rtol=CONFIG_RTOL)
    if len(np.unique(snapped)) == len(unique):  # nothing within tolerance: the column as it is
        return values
    shortest: dict[float, float] = {}
    for value, group in zip(unique, snapped):
        best = shortest.get(group)
        if best is None or len(repr(float(value))) < len(repr(float(best))):
            shortest[group] = value
    return values.map({value: shortest[group] for value, group in zip(unique, snapped)})


def config_keys(df: pd.DataFrame, config: list[str]) -> pd.Series:
    """A readable config key per row, ``name=value, ...`` over the ``config`` columns.

    One string per distinct combination (built once per combination, not per row); equal
    values give equal keys whatever their numeric type (10 and 10.0), and float values equal
    within ``CONFIG_RTOL`` (relative, 1e-9) give one key (``snap_config``).
    """
    snapped = pd.DataFrame({c: snap_config(df[c]) for c in config}, index=df.index)
    codes, uniques = pd.MultiIndex.from_frame(snapped).factorize()
    names = [", ".join(f"{c}={_value_text(v)}" for c, v in zip(config, row)) for row in uniques]
    return pd.Series(np.asarray(names, dtype=object)[codes], index=df.index)


def _cost_column(values: pd.Series, col: str, field: str) -> pd.Series:
    """A cost column as floats; ValueError naming the column, the count and examples of values that
    are not numbers, or not positive and finite (NaN stands for a cost not measured)."""
    cost = pd.to_numeric(values, errors="coerce").astype(float)
    text = cost.isna() & values.notna()
    if text.any():
        raise ValueError(f"cost column {col!r} ({field}) has {int(text.sum())} non-numeric value(s), e.g. "
                         f"{values[text].unique()[:3].tolist()}; costs must be numbers (NaN: not measured)")
    bad = cost.notna() & ~(np.isfinite(cost) & (cost > 0))
    if bad.any():
        raise ValueError(f"cost column {col!r} ({field}) has {int(bad.sum())} row(s) that are zero, negative or "
                         f"infinite, e.g. {cost[bad].unique()[:3].tolist()}; a cost must be positive and finite "
                         "(NaN: not measured)")
    return cost


def from_frame(
    df: pd.DataFrame,
    *,
    config: str | Sequence[str],
    strategy: str,
    objective: str,
    direction: str,
    seed: str | None = None,
    by: str | Sequence[str] | None = None,
    status: str | None = None,
    costs: Mapping[str, str] | None = None,
    full_label: str | None = FULL_LABEL,
    objective_name: str | None = None,
) -> pd.DataFrame:
    """The run frame of any results table: one row per run, ready for ``split_runs``,
    ``compare_strategies(..., by=...)`` and ``build_report``.

    Args:
        df: one row per run (a configuration at one strategy and one seed).
        config: the column(s) of hyperparameters that identify a configuration; they become
            ``config.<name>`` columns and the config key (``lr=0.001, hidden=64``). Float values
            equal within a relative ``CONFIG_RTOL`` (1e-9) are one configuration, so 0.1 and
            0.1 + 1e-12 at two scales still pair.
        strategy: the column of strategy labels; rows labelled ``full_label`` are full scale.
        objective: the column of objective values (numbers; NaN for runs without one).
        direction: ``"minimize"`` or ``"maximize"``.
        seed: the column of seeds, any hashable values (None: rows of one configuration and
            strategy are numbered in order). Non-integer seeds are numbered by first appearance
            and kept in ``seed_label``. Rows of one configuration and strategy with the same
            seed count as one seed, their mean (``pair.one_row_per_seed``).
        by: grouping column(s) (dataset, task) kept under their own name for ``by=``.
        status: the column of run statuses (one of ``records.STATUSES``); None: every row
            counts as completed. A missing value is an error, never a silent exclusion.
        costs: {run-frame cost column: your column} for ``examples``, ``wall_seconds``,
            ``flops``, ``predicted_factor``; None: those of these names that ``df`` has. Values
            must be positive, finite numbers; NaN marks a cost not measured.
        full_label: the strategy label of full-scale runs; it must occur in ``strategy`` (a
            misspelt label would silently turn the full runs into one more proxy). None: the
            table holds no full-scale runs (a ranking of proxies only).
        objective_name: shown in reports; default the objective column's name.

    Returns:
        The run frame (``schema.RUN_COLUMNS`` + config.* + by columns), one row per row of ``df``.

    Raises:
        TypeError: ``df`` is not a DataFrame. ValueError: a named column is missing (the message
        lists what ``df`` has), ``direction`` or a status value is not allowed, a status is
        missing, the objective is not numeric, a cost is not a positive finite number, or
        ``full_label`` is not a strategy label.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    config_cols = _columns(config, "config")
    by_cols = _columns(by, "by")
    if not config_cols:
        raise ValueError("config=[]; name the column(s) that identify a configuration, e.g. config=['lr', 'width']")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction={direction!r}; allowed: {DIRECTIONS}")
    costs = dict(costs) if costs is not None else {c: c for c in COST_FIELDS if c in df.columns}
    bad_cost = sorted(set(costs) - set(COST_FIELDS))
    if bad_cost:
        raise ValueError(f"costs has key(s) {bad_cost}; allowed: {COST_FIELDS}")
    wanted = {"config": config_cols, "strategy": [strategy], "objective": [objective], "by": by_cols,
              "seed": [seed] if seed is not None else [], "status": [status] if status is not None else [],
              "costs": list(costs.values())}
    missing = {arg: [c for c in cols if c not in df.columns] for arg, cols in wanted.items()}
    missing = {arg: cols for arg, cols in missing.items() if cols}
    if missing:
        detail = "; ".join(f"{arg}: {cols}" for arg, cols in missing.items())
        raise ValueError(f"df has no column(s) {detail}. Columns of df: {list(map(str, df.columns))[:30]}")
    value = pd.to_numeric(df[objective], errors="coerce")
    bad = value.isna() & df[objective].notna()
    if bad.any():
        raise ValueError(f"objective column {objective!r} has non-numeric value(s) "
                         f"{df.loc[bad, objective].unique()[:5].tolist()}; it must hold numbers (NaN: no value)")
    if df[strategy].isna().any():
        raise ValueError(f"strategy column {strategy!r} has {int(df[strategy].isna().sum())} missing value(s); "
                         "every run needs a strategy label (full scale: "f"{full_label!r})")
    out = pd.DataFrame(index=df.index)
    out["config_key"] = config_keys(df, config_cols)
    label = df[strategy].astype(str)
    if full_label is not None:
        label = label.where(label != str(full_label), FULL_LABEL)
    out["reduction_label"] = label
    if status is None:
        out["status"] = "completed"
    else:
        runs_status = df[status]
        if runs_status.isna().any():
            rows = runs_status.index[runs_status.isna()][:5].tolist()
            raise ValueError(f"status column {status!r} has {int(runs_status.isna().sum())} missing value(s) "
                             f"(rows {rows}...); fill them with one of {STATUSES}, or pass status=None to count "
                             "every run as completed")
        unknown = sorted(set(runs_status.astype(str).unique()) - set(STATUSES))
        if unknown:
            raise ValueError(f"status column {status!r} has value(s) {unknown[:5]}; allowed: {STATUSES}")
        out["status"] = runs_status.astype(str)
    out["objective_name"] = objective_name or objective
    out["objective_direction"] = direction
    out["objective_value"] = value.astype(float)
    if seed is None:
        out["seed"] = df.groupby([*by_cols, strategy, *config_cols], sort=False, dropna=False).cumcount()
    else:
        seeds = df[seed]
        as_int = pd.to_numeric(seeds, errors="coerce")
        if as_int.notna().all() and (as_int == as_int.round()).all():
            out["seed"] = as_int.astype("int64")
        else:
            out["seed"] = pd.factorize(seeds, use_na_sentinel=False)[0]
            out["seed_label"] = seeds.astype(str)
    for field, col in costs.items():
        out[field] = _cost_column(df[col], col, field)
    out["source"] = "frame"
    for col in by_cols:
        out[col] = df[col].to_numpy()
    for col in config_cols:
        out[f"{CONFIG_PREFIX}{col}"] = df[col].to_numpy()
    if full_label is not None and not (out["reduction_label"] == FULL_LABEL).any():
        labels = sorted(set(df[strategy].astype(str)))
        raise ValueError(f"full_label={full_label!r} is not a label in strategy column {strategy!r}, which holds "
                         f"{labels[:10]}; pass the label of the full-scale runs, or full_label=None for a table "
                         "without full-scale runs")
    return normalize_runs(out)
