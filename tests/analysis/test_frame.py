"""from_frame: any results table into the run frame; by= groups analysed in one call."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from budgetsweep.analysis import compare_strategies, from_frame, noise_ceiling, split_runs
from tests.conftest import REPO, doc_blocks

TABLE = Path(__file__).parent / "data" / "learning_curves.csv"
ARGS = dict(config="learner", strategy="train_size", full_label="100%", seed="seed", objective="accuracy",
            direction="maximize", costs={"examples": "n_examples"})


@pytest.fixture(scope="module")
def curves():
    return pd.read_csv(TABLE)


def test_grouped_call_equals_one_call_per_group_and_scipy(curves):
    runs = from_frame(curves, by="dataset", **ARGS)
    proxy, full = split_runs(runs)
    table = compare_strategies(proxy, full, by="dataset", n_resamples=0)
    assert table.index.names == ["dataset", "strategy"] and len(table) == 8
    for dataset, part in curves.groupby("dataset"):
        p, f = split_runs(from_frame(part, **ARGS))
        alone = compare_strategies(p, f, n_resamples=0)
        got = table.loc[dataset].loc[alone.index]
        pd.testing.assert_frame_equal(got[alone.columns], alone, check_names=False)
        # reference: seed means per learner, scipy's rank correlations
        means = part.groupby(["train_size", "learner"])["accuracy"].mean()
        for strategy in ("5%", "25%"):
            x, y = means[strategy], means["100%"].loc[means[strategy].index]
            assert got.loc[strategy, "rho"] == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
            assert got.loc[strategy, "tau"] == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
            assert got.loc[strategy, "cost_reduction_examples"] == pytest.approx(
                part.loc[part.train_size == "100%", "n_examples"].mean()
                / part.loc[part.train_size == strategy, "n_examples"].mean())
    summary = table.attrs["summary"]
    assert summary.loc["25%", "groups"] == 4
    assert summary.loc["25%", "median_rho"] == pytest.approx(table.xs("25%", level="strategy")["rho"].median())
    assert summary.loc["5%", "share_meets"] == table.xs("5%", level="strategy")["meets"].mean()


def test_the_columns_a_check_asks_for_are_enough(curves):
    # no cost columns at all, string seeds: still a full analysis (costs n/a)
    df = curves[curves.dataset == "adult"].drop(columns="n_examples").assign(seed=lambda d: "s" + d.seed.astype(str))
    runs = from_frame(df, config=["learner"], strategy="train_size", full_label="100%", seed="seed",
                      objective="accuracy", direction="maximize")
    assert runs["seed"].tolist()[:3] == [0, 1, 2] and runs["seed_label"].tolist()[:3] == ["s0", "s1", "s2"]
    assert runs["config_key"].iloc[0] == "learner=gbm_a" and runs["config.learner"].iloc[0] == "gbm_a"
    table = compare_strategies(*split_runs(runs), n_resamples=0)
    assert table["configs"].tolist() == [12, 12] and table["cost_reduction_time"].isna().all()


def test_equal_numbers_name_one_configuration():
    df = pd.DataFrame({"epochs": [10, 10.0], "s": ["full", "p"], "v": [1.0, 2.0]})
    runs = from_frame(df, config="epochs", strategy="s", objective="v", direction="minimize")
    assert runs["config_key"].nunique() == 1 and runs["config_key"].iloc[0] == "epochs=10"


@pytest.mark.parametrize("kwargs, message", [
    (dict(config="lr"), r"df has no column\(s\) config: \['lr'\]"),
    (dict(by="task"), r"by: \['task'\]"),
    (dict(direction="up"), "direction='up'; allowed"),
    (dict(status="status"), r"status column 'status' has 1 missing value\(s\)"),
    (dict(costs={"dollars": "n_examples"}), r"costs has key\(s\) \['dollars'\]"),
    (dict(full_label="full"), r"full_label='full' is not a label in strategy column 'train_size', which holds"),
])
def test_clear_errors(curves, kwargs, message):
    df = curves.head(6).assign(status=["completed"] * 5 + [None])
    with pytest.raises(ValueError, match=message):
        from_frame(df, **{**ARGS, **kwargs})


def test_unknown_status_and_non_numeric_objective_are_errors(curves):
    df = curves.head(4).assign(status="done")
    with pytest.raises(ValueError, match=r"status column 'status' has value\(s\) \['done'\]"):
        from_frame(df, status="status", **ARGS)
    with pytest.raises(ValueError, match="non-numeric value"):
        from_frame(curves.head(4).assign(accuracy="high"), **ARGS)
    with pytest.raises(TypeError, match="df must be a pandas DataFrame"):
        from_frame([1], **ARGS)


def test_noise_ceiling_with_unequal_seed_counts_matches_pandas(curves):
    part = curves[(curves.dataset == "letter") & (curves.train_size == "100%")]
    part = part[~((part.learner.isin(["gbm_a", "knn_c"])) & (part.seed == 2))]  # two configs lack seed 2
    runs = from_frame(part, **ARGS)
    wide = part.pivot(index="learner", columns="seed", values="accuracy")
    corr = wide.corr(method="spearman").to_numpy()
    c = noise_ceiling(runs)
    assert c.seed_rho == pytest.approx(corr[np.triu_indices(3, 1)].mean())
    assert c.seeds == pytest.approx(34 / 12)


def test_docs_from_frame_example_runs(monkeypatch, capsys):
    (code,) = [b for _, _, b in doc_blocks("python", ["docs/report.md"]) if "from_frame(" in b]
    monkeypatch.chdir(REPO)
    exec(compile(code, "docs/report.md", "exec"), {})
    out = capsys.readouterr().out
    assert "share_meets" in out and "adult" in out


def test_a_run_frame_with_missing_status_is_an_error_not_zero_configurations(tables):
    proxy, full = tables({"a": [1.0], "b": [2.0], "c": [3.0]}, {"a": [1.0], "b": [2.0], "c": [3.0]})
    proxy["status"] = None
    with pytest.raises(ValueError, match=r"proxy.status has 3 missing value\(s\)"):
        compare_strategies(proxy, full, n_resamples=0)


def test_config_values_differing_by_float_noise_pair_as_one_configuration():
    """Full runs at lr 0.1 * k and proxy runs at the same values + 1e-12 relative (computed another
    way): one configuration each, every one paired; genuinely different values stay apart."""
    rng = np.random.default_rng(5)
    lrs = np.array([0.1 * k for k in range(1, 13)])
    rows = []
    for scale, lr_values in (("full", lrs), ("proxy", lrs * (1 + 1e-12))):
        for i, lr in enumerate(lr_values):
            for seed in range(2):
                rows.append({"lr": lr, "width": 64.0, "scale": scale, "seed": seed, "loss": i + rng.normal(0, 0.01)})
    df = pd.DataFrame(rows)
    assert df["lr"].nunique() == 24  # as a reader of the table sees them: 24 distinct numbers
    runs = from_frame(df, config=["lr", "width"], strategy="scale", full_label="full", seed="seed",
                      objective="loss", direction="minimize")
    assert runs["config_key"].nunique() == 12
    assert "lr=0.1, width=64" in set(runs["config_key"])  # the shorter spelling of the two
    table = compare_strategies(*split_runs(runs), n_resamples=0)
    assert table.loc["proxy", "configs"] == 12 and table.loc["proxy", "rho"] == pytest.approx(1.0)
    apart = from_frame(pd.DataFrame({"lr": [0.1, 0.1 * (1 + 1e-6)], "s": ["full", "p"], "v": [1.0, 2.0]}),
                       config="lr", strategy="s", objective="v", direction="minimize")
    assert apart["config_key"].nunique() == 2


@pytest.mark.parametrize("values, message", [
    ([100.0, 0.0, -5.0, 100.0], r"cost column 'n_examples' \(examples\) has 2 row\(s\) that are zero, negative "
                                r"or infinite, e.g. \[0.0, -5.0\]"),
    ([100.0, np.inf, 100.0, 100.0], r"has 1 row\(s\) that are zero, negative or infinite"),
    ([100.0, "many", 100.0, 100.0], r"cost column 'n_examples' \(examples\) has 1 non-numeric value\(s\), "
                                    r"e.g. \['many'\]"),
])
def test_costs_that_are_not_positive_numbers_are_errors(curves, values, message):
    rest = curves["n_examples"].tolist()[len(values):]
    with pytest.raises(ValueError, match=message):
        from_frame(curves.assign(n_examples=values + rest), **ARGS)
    ok = from_frame(curves.assign(n_examples=[100.0, np.nan, 100.0, 100.0] + rest), **ARGS)  # NaN: not measured
    assert ok["examples"].isna().sum() == 1
