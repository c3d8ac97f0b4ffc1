"""Seeds aggregated per configuration, and proxy configurations joined to full ones by config key."""
from __future__ import annotations

import pandas as pd

from .schema import CONFIG_PREFIX, FULL_LABEL, check_runs, direction_of, scores, usable

STAT_COLUMNS = ("mean", "std", "n", "examples", "wall_seconds", "flops", "predicted_factor")


def split_runs(runs: pd.DataFrame, full_label: str = FULL_LABEL) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(proxy runs, full runs): a run is full-scale when its reduction_label is ``full_label``."""
    check_runs(runs)
    is_full = runs["reduction_label"] == full_label
    return runs[~is_full].reset_index(drop=True), runs[is_full].reset_index(drop=True)


def aggregate_seeds(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (reduction_label, config_key) over usable runs: objective mean, std, n; mean costs.

    ``std`` is the sample standard deviation over seeds (NaN with one seed); config.* columns
    keep their (shared) value.
    """
    check_runs(runs)
    ok = runs[usable(runs)]
    config_cols = [c for c in ok.columns if c.startswith(CONFIG_PREFIX)]
    grouped = ok.groupby(["reduction_label", "config_key"], sort=True, observed=True)
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


def pair_runs(proxy: pd.DataFrame, full: pd.DataFrame) -> pd.DataFrame:
    """Proxy configurations of every strategy joined to the full ones by config key.

    One row per (strategy, config_key) seen on either side: ``paired`` is True when both have
    usable runs. Columns ``proxy_<stat>`` / ``full_<stat>`` (mean, std, n, mean costs),
    ``proxy_score`` / ``full_score`` (higher is better, whatever the direction) and, among paired
    rows of a strategy, ``proxy_rank`` / ``full_rank`` (1 = best; ties share the average rank).
    """
    check_runs(proxy, "proxy")
    check_runs(full, "full")
    _full_label(full)
    proxy_dir, full_dir = direction_of(proxy, "proxy"), direction_of(full, "full")
    proxy_agg = aggregate_seeds(proxy)
    full_agg = aggregate_seeds(full).drop(columns="strategy")
    config_cols = sorted({c for c in [*proxy_agg.columns, *full_agg.columns] if c.startswith(CONFIG_PREFIX)})
    proxy_agg = proxy_agg.rename(columns={c: f"proxy_{c}" for c in STAT_COLUMNS})
    full_agg = full_agg.rename(columns={c: f"full_{c}" for c in STAT_COLUMNS})
    # every strategy meets every full configuration, so full-only configs are counted per strategy
    labels = sorted(proxy["reduction_label"].dropna().unique())
    strategies = pd.DataFrame({"strategy": pd.Series(labels, dtype="str")})
    full_x = strategies.merge(full_agg, how="cross")
    pairs = proxy_agg.merge(full_x, on=["strategy", "config_key"], how="outer", suffixes=("", "_full"),
                            indicator=True)
    for col in config_cols:
        if f"{col}_full" in pairs.columns:
            pairs[col] = pairs[col].combine_first(pairs.pop(f"{col}_full"))
    pairs["paired"] = pairs.pop("_merge").eq("both").astype(bool)
    pairs["proxy_score"] = scores(pairs["proxy_mean"], proxy_dir or "minimize")
    pairs["full_score"] = scores(pairs["full_mean"], full_dir or "minimize")
    ranked = pairs[pairs["paired"]].groupby("strategy")[["proxy_score", "full_score"]]
    ranks = ranked.rank(ascending=False, method="average")
    pairs["proxy_rank"] = ranks["proxy_score"]
    pairs["full_rank"] = ranks["full_score"]
    front = ["strategy", "config_key", "paired", "proxy_mean", "full_mean", "proxy_rank", "full_rank",
             "proxy_std", "full_std", "proxy_n", "full_n", "proxy_score", "full_score"]
    rest = [c for c in pairs.columns if c not in front and c not in config_cols]
    pairs = pairs[front + rest + config_cols]
    for col in ("proxy_n", "full_n"):
        pairs[col] = pairs[col].fillna(0).astype("int64")
    pairs = pairs.sort_values(["strategy", "paired", "full_rank", "config_key"], ascending=[True, False, True, True])
    pairs = pairs.reset_index(drop=True)
    pairs.attrs.update(proxy_direction=proxy_dir, full_direction=full_dir)
    return pairs
