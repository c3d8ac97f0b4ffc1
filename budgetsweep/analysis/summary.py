"""Tables about one set of runs: status counts, the ranking of configurations, what it cost."""
from __future__ import annotations

import pandas as pd

from budgetsweep.records import STATUSES

from .pair import aggregate_seeds, group_codes
from .ranks import snap_ties
from .schema import CONFIG_PREFIX, check_runs, direction_of, scores, usable


def status_counts(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs per reduction_label and status (one column per status, plus ``total``)."""
    check_runs(runs)
    table = pd.crosstab(runs["reduction_label"].fillna("unknown"), runs["status"].fillna("unknown"))
    table = table.reindex(columns=[s for s in STATUSES if s in table.columns] +
                          [s for s in table.columns if s not in STATUSES], fill_value=0)
    table["total"] = table.sum(axis=1)
    table.index.name = "strategy"
    table.columns.name = None
    return table


def ranking(runs: pd.DataFrame, by: list[str] | None = None, *, agg: pd.DataFrame | None = None) -> pd.DataFrame:
    """Configurations of each strategy (within each group of the ``by`` columns) ranked by their
    seed-mean objective (rank 1 = best; means equal within ``ranks.RTOL`` share a rank).

    ``agg``: ``aggregate_seeds(runs, by)`` when the caller has it (not modified), to aggregate once."""
    check_runs(runs)
    by = list(by or [])
    direction = direction_of(runs, "runs") or "minimize"
    agg = aggregate_seeds(runs, by) if agg is None else agg.copy()
    codes = group_codes(agg, [*by, "strategy"])
    # seed means equal within ranks.RTOL are ties: they share the best rank of the tie
    snapped = pd.Series(snap_ties(scores(agg["mean"], direction).to_numpy(float), groups=codes), index=agg.index)
    agg["rank"] = snapped.groupby(codes).rank(ascending=False, method="min")
    agg = agg.sort_values([*by, "strategy", "rank", "config_key"]).reset_index(drop=True)
    config_cols = [c for c in agg.columns if c.startswith(CONFIG_PREFIX) and c not in by]
    front = [*by, "strategy", "rank", "config_key", "mean", "std", "n"]
    rest = [c for c in agg.columns if c not in front and c not in config_cols]
    agg["rank"] = agg["rank"].astype("int64")
    return agg[front + config_cols + rest]


def cost_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per strategy: runs, completed runs, total and mean per completed run of wall seconds,
    examples and flops.

    Totals include every run (failed, pruned and budget-stopped runs spent compute too); means are
    over the completed runs only, whose count stands beside them (``total / runs`` is not the mean).
    """
    check_runs(runs)
    cols = ["wall_seconds", "examples", "flops"]
    label = runs["reduction_label"].fillna("unknown")
    total = runs[cols].groupby(label).sum(min_count=1).add_prefix("total_")
    mean = runs.loc[usable(runs), cols].groupby(label[usable(runs)]).mean().add_prefix("mean_")
    completed = label[usable(runs)].value_counts().reindex(label.unique(), fill_value=0)
    out = pd.DataFrame({"runs": label.value_counts(), "completed": completed}).join(total).join(mean)
    out.index.name = "strategy"
    return out.sort_index()
