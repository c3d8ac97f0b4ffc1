"""A proxy whose scores take few distinct values is never a confident recommendation in the report
(the rule auto-proxy's choice uses too): resampling configurations keeps its levels, so its rho
interval is tight, yet its pick is a draw among ties."""
import numpy as np
import pandas as pd

from budgetsweep.analysis import compare_strategies, from_frame, recommend
from budgetsweep.analysis.pair import split_runs


def _table(proxy_scores):
    full = np.linspace(0.10, 0.32, 12)  # 12 configurations, distinct at full scale, 2 seeds each
    rows = []
    for i, (p, f) in enumerate(zip(proxy_scores, full)):
        for seed in (0, 1):
            rows.append({"lr": i, "strategy": "full", "seed": seed, "loss": f + 0.001 * seed, "examples": 100.0})
        rows.append({"lr": i, "strategy": "proxy", "seed": 0, "loss": p, "examples": 10.0})
    runs = from_frame(pd.DataFrame(rows), config=["lr"], strategy="strategy", seed="seed", objective="loss",
                      direction="minimize", full_label="full")
    proxy, full_runs = split_runs(runs)
    return compare_strategies(proxy, full_runs, n_resamples=2000, cost_by="examples")


def test_a_two_level_proxy_in_the_right_order_is_not_recommended():
    table = _table([0.2] * 6 + [0.5] * 6)  # the better half scores 0.2, the rest 0.5
    row = table.iloc[0]
    assert row["proxy_levels"] == 2 and row["full_levels"] == 12 and bool(row["tie_limited"])
    assert row["rho"] > 0.8 and not row["confident"] and not row["recommended"]
    rec = recommend(table, threshold=0.8, cost_by="examples")
    assert rec.strategy is None and "too tied" in rec.text and "more configurations" not in rec.text


def test_a_proxy_with_distinct_scores_in_the_right_order_is_recommended():
    table = _table(list(np.linspace(0.2, 0.5, 12)))
    row = table.iloc[0]
    assert row["proxy_levels"] == 12 and not row["tie_limited"] and row["confident"]
    assert recommend(table, threshold=0.8, cost_by="examples").strategy == "proxy"
