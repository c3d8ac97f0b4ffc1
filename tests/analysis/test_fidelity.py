from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from budgetsweep.analysis import fidelity, noise_ceiling

FULL = {"a": [1.0], "b": [2.0], "c": [3.0], "d": [4.0], "e": [5.0], "f": [6.0]}
PROXY = {"a": [2.0], "b": [1.0], "c": [3.0], "d": [4.0], "e": [6.0], "f": [5.0]}  # swaps a<->b and e<->f


def test_one_seed_minimize_by_hand(tables):
    proxy, full = tables(FULL, PROXY)
    f = fidelity(proxy, full, n_resamples=200)
    assert f.configs == 6 and f.proxy_only == 0 and f.full_only == 0
    assert f.rho == pytest.approx(1 - 6 * 4 / (6 * 35))  # sum of squared rank differences is 4
    assert f.tau == pytest.approx((13 - 2) / 15)  # two discordant pairs of 15
    assert f.top_k == {1: 0.0, 3: 1.0, 5: pytest.approx(0.8)}
    assert f.regret == pytest.approx(1.0)  # the proxy picks b (full 2.0); the best is a (1.0)
    # one seed: no seed noise to measure
    assert math.isnan(f.regret_sd) and math.isnan(f.top_seed_std) and math.isnan(f.p_worse)
    assert math.isnan(f.ceiling.ceiling) and math.isnan(f.rho_rel)
    assert f.rho_low <= f.rho <= f.rho_high
    assert (f.cost_reduction_examples, f.cost_reduction_time, f.cost_reduction_flops) == (10.0, 5.0, 10.0)
    assert f.predicted_reduction == pytest.approx(10.0)
    assert f.objective == "val_loss" and f.direction == "minimize"


def test_maximize_gives_the_same_fidelity_as_the_mirrored_minimize(tables):
    flip = lambda d: {k: [10.0 - v for v in vs] for k, vs in d.items()}  # noqa: E731  accuracy-like
    lo = fidelity(*tables(FULL, PROXY), n_resamples=200)
    hi = fidelity(*tables(flip(FULL), flip(PROXY), direction="maximize"), n_resamples=200)
    assert (hi.rho, hi.tau, hi.regret) == pytest.approx((lo.rho, lo.tau, lo.regret))
    assert hi.top_k == pytest.approx(lo.top_k)
    assert hi.direction == "maximize"


def test_proxy_minimizing_a_loss_against_full_maximizing_an_accuracy(tables):
    proxy, _ = tables(FULL, PROXY)
    _, full = tables({k: [10.0 - v[0]] for k, v in FULL.items()}, PROXY, direction="maximize")
    f = fidelity(proxy, full, n_resamples=0)
    assert f.rho == pytest.approx(1 - 6 * 4 / (6 * 35))  # ignoring directions would give a negative rho
    assert f.regret == pytest.approx(1.0)


def test_configs_without_a_partner_are_left_out_and_counted(tables):
    full = {"a": [1.0], "b": [2.0], "c": [3.0], "d": [4.0], "full_only": [0.1]}
    proxy = {"a": [1.0], "b": [3.0], "c": [2.0], "d": [4.0], "proxy_only": [0.1]}
    f = fidelity(*tables(full, proxy), n_resamples=0)
    assert (f.configs, f.proxy_only, f.full_only) == (4, 1, 1)
    assert f.rho == pytest.approx(stats.spearmanr([1, 3, 2, 4], [1, 2, 3, 4]).statistic)
    assert f.top_k[1] == 1.0 and f.top_k[3] == 1.0 and math.isnan(f.top_k[5])  # fewer configs than k
    assert all(math.isnan(v) for v in (f.rho_low, f.rho_high, f.tau_low, f.tau_high))  # < 5 configs


def test_runs_that_did_not_complete_are_excluded_and_counted(tables):
    proxy, full = tables(FULL, PROXY)
    proxy.loc[proxy["config_key"] == "a", "status"] = "pruned"
    f = fidelity(proxy, full, n_resamples=0)
    assert f.configs == 5 and f.excluded_runs == 1 and f.full_only == 1


def test_regret_is_measured_against_the_seed_noise_of_the_top_configurations(tables):
    # c..e are badly trained and noisy; the top three (a, b, c) are what the pick competes with
    full = {"a": [1.0, 1.2], "b": [2.0, 2.4], "c": [3.0, 3.0], "d": [6.0, 9.0], "e": [5.0, 12.0]}
    proxy = {"a": [2.0], "b": [1.0], "c": [3.0], "d": [4.0], "e": [5.0]}
    f = fidelity(*tables(full, proxy), n_resamples=0)
    top = [np.var(full[k], ddof=1) for k in ("a", "b", "c")]
    noise = math.sqrt(sum(top) / 3)  # two seeds each: equal weights, 3 degrees of freedom
    assert f.top_seed_std == pytest.approx(noise)
    assert f.regret == pytest.approx(2.2 - 1.1)
    assert f.regret_sd == pytest.approx(1.1 / noise)
    # the chance the pick (b) is truly worse than the best (a): a t comparison of two 2-seed means
    se = noise * math.sqrt(1 / 2 + 1 / 2)
    assert f.p_worse == pytest.approx(stats.t.cdf(1.1 / se, 3))
    # the same with scipy's two-sample t test on equal seed noise: 1 - one-sided p
    ref = stats.ttest_ind_from_stats(2.2, noise, 2, 1.1, noise, 2, equal_var=True, alternative="greater")
    assert f.p_worse == pytest.approx(1 - ref.pvalue, abs=0.05)  # same t, df 3 vs 2
    assert f.full_runs == 10 and f.proxy_runs == 5


def test_a_pick_of_the_best_is_never_worse(tables):
    full = {"a": [1.0, 1.2], "b": [2.0, 2.4], "c": [3.0, 3.0], "d": [6.0, 9.0], "e": [5.0, 12.0]}
    f = fidelity(*tables(full, {"a": [1.0], "b": [2.0], "c": [3.0], "d": [4.0], "e": [5.0]}), n_resamples=0)
    assert f.regret == 0.0 and f.p_worse == 0.0


def _seed_runs(tables, columns):
    """Full runs whose seed s has the values columns[s] over configs c0..c4."""
    full = {f"c{i}": [col[i] for col in columns] for i in range(len(columns[0]))}
    return tables(full, {k: [float(i)] for i, k in enumerate(full)})


def test_noise_ceiling_two_seeds_known_answer(tables):
    proxy, full = _seed_runs(tables, [[1, 2, 3, 4, 5], [1, 2, 3, 5, 4]])
    c = noise_ceiling(full)
    assert c.seed_rho == pytest.approx(0.9)  # 1 - 6*2/120
    assert c.seeds == 2 and c.seed_pairs == 1 and c.configs == 5
    assert c.reliability == pytest.approx(1.8 / 1.9)
    assert c.ceiling == pytest.approx(math.sqrt(1.8 / 1.9))
    f = fidelity(proxy, full, n_resamples=0)
    assert f.ceiling == c and f.rho_rel == pytest.approx(f.rho / c.ceiling)


def test_noise_ceiling_three_seeds_averages_the_seed_pairs(tables):
    _, full = _seed_runs(tables, [[1, 2, 3, 4, 5], [1, 2, 3, 5, 4], [2, 1, 3, 4, 5]])
    c = noise_ceiling(full)
    rho_1 = (0.9 + 0.9 + 0.8) / 3
    assert c.seed_rho == pytest.approx(rho_1) and c.seed_pairs == 3
    assert c.reliability == pytest.approx(3 * rho_1 / (1 + 2 * rho_1))
    assert c.ceiling == pytest.approx(math.sqrt(3 * rho_1 / (1 + 2 * rho_1)))


def test_noise_ceiling_matches_seeds_by_order_not_by_value(tables):
    _, full = _seed_runs(tables, [[1, 2, 3, 4, 5], [1, 2, 3, 5, 4]])
    full["seed"] = full["seed"] + 10 * full["config_key"].str[1:].astype(int)  # every config its own seeds
    assert noise_ceiling(full).seed_rho == pytest.approx(0.9)


def test_noise_ceiling_when_seeds_disagree_entirely(tables):
    proxy, full = _seed_runs(tables, [[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]])
    c = noise_ceiling(full)
    assert c.seed_rho == pytest.approx(-1.0) and math.isnan(c.ceiling)
    assert math.isnan(fidelity(proxy, full, n_resamples=0).rho_rel)


def test_perfect_proxy(tables):
    full = {f"c{i}": [float(i), float(i) + 0.01] for i in range(8)}
    f = fidelity(*tables(full, {k: [v[0] * 3] for k, v in full.items()}), n_resamples=300)
    assert (f.rho, f.tau, f.regret) == pytest.approx((1.0, 1.0, 0.0))
    # every resample agrees perfectly: the zero-width bootstrap interval gives way to Fisher-z's
    assert f.rho_high == 1.0 and 0.8 < f.rho_low < 1.0 and f.ci_method == "fisher-z"
    assert all(v == 1.0 for v in f.top_k.values())
    assert f.ceiling.ceiling == pytest.approx(1.0)


def test_bootstrap_is_reproducible_with_rng(tables):
    rng = np.random.default_rng(0)
    full = {f"c{i}": [float(v)] for i, v in enumerate(rng.normal(size=20))}
    proxy = {k: [v[0] + rng.normal()] for k, v in full.items()}
    a = fidelity(*tables(full, proxy), n_resamples=300, rng=1)
    b = fidelity(*tables(full, proxy), n_resamples=300, rng=1)
    assert (a.rho_low, a.rho_high, a.tau_low, a.tau_high) == (b.rho_low, b.rho_high, b.tau_low, b.tau_high)


def test_to_frame_is_one_row_indexed_by_strategy(tables):
    f = fidelity(*tables(FULL, PROXY), n_resamples=0, k=(2, 1))
    frame = f.to_frame()
    assert frame.shape[0] == 1 and frame.index.tolist() == ["data_subset(fraction=0.1)"]
    assert {"rho", "tau", "top1", "top2", "regret", "ceiling", "rho_rel", "cost_reduction_time"} <= set(frame.columns)
    assert frame.loc[f.strategy, "rho"] == f.rho
    assert isinstance(f.to_series(), pd.Series)


def test_fidelity_wants_one_strategy_and_valid_settings(tables):
    p1, full = tables(FULL, PROXY, label="one")
    p2, _ = tables(FULL, PROXY, label="two")
    with pytest.raises(ValueError, match="use compare_strategies"):
        fidelity(pd.concat([p1, p2]), full)
    with pytest.raises(ValueError, match=r"k=\(0,\)"):
        fidelity(p1, full, k=(0,))
    with pytest.raises(ValueError, match="confidence_level=1.5"):
        fidelity(p1, full, confidence_level=1.5)
    with pytest.raises(ValueError, match="ci_method='fancy'"):
        fidelity(p1, full, ci_method="fancy")


def test_a_strategy_whose_runs_all_failed_has_no_measures(tables):
    proxy, full = tables(FULL, PROXY)
    proxy["status"] = "failed"
    f = fidelity(proxy, full, n_resamples=100)
    assert f.configs == 0 and f.excluded_runs == 6 and f.full_only == 6
    assert all(math.isnan(v) for v in (f.rho, f.tau, f.regret, f.rho_low, f.cost_reduction_time))
    assert all(math.isnan(v) for v in f.top_k.values())


def test_permuting_and_renaming_configurations_changes_no_statistic(tables):
    from budgetsweep.analysis import compare_strategies

    rng = np.random.default_rng(4)
    keys = [f"k{i:02d}" for i in range(15)]
    # integer scores: many ties on both sides, including a tie for the best full score
    full = {k: [float(v), float(v) + float(rng.integers(0, 2))] for k, v in zip(keys, rng.integers(0, 6, 15))}
    full["k03"], full["k07"] = [0.0, 0.0], [0.0, 0.0]
    proxy = {k: [float(v)] for k, v in zip(keys, rng.integers(0, 6, 15))}
    p, f = tables(full, proxy)
    before = compare_strategies(p, f, n_resamples=300, rng=2)
    names = dict(zip(keys, rng.permutation([f"z{i}" for i in range(15)])))
    p2, f2 = (df.assign(config_key=df["config_key"].map(names)).sample(frac=1.0, random_state=9).reset_index(drop=True)
              for df in (p, f))
    after = compare_strategies(p2, f2, n_resamples=300, rng=2)
    pd.testing.assert_frame_equal(before, after)
    assert before.loc["data_subset(fraction=0.1)", "rho_low"] < before.loc["data_subset(fraction=0.1)", "rho"]


def test_cost_reduction_weighs_configurations_not_seeds(runs, make_record):
    # a: cheap at full scale, 5 full seeds; b: expensive at full scale, 1 full seed. The proxy's
    # seeds the other way round. Per configuration first: full (100 + 1000) / 2 over proxy
    # (10 + 100) / 2 = 10x in every unit; per run it would be 250 / 85 = 2.9x.
    def rec(key, label, seed, cost, factor):
        return make_record(key, label, seed, float(seed) + (0.0 if key == "a" else 10.0), examples=cost,
                           wall=cost / 10, flops=cost * 1e6, factor=factor)

    full = runs([rec("a", "full", s, 100.0, 1.0) for s in range(5)] + [rec("b", "full", 0, 1000.0, 1.0)]
                + [rec(k, "full", 0, 50.0, 1.0) for k in ("c", "d", "e")])
    proxy = runs([rec("a", "p", 0, 10.0, 0.1)] + [rec("b", "p", s, 100.0, 0.1) for s in range(5)]
                 + [rec(k, "p", 0, 5.0, 0.1) for k in ("c", "d", "e")])
    f = fidelity(proxy, full, n_resamples=0)
    per_config = (100 + 1000 + 3 * 50) / (10 + 100 + 3 * 5)
    assert f.cost_reduction_examples == pytest.approx(per_config)
    assert f.cost_reduction_time == pytest.approx(per_config)
    assert f.cost_reduction_flops == pytest.approx(per_config)
    # fewer seeds finishing changes nothing
    fewer = fidelity(proxy[~((proxy["config_key"] == "b") & (proxy["seed"] > 0))],
                     full[~((full["config_key"] == "a") & (full["seed"] > 1))], n_resamples=0)
    assert fewer.cost_reduction_examples == pytest.approx(per_config)


# found by a search over small tied tables: BCa's bounds are undefined for both statistics on these
# resamples (one proxy configuration differs from the ten it ties with), so both get the percentile interval
FALLBACK_PROXY = [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
FALLBACK_FULL = [0, 0, 1, 3, 2, 1, 1, 0, 0, 2, 3]


def test_the_interval_method_names_the_fallback_each_statistic_got(tables):
    from budgetsweep.analysis import ranks
    from budgetsweep.analysis.fidelity import ci_method_name

    x, y = np.array(FALLBACK_PROXY, float), np.array(FALLBACK_FULL, float)
    ci = ranks.rank_agreement_ci(x, y, n_resamples=200, rng=1)
    assert ci.methods == ("percentile", "percentile") and ci[0] < ci[1]
    # the same resamples' percentile interval, asked for directly
    assert tuple(ci) == tuple(ranks.rank_agreement_ci(x, y, n_resamples=200, rng=1, method="percentile"))
    names = [f"c{i}" for i in range(len(x))]
    proxy, full = tables({n: [float(v)] for n, v in zip(names, FALLBACK_FULL)},
                         {n: [float(v)] for n, v in zip(names, FALLBACK_PROXY)})
    f = fidelity(proxy, full, n_resamples=200, rng=1)
    assert f.ci_method == "percentile"  # was "BCa", the method asked for, whatever the interval was
    assert ci_method_name(("BCa", "percentile")) == "rho BCa, tau percentile"
    assert ci_method_name(("BCa", "BCa")) == "BCa"


def test_predicted_reduction_weighs_each_configuration_as_the_measured_one_does():
    # a width proxy over three widths: its predicted factor (x flops) varies with the configuration; every run
    # is predicted exactly (proxy flops = full flops x factor), so the predicted reduction must equal the
    # measured one (mean full flops / mean proxy flops). 1 / the mean factor read 14.3x against 18.4x measured.
    from tests.analysis.conftest import make_record, runs_frame

    widths = {"a": (448446464.0, 0.047509225092250924), "b": (144793600.0, 0.065), "c": (21305344.0, 0.09951456310679611)}
    full, proxy = [], []
    for i, (key, (flops, factor)) in enumerate(widths.items()):
        full.append(make_record(key, "full", 0, 1.0 + i, examples=1000, wall=1.0, flops=flops, factor=1.0))
        proxy.append(make_record(key, "model_scale", 0, 2.0 + i, examples=1000, wall=1.0, flops=flops * factor,
                                 factor=factor))
    f = fidelity(runs_frame(proxy), runs_frame(full), n_resamples=0)
    measured = sum(v[0] for v in widths.values()) / sum(v[0] * v[1] for v in widths.values())
    assert f.cost_reduction_flops == pytest.approx(measured)
    assert f.predicted_reduction == pytest.approx(measured)  # 18.4x here, not 1 / mean(factor) = 14.3x
    assert f.predicted_reduction != pytest.approx(1 / np.mean([v[1] for v in widths.values()]))
