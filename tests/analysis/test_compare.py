from __future__ import annotations

import math

import pandas as pd
import pytest

from budgetsweep.analysis import compare_strategies, recommend

# 8 configurations, 2 full-scale seeds that disagree a little (seed rho = 1 - 6*2/504 = 0.976)
FULL = {f"c{i}": [float(i), float(i) + (1.5 if i == 3 else 0.0)] for i in range(8)}  # seed 1 swaps c3, c4
GOOD = {k: [v[0] * 2] for k, v in FULL.items()}  # same order as full (seed 0)
FAIR = {k: [v] for k, v in zip(FULL, [0.0, 2.0, 1.0, 4.0, 3.0, 6.0, 5.0, 7.0])}  # three adjacent swaps
POOR = {k: [v] for k, v in zip(FULL, [7.0, 1.0, 5.0, 3.0, 4.0, 2.0, 6.0, 0.0])}


def _sets(tables, specs):
    """specs: label -> (proxy values, (examples, wall, flops)); returns (proxy, full)."""
    proxies, full = [], None
    for label, (values, cost) in specs.items():
        p, full = tables(FULL, values, label=label, proxy_cost=cost)
        proxies.append(p)
    return pd.concat(proxies, ignore_index=True), full


def test_table_sorted_by_cost_reduction_and_cheapest_good_proxy_recommended(tables):
    proxy, full = _sets(tables, {
        "poor_20x": (POOR, (50.0, 0.5, 5e7)),
        "good_10x": (GOOD, (100.0, 1.0, 1e8)),
        "good_2x": (GOOD, (500.0, 5.0, 5e8)),
    })
    table = compare_strategies(proxy, full, n_resamples=0)
    assert table.index.tolist() == ["poor_20x", "good_10x", "good_2x"]
    assert table["cost_reduction_time"].tolist() == pytest.approx([20.0, 10.0, 2.0])
    assert table["meets"].tolist() == [False, True, True]
    assert table["recommended"].tolist() == [False, True, False]
    assert table.attrs["recommendation"].startswith("Recommended proxy: good_10x, 10.0x cheaper (time)")
    choice = recommend(table)
    assert choice.strategy == "good_10x" and "Spearman rho 1.00 >= 0.80" in choice.text


def test_cost_by_examples_can_change_the_order(tables):
    proxy, full = _sets(tables, {"a": (GOOD, (100.0, 5.0, 1e8)), "b": (GOOD, (500.0, 1.0, 5e8))})
    assert compare_strategies(proxy, full, n_resamples=0).index[0] == "b"
    by_examples = compare_strategies(proxy, full, n_resamples=0, cost_by="examples")
    assert by_examples.index[0] == "a" and by_examples.attrs["cost_by"] == "examples"


def test_no_proxy_meets_the_threshold(tables):
    proxy, full = _sets(tables, {"poor": (POOR, (50.0, 0.5, 5e7)), "fair": (FAIR, (100.0, 1.0, 1e8))})
    table = compare_strategies(proxy, full, threshold=0.95, n_resamples=0)
    assert not table["meets"].any() and not table["recommended"].any()
    choice = recommend(table, threshold=0.95)
    assert choice.strategy is None
    assert choice.text.startswith("No proxy meets Spearman rho >= 0.95. The closest is fair")


def test_rho_relative_to_the_noise_ceiling(tables):
    proxy, full = _sets(tables, {"fair": (FAIR, (100.0, 1.0, 1e8))})
    table = compare_strategies(proxy, full, threshold=0.93, n_resamples=0)
    row = table.loc["fair"]
    assert row["rho"] == pytest.approx(1 - 6 * 6 / 504)  # 0.9286: just below 0.93
    assert 0 < row["ceiling"] < 1 and row["rho_rel"] == pytest.approx(row["rho"] / row["ceiling"])
    assert recommend(table, threshold=0.93).strategy is None
    rel = recommend(table, threshold=0.93, criterion="rho_rel")
    assert rel.strategy == "fair" and "rho relative to the noise ceiling" in rel.text


def test_rho_rel_falls_back_to_rho_without_a_ceiling(tables):
    one_seed = {k: v[:1] for k, v in FULL.items()}
    proxy, full = tables(one_seed, GOOD, label="good")
    table = compare_strategies(proxy, full, criterion="rho_rel", n_resamples=0)
    assert math.isnan(table.loc["good", "rho_rel"])
    choice = recommend(table, criterion="rho_rel")
    assert choice.strategy == "good" and "no noise ceiling: judged on rho" in choice.text


def test_bad_choices_are_rejected(tables):
    proxy, full = tables(FULL, GOOD)
    with pytest.raises(ValueError, match="criterion='tau'"):
        compare_strategies(proxy, full, criterion="tau")
    with pytest.raises(ValueError, match="threshold=2"):
        compare_strategies(proxy, full, threshold=2)
    with pytest.raises(ValueError, match="cost_by='dollars'"):
        recommend(pd.DataFrame(), cost_by="dollars")


def test_empty_proxy_set_gives_an_empty_table(tables):
    proxy, full = tables(FULL, GOOD)
    table = compare_strategies(proxy.iloc[0:0], full, n_resamples=0)
    assert table.empty and recommend(table).strategy is None
