"""Seeds aggregated per configuration, and proxy configurations joined to full ones by config key.

Every function takes ``by``: column(s) of the run frame that split runs into independent groups
(a dataset, a task); pairing and ranking then happen within each group, in one pass.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .ranks import snap_ties
from .schema import CONFIG_PREFIX, FULL_LABEL, check_runs, direction_of, scores, usable

STAT_COLUMNS = ("mean", "std", "n", "examples", "wall_seconds", "flops", "predicted_factor")


def as_columns(by: str | Sequence[str] | None) -> list[str]:
    """``by`` as a list of column names ([] for None)."""
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def check_by(df: pd.DataFrame, by: list[str], name: str) -> None:
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise ValueError(f"by={by!r}: {name} has no column(s) {missing}; columns: {sorted(map(str, df.columns))[:20]}")


def split_runs(runs: pd.DataFrame, full_label: str = FULL_LABEL) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(proxy runs, full runs): a run is full-scale when its reduction_label is ``full_label``."""
    check_runs(runs)
    is_full = runs["reduction_label"] == full_label
    return runs[~is_full].reset_index(drop=True), runs[is_full].reset_index(drop=True)


# columns averaged over the runs of one seed of one configuration (``one_row_per_seed``)
SEED_MEAN_COLUMNS = ("objective_value", "examples", "wall_seconds", "flops", "predicted_factor")


def one_row_per_seed(runs: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Runs with one row per seed of a configuration: rows sharing (by..., reduction_label,
    config_key, seed) become one, holding their mean objective value and mean costs (the other
    columns from the first of them, in row order).

    Such duplicates are runs that differ only in settings that change how, not what, is trained
    (``recipe.HOW_NOT_WHAT``: evaluation share or frequency, device, checkpointing; also
    logging and output settings, which are not in the recipe): the config key leaves them out, so
    the runs train the same configuration with the same seed, and are one draw of seed noise
    measured again, not another seed. Their mean counts as one seed: it keeps every measurement,
    weighs each seed once, and depends neither on row order nor on timestamps (which tables and
    Optuna rows may lack). Rows without a seed cannot be told apart and stay as they are.
    The index of the kept rows is theirs; pass usable runs (``schema.usable``).
    """
    by = list(by)
    if runs.empty or "seed" not in runs.columns:
        return runs
    keys = [*by, "reduction_label", "config_key", "seed"]
    dup = runs.duplicated(keys, keep=False).to_numpy() & runs["seed"].notna().to_numpy()
    if not dup.any():
        return runs
    dups = runs[dup]
    grouped = dups.groupby(keys, sort=False, dropna=False, observed=True)
    cols = [c for c in SEED_MEAN_COLUMNS if c in dups.columns]
    means = grouped[cols].transform("mean")
    first = grouped.head(1).copy()
    first[cols] = means.loc[first.index, cols]
    return pd.concat([runs[~dup], first]).sort_index(kind="stable")


def aggregate_seeds(runs: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (by..., reduction_label, config_key) over usable runs: objective mean, std, n
    (seeds); the mean cost of a run of that configuration (examples, wall_seconds, flops,
    predicted_factor).

    A seed counts once: runs of one configuration with the same seed (differing only in how, not
    what, is trained) are first averaged into one (``one_row_per_seed``). ``std`` is the sample
    standard deviation over seeds (NaN with one seed); config.* columns keep their (shared) value.
    """
    check_runs(runs)
    by = as_columns(by)
    check_by(runs, by, "runs")
    ok = one_row_per_seed(runs[usable(runs)], by)
    config_cols = [c for c in ok.columns if c.startswith(CONFIG_PREFIX) and c not in by]
    grouped = ok.groupby([*by, "reduction_label", "config_key"], sort=True, observed=True, dropna=False)
    agg = grouped.agg(
        mean=("objective_value", "mean"),
        std=("objective_value", "std"),
        n=("objective_value", "size"),
        examples=("examples", "mean"),
        wall_seconds=("wall_seconds", "mean"),
        flops=("flops", "mean"),
        predicted_factor=("predicted_factor", "mean"),
    )
    if config_cols:
        agg = agg.join(grouped[config_cols].first())
    agg = agg.reset_index().rename(columns={"reduction_label": "strategy"})
    # string keys even when empty, so merges on them never meet a float column
    return agg.astype({"strategy": "str", "config_key": "str"})


def _full_label(full: pd.DataFrame) -> str | None:
    labels = sorted(full.loc[usable(full), "reduction_label"].unique())
    if len(labels) > 1:
        raise ValueError(
            f"full.reduction_label has values {labels}; the full (reference) set must be one strategy. "
            "Give the full-scale runs only, or select one label"
        )
    return labels[0] if labels else None


def group_codes(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One integer per row, equal for rows with equal values in ``columns`` (0 when none)."""
    if not columns:
        return np.zeros(len(df), dtype=np.intp)
    return df.groupby(columns, sort=False, dropna=False, observed=True).ngroup().to_numpy()


def pair_runs(proxy: pd.DataFrame, full: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Proxy configurations of every strategy joined to the full ones by config key (within ``by``).

    One row per (by..., strategy, config_key) seen on either side: ``paired`` is True when both
    have usable runs. Columns ``proxy_<stat>`` / ``full_<stat>`` (seed mean, std, n, mean cost of a
    run), ``proxy_score`` / ``full_score`` (higher is better, whatever the direction) and, among
    paired rows of a strategy, ``proxy_rank`` / ``full_rank`` (1 = best; scores equal within
    ``ranks.RTOL`` are ties and share the average rank).
    """
    check_runs(proxy, "proxy")
    check_runs(full, "full")
    by = as_columns(by)
    check_by(proxy, by, "proxy")
    check_by(full, by, "full")
    _full_label(full)
    proxy_dir, full_dir = direction_of(proxy, "proxy"), direction_of(full, "full")
    proxy_agg = aggregate_seeds(proxy, by)
    full_agg = aggregate_seeds(full, by).drop(columns="strategy")
    config_cols = sorted({c for c in [*proxy_agg.columns, *full_agg.columns] if c.startswith(CONFIG_PREFIX)
                          and c not in by})
    proxy_agg = proxy_agg.rename(columns={c: f"proxy_{c}" for c in STAT_COLUMNS})
    full_agg = full_agg.rename(columns={c: f"full_{c}" for c in STAT_COLUMNS})
    # every strategy of a group meets every full configuration of that group, so full-only
    # configurations are counted per strategy
    present = proxy.loc[proxy["reduction_label"].notna(), [*by, "reduction_label"]].drop_duplicates()
    strategies = present.rename(columns={"reduction_label": "strategy"}).astype({"strategy": "str"})
    full_x = strategies.merge(full_agg, on=by, how="inner") if by else strategies.merge(full_agg, how="cross")
    pairs = proxy_agg.merge(full_x, on=[*by, "strategy", "config_key"], how="outer", suffixes=("", "_full"),
                            indicator=True)
    for col in config_cols:
        if f"{col}_full" in pairs.columns:
            pairs[col] = pairs[col].combine_first(pairs.pop(f"{col}_full"))
    pairs["paired"] = pairs.pop("_merge").eq("both").astype(bool)
    pairs["proxy_score"] = scores(pairs["proxy_mean"], proxy_dir or "minimize")
    pairs["full_score"] = scores(pairs["full_mean"], full_dir or "minimize")
    pairs["proxy_rank"] = np.nan
    pairs["full_rank"] = np.nan
    both = pairs[pairs["paired"]]
    if len(both):
        codes = group_codes(both, [*by, "strategy"])
        snapped = pd.DataFrame({"proxy": snap_ties(both["proxy_score"].to_numpy(float), groups=codes),
                                "full": snap_ties(both["full_score"].to_numpy(float), groups=codes)},
                               index=both.index)
        ranked = snapped.groupby(codes).rank(ascending=False, method="average")
        pairs.loc[both.index, "proxy_rank"] = ranked["proxy"]
        pairs.loc[both.index, "full_rank"] = ranked["full"]
    front = [*by, "strategy", "config_key", "paired", "proxy_mean", "full_mean", "proxy_rank", "full_rank",
             "proxy_std", "full_std", "proxy_n", "full_n", "proxy_score", "full_score"]
    rest = [c for c in pairs.columns if c not in front and c not in config_cols]
    pairs = pairs[front + rest + config_cols]
    for col in ("proxy_n", "full_n"):
        pairs[col] = pairs[col].fillna(0).astype("int64")
    pairs = pairs.sort_values([*by, "strategy", "paired", "full_rank", "config_key"],
                              ascending=[*([True] * len(by)), True, False, True, True])
    pairs = pairs.reset_index(drop=True)
    pairs.attrs.update(proxy_direction=proxy_dir, full_direction=full_dir, by=by)
    return pairs
