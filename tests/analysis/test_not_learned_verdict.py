"""A verdict never endorses a proxy strategy most of whose runs did not learn (the records' learned
verdict: the objective did not beat the task's trivial baseline); it says so plainly instead."""
from __future__ import annotations

import pandas as pd

from budgetsweep.analysis import build_report, compare_strategies, recommend
from budgetsweep.analysis.learned import learned_counts

FULL = {f"c{i:02d}": [float(i), float(i) + 0.01] for i in range(12)}
SAME_ORDER = {k: [2.30 - 0.001 * (12 - i)] for i, k in enumerate(FULL)}  # near chance, yet in full's order


def _stuck(frame: pd.DataFrame, n: int | None = None) -> pd.DataFrame:
    """The first ``n`` runs (all by default) say not_learned, the others learned."""
    n = len(frame) if n is None else n
    return frame.assign(learned=["not_learned"] * n + ["learned"] * (len(frame) - n))


def test_a_faithful_ranking_of_runs_that_did_not_learn_is_not_recommended(tables):
    proxy, full = tables(FULL, SAME_ORDER, label="short_20x", proxy_cost=(50.0, 0.5, 5e7))
    assert recommend(compare_strategies(proxy, full, n_resamples=0)).strategy == "short_20x"  # learned: endorsed
    table = compare_strategies(_stuck(proxy), full, n_resamples=0)
    assert table.loc["short_20x", "rho"] == 1.0 and table.loc["short_20x", "meets"]
    assert table.loc["short_20x", ["not_learned_runs", "judged_runs"]].tolist() == [12, 12]
    assert table.loc["short_20x", "did_not_learn"] and not table["confident"].any() and not table["recommended"].any()
    choice = recommend(table)
    assert choice.strategy is None
    assert choice.text.startswith("No proxy to recommend. Most runs of short_20x (12 of 12 judged proxy runs) did "
                                  "not learn")
    assert "looks good" not in choice.text and "Recommended" not in choice.text


def test_too_few_configurations_of_runs_that_did_not_learn_do_not_look_good(tables):
    few = {k: v for k, v in list(FULL.items())[:6]}
    proxy, full = tables(few, {k: SAME_ORDER[k] for k in few}, label="short_20x", proxy_cost=(50.0, 0.5, 5e7))
    assert "short_20x looks good" in recommend(compare_strategies(proxy, full, n_resamples=0)).text
    text = recommend(compare_strategies(_stuck(proxy, 4), full, n_resamples=0)).text
    assert "looks good" not in text and "Most runs of short_20x (4 of 6 judged proxy runs) did not learn" in text
    assert not pd.isna(compare_strategies(proxy, full, n_resamples=0).loc["short_20x", "more_configs"])
    assert pd.isna(compare_strategies(_stuck(proxy, 4), full, n_resamples=0).loc["short_20x", "more_configs"])


def test_a_learning_strategy_is_recommended_and_the_one_that_did_not_learn_is_named(tables):
    stuck, full = tables(FULL, SAME_ORDER, label="short_20x", proxy_cost=(50.0, 0.5, 5e7))
    good, _ = tables(FULL, {k: [v[0] * 2] for k, v in FULL.items()}, label="subset_2x", proxy_cost=(500.0, 5.0, 5e8))
    choice = recommend(compare_strategies(pd.concat([_stuck(stuck), good.assign(learned="learned")]), full,
                                          n_resamples=0))
    assert choice.strategy == "subset_2x"
    assert choice.text.startswith("Recommended proxy: subset_2x") and "Most runs of short_20x" in choice.text


def test_a_minority_that_did_not_learn_or_unknown_verdicts_change_nothing(tables):
    proxy, full = tables(FULL, SAME_ORDER, label="short_20x", proxy_cost=(50.0, 0.5, 5e7))
    assert recommend(compare_strategies(_stuck(proxy, 6), full, n_resamples=0)).strategy == "short_20x"  # half
    assert recommend(compare_strategies(proxy.assign(learned="unknown"), full, n_resamples=0)).strategy == "short_20x"
    assert learned_counts(proxy.assign(learned="unknown")).loc["short_20x"].tolist() == [0, 0]


def test_the_report_verdict_says_plainly_that_the_proxy_did_not_learn(tables):
    proxy, full = tables(FULL, SAME_ORDER, label="short_20x", proxy_cost=(50.0, 0.5, 5e7))
    report = build_report(_stuck(proxy), full, n_resamples=50)
    assert report.recommendation.strategy is None
    assert report.verdict.startswith("No proxy to recommend. Most runs of short_20x")
    assert report.terminal_text().startswith(report.verdict)
    assert report.strategy_table().loc["short_20x", "not learned"] == "12/12"
    assert "not learned" not in build_report(proxy, full, n_resamples=0).strategy_table()  # nothing to flag


def test_grouped_verdict_counts_groups_where_the_proxy_did_not_learn(tables):
    frames = [tables(FULL, SAME_ORDER, label="short_20x", proxy_cost=(50.0, 0.5, 5e7)) for _ in range(2)]
    proxy = pd.concat([_stuck(frames[0][0]).assign(group="a"), frames[1][0].assign(group="b")], ignore_index=True)
    full = pd.concat([frames[0][1].assign(group="a"), frames[1][1].assign(group="b")], ignore_index=True)
    report = build_report(proxy, full, n_resamples=0, by="group")
    assert report.groups.loc["short_20x", "share_did_not_learn"] == 0.5
    assert report.comparison["recommended"].tolist() == [False, True]
    assert "recommended (interval's lower bound clears 0.80) in 1 of 2 groups" in report.verdict
    assert "in 1 of 2 groups most of its proxy runs did not learn" in report.verdict
