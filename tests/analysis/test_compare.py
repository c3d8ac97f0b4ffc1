from __future__ import annotations

import math

import pandas as pd
import pytest

import numpy as np
from scipy import stats

from budgetsweep.analysis import compare_strategies, recommend
from budgetsweep.analysis.compare import MIN_CONFIGS_VERDICT, configs_needed

# 12 configurations, 2 full-scale seeds that disagree a little (seed 1 swaps c03, c04)
FULL = {f"c{i:02d}": [float(i), float(i) + (1.5 if i == 3 else 0.0)] for i in range(12)}
GOOD = {k: [v[0] * 2] for k, v in FULL.items()}  # same order as full (seed 0)
FAIR = {k: [v] for k, v in zip(FULL, [0.0, 2.0, 1.0, 4.0, 3.0, 6.0, 5.0, 7.0, 8, 9, 10, 11])}  # three swaps
POOR = {k: [v] for k, v in zip(FULL, [7.0, 1.0, 5.0, 3.0, 4.0, 2.0, 6.0, 0.0, 11, 9, 10, 8])}


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
    assert table["confident"].tolist() == [False, True, True]
    assert table.attrs["recommendation"].startswith("Recommended proxy: good_10x, 10x cheaper (time)")
    choice = recommend(table)
    assert choice.strategy == "good_10x" and "Spearman rho 1.00 [95% interval 0.95, 1.00]" in choice.text



def test_a_faithful_strategy_that_costs_more_than_full_is_not_recommended(tables):
    # bf16 autocast on a CPU: ranks exactly like full scale, takes twice its time
    proxy, full = _sets(tables, {"slower_0.5x": (GOOD, (1000.0, 20.0, 1e9)), "good_2x": (GOOD, (500.0, 5.0, 5e8))})
    table = compare_strategies(proxy, full, n_resamples=0)
    assert table["confident"].tolist() == [True, True] and table.index.tolist() == ["good_2x", "slower_0.5x"]
    assert table["recommended"].tolist() == [True, False]
    assert recommend(table).strategy == "good_2x"


def test_when_only_costlier_strategies_rank_well_nothing_is_recommended(tables):
    proxy, full = _sets(tables, {"slower_0.5x": (GOOD, (1000.0, 20.0, 1e9)), "poor_20x": (POOR, (50.0, 0.5, 5e7))})
    table = compare_strategies(proxy, full, n_resamples=0)
    assert not table["recommended"].any()
    choice = recommend(table)
    assert choice.strategy is None
    assert choice.text.startswith("No proxy to recommend: slower_0.5x looks good (Spearman rho 1.00"), choice.text
    assert choice.text.endswith("but it is not cheaper than the full run (0.5x cheaper (time)).")
    # in examples it costs the full run's exactly: no cheaper either
    assert recommend(table, cost_by="examples").strategy is None

def test_cost_by_examples_can_change_the_order(tables):
    proxy, full = _sets(tables, {"a": (GOOD, (100.0, 5.0, 1e8)), "b": (GOOD, (500.0, 1.0, 5e8))})
    assert compare_strategies(proxy, full, n_resamples=0).index[0] == "b"
    by_examples = compare_strategies(proxy, full, n_resamples=0, cost_by="examples")
    assert by_examples.index[0] == "a" and by_examples.attrs["cost_by"] == "examples"


def test_no_proxy_meets_the_threshold(tables):
    proxy, full = _sets(tables, {"poor": (POOR, (50.0, 0.5, 5e7)), "fair": (FAIR, (100.0, 1.0, 1e8))})
    table = compare_strategies(proxy, full, threshold=0.99, n_resamples=0)
    assert not table["meets"].any() and not table["recommended"].any()
    choice = recommend(table, threshold=0.99)
    assert choice.strategy is None
    assert choice.text.startswith("No proxy meets Spearman rho >= 0.99. The closest is fair")


def test_rho_relative_to_the_noise_ceiling():
    # noisy full seeds (ceiling well below 1); the proxy sees the true quality: rho < threshold,
    # but rho relative to the ceiling clears it with its interval
    from conftest import table_runs

    rng = np.random.default_rng(0)
    true = rng.normal(size=200)
    full = {f"c{i:03d}": [t + rng.normal(0, 0.9), t + rng.normal(0, 0.9)] for i, t in enumerate(true)}
    proxy, full = table_runs(full, {k: [t] for k, t in zip(full, true)}, label="fair")
    table = compare_strategies(proxy, full, threshold=0.85, n_resamples=500)
    row = table.loc["fair"]
    assert row["rho"] < 0.85 and 0 < row["ceiling"] < 0.95
    assert row["rho_rel"] == pytest.approx(row["rho"] / row["ceiling"])
    assert recommend(table, threshold=0.85).strategy is None
    rel = recommend(table, threshold=0.85, criterion="rho_rel")
    assert row["rho_low"] / row["ceiling"] >= 0.85
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


def test_too_few_configurations_give_no_confident_verdict_and_say_what_is_needed(tables):
    four = {k: FULL[k] for k in list(FULL)[:4]}
    proxy, full = tables(four, {k: GOOD[k] for k in four}, label="good")
    table = compare_strategies(proxy, full, n_resamples=0)
    assert table.loc["good", "rho"] == 1.0 and table.loc["good", "meets"]
    assert not table.loc["good", "confident"] and not table["recommended"].any()
    assert table.loc["good", "more_configs"] == MIN_CONFIGS_VERDICT - 4
    choice = recommend(table)
    assert choice.strategy is None
    assert choice.text.startswith("No confident recommendation yet: good looks good")
    assert f"fewer than {MIN_CONFIGS_VERDICT} configurations" in choice.text
    assert "About 6 more configurations at full scale" in choice.text


def test_one_configuration_more_is_singular(tables):
    nine = {k: FULL[k] for k in list(FULL)[:MIN_CONFIGS_VERDICT - 1]}
    proxy, full = tables(nine, {k: GOOD[k] for k in nine}, label="good")
    assert "About 1 more configuration at full scale (and" in recommend(compare_strategies(proxy, full, n_resamples=0)).text


def test_an_interval_below_the_threshold_gives_no_verdict_and_an_estimate_of_configs_needed(tables):
    rng = np.random.default_rng(1)
    full = {f"c{i:02d}": [float(i)] for i in range(12)}
    proxy = {k: [v[0] + rng.normal(0, 2.0)] for k, v in full.items()}
    p, f = tables(full, proxy, label="noisy")
    table = compare_strategies(p, f, threshold=0.8, n_resamples=0)
    row = table.loc["noisy"]
    assert row["rho"] > 0.8 and row["rho_low"] < 0.8 and not row["confident"]
    assert row["more_configs"] == configs_needed(row["rho"], 0.8) - 12
    assert "more configurations at full scale" in recommend(table).text


def test_configs_needed_solves_the_fisher_interval_for_n():
    z = stats.norm.ppf(0.975)
    n = 3 + (1 + 0.9 ** 2 / 2) * (z / (np.arctanh(0.9) - np.arctanh(0.8))) ** 2
    assert configs_needed(0.9, 0.8) == math.ceil(n) == 42
    assert math.isnan(configs_needed(0.75, 0.8)) and math.isnan(configs_needed(0.8, 0.8))
    assert configs_needed(1.0, 0.5) == MIN_CONFIGS_VERDICT


def test_a_threshold_is_not_decided_by_float_error(tables):
    assert stats.spearmanr([1, 2, 3, 4], [2, 1, 3, 4]).statistic < 0.8  # 0.7999999999999999
    full = {f"c{i}": [float(i)] for i in range(4)}
    proxy, full = tables(full, {"c0": [1.0], "c1": [0.0], "c2": [2.0], "c3": [3.0]}, label="p")
    table = compare_strategies(proxy, full, threshold=0.8, n_resamples=0)
    assert table.loc["p", "rho"] == pytest.approx(0.8) and table.loc["p", "meets"]
    assert not recommend(table).text.startswith("No proxy meets")


def test_bootstraps_shared_by_processes_give_the_intervals_of_one_process(tables, monkeypatch):
    import importlib

    fid = importlib.import_module("budgetsweep.analysis.fidelity")  # the module; the package exports a function

    rng = np.random.default_rng(2)
    full = {f"c{i}": [float(i), float(i) + 0.1] for i in range(30)}
    proxies = []
    for label, noise in (("a", 2.0), ("b", 8.0), ("c", 20.0)):
        p, f = tables(full, {k: [v[0] + rng.normal(0, noise)] for k, v in full.items()}, label=label)
        proxies.append(p)
    proxy = pd.concat(proxies, ignore_index=True)
    alone = compare_strategies(proxy, f, n_resamples=300)
    monkeypatch.setattr(fid, "PARALLEL_BOOTSTRAP", 0)  # every bootstrap in the forked processes
    shared = compare_strategies(proxy, f, n_resamples=300)
    cols = ["rho_low", "rho_high", "tau_low", "tau_high"]
    pd.testing.assert_frame_equal(shared[cols], alone[cols])
    assert alone[cols].notna().all().all() and (alone["rho_low"] < alone["rho_high"]).all()
