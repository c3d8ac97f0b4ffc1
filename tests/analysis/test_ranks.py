from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from budgetsweep.analysis import ranks


def test_rank_agreement_matches_scipy_with_ties():
    x = np.array([1.0, 2.0, 2.0, 3.0, 5.0, 5.0, 7.0])
    y = np.array([2.0, 1.0, 3.0, 3.0, 4.0, 6.0, 6.0])
    rho, tau = ranks.rank_agreement(x, y)
    assert rho == pytest.approx(stats.spearmanr(x, y).statistic)
    assert tau == pytest.approx(stats.kendalltau(x, y).statistic)
    # tau-b by hand: of 21 pairs, 16 concordant, 1 discordant, 2 tied in x (2,2 and 5,5), 2 tied in y
    assert tau == pytest.approx((16 - 1) / math.sqrt((21 - 2) * (21 - 2)))


def test_rank_agreement_needs_three_configurations_and_variation():
    assert all(math.isnan(v) for v in ranks.rank_agreement([1.0, 2.0], [1.0, 2.0]))
    assert all(math.isnan(v) for v in ranks.rank_agreement([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))


@pytest.mark.parametrize("n", [6, 15, 40])
def test_resampled_statistic_equals_scipy_on_each_resample(n):
    rng = np.random.default_rng(n)
    x = rng.integers(0, 5, n).astype(float)  # many ties on both sides
    y = x + rng.integers(0, 3, n)
    statistic = ranks.ResampledRankAgreement(x, y)
    for shape in [(30, n), (12, n - 1)]:  # bootstrap resamples, and jackknife-shaped ones
        idx = rng.integers(0, n, shape)
        got = statistic(idx)
        assert got.shape == (2, shape[0])
        for b in range(shape[0]):
            xs, ys = x[idx[b]], y[idx[b]]
            if np.ptp(xs) == 0 or np.ptp(ys) == 0:
                assert np.isnan(got[:, b]).all()  # no ranking on one side: undefined, as scipy says
                continue
            assert got[0, b] == pytest.approx(stats.spearmanr(xs, ys).statistic, abs=1e-12)
            assert got[1, b] == pytest.approx(stats.kendalltau(xs, ys).statistic, abs=1e-12)
    assert statistic(np.arange(n)) == pytest.approx(ranks.rank_agreement(x, y))


@pytest.mark.parametrize("chunked", [False, True])
def test_jackknife_rows_match_scipy(monkeypatch, chunked):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 6, 30).astype(float)
    y = x + rng.normal(size=30)
    if chunked:
        monkeypatch.setattr(ranks, "_CHUNK", 4 * 30)
    statistic = ranks.ResampledRankAgreement(x, y)
    idx = np.array([np.delete(np.arange(30), j) for j in range(30)])  # what BCa's jackknife passes
    got = statistic(idx)
    for j in range(30):
        assert got[1, j] == pytest.approx(stats.kendalltau(x[idx[j]], y[idx[j]]).statistic, abs=1e-12)
        assert got[0, j] == pytest.approx(stats.spearmanr(x[idx[j]], y[idx[j]]).statistic, abs=1e-12)


def test_resampled_statistic_in_row_blocks_matches_the_whole_matrix(monkeypatch):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.normal(size=50)
    idx = rng.integers(0, 50, (20, 50))
    whole = ranks.ResampledRankAgreement(x, y)(idx)
    monkeypatch.setattr(ranks, "_CHUNK", 7 * 50)  # forces 8 blocks of 7 rows
    blocks = ranks.ResampledRankAgreement(x, y)
    assert blocks.sign is None
    np.testing.assert_allclose(blocks(idx), whole, atol=1e-12)


def test_bootstrap_interval_is_reproducible_and_brackets_the_estimate():
    rng = np.random.default_rng(1)
    x = rng.normal(size=30)
    y = x + rng.normal(size=30)
    a = ranks.rank_agreement_ci(x, y, n_resamples=500, rng=7)
    b = ranks.rank_agreement_ci(x, y, n_resamples=500, rng=7)
    assert a == b
    rho, tau = ranks.rank_agreement(x, y)
    assert a[0] < rho < a[1] and a[2] < tau < a[3]
    c = ranks.rank_agreement_ci(x, y, n_resamples=500, rng=8)
    assert c != a


def test_bootstrap_interval_matches_scipy_on_the_data_itself(monkeypatch):
    # the same resamples through scipy's own paired bootstrap of the data give the same interval
    # (no further resamples for Monte Carlo precision: exactly scipy's 300)
    monkeypatch.setattr(ranks, "MC_SE", math.inf)
    rng = np.random.default_rng(2)
    x = rng.normal(size=12)
    y = x + rng.normal(size=12)

    def rho(a, b):
        return stats.spearmanr(a, b).statistic

    ours = ranks.rank_agreement_ci(x, y, n_resamples=300, rng=3, method="percentile")
    order = np.lexsort((y, x))  # configurations enter the bootstrap in one canonical order (by score)
    ref = stats.bootstrap((x[order], y[order]), rho, paired=True, vectorized=False, n_resamples=300,
                          method="percentile",
                          rng=3).confidence_interval
    assert ours[0] == pytest.approx(ref.low) and ours[1] == pytest.approx(ref.high)


def test_perfect_agreement_gives_a_degenerate_but_finite_interval():
    x = np.arange(10.0)
    assert ranks.rank_agreement_ci(x, x, n_resamples=200) == (1.0, 1.0, 1.0, 1.0)


def test_no_interval_below_five_configurations_or_without_resamples():
    x = np.arange(4.0)
    assert all(math.isnan(v) for v in ranks.rank_agreement_ci(x, x))
    assert all(math.isnan(v) for v in ranks.rank_agreement_ci(np.arange(9.0), np.arange(9.0), n_resamples=0))


def test_top_k_precision_by_hand():
    proxy = np.array([5.0, 4.0, 3.0, 2.0, 1.0])  # proxy order a b c d e
    full = np.array([4.0, 5.0, 1.0, 3.0, 2.0])  # full order b a d e c
    assert ranks.top_k_precision(proxy, full, 1) == 0.0
    assert ranks.top_k_precision(proxy, full, 3) == pytest.approx(2 / 3)
    assert ranks.top_k_precision(proxy, full, 5) == 1.0
    assert math.isnan(ranks.top_k_precision(proxy, full, 6))


def test_a_pick_tied_with_the_full_best_is_a_top1_hit_whatever_its_position():
    # two configurations tie for the best full score; the proxy picks either one: a hit, regret 0
    full = np.array([2.0, 2.0, 1.0])
    for proxy in (np.array([1.0, 0.0, 0.5]), np.array([0.0, 1.0, 0.5])):
        assert ranks.top_k_precision(proxy, full, 1) == 1.0
        assert ranks.regret(proxy, full) == 0.0


def test_proxy_ties_at_the_cut_count_as_a_random_pick():
    proxy = np.array([1.0, 1.0, 0.0])  # two tie for the proxy's best: each picked with chance 1/2
    full = np.array([0.0, 2.0, 1.0])
    assert ranks.top_k_precision(proxy, full, 1) == 0.5
    assert ranks.top_k_precision(proxy[::-1].copy(), full[::-1].copy(), 1) == 0.5
    assert ranks.regret(proxy, full) == pytest.approx(2.0 - 1.0)


def test_float_ties_are_ties_in_every_rank_statistic():
    # means of identical scores over different seed counts (the real-data case of the issue)
    tied = np.array([0.9636, 0.9635999999999999, 0.9635999999999998])
    assert len(set(tied.tolist())) == 3
    proxy = np.r_[tied, 0.5, 0.7, 0.9]
    exact = np.r_[[0.9636] * 3, 0.5, 0.7, 0.9]
    full = np.array([0.3, 0.1, 0.2, 0.4, 0.6, 0.5])
    rho, tau = ranks.rank_agreement(proxy, full)
    assert rho == pytest.approx(stats.spearmanr(exact, full).statistic, abs=1e-12)
    assert tau == pytest.approx(stats.kendalltau(exact, full).statistic, abs=1e-12)
    assert rho != pytest.approx(stats.spearmanr(proxy, full).statistic, abs=1e-3)  # the old answer differed
    assert ranks.top_k_precision(proxy, full, 1) == ranks.top_k_precision(exact, full, 1)
    assert ranks.regret(proxy, full) == ranks.regret(exact, full)
    low = ranks.rank_agreement_ci(proxy, full, n_resamples=200, rng=1)
    assert low == ranks.rank_agreement_ci(exact, full, n_resamples=200, rng=1)
    np.testing.assert_array_equal(ranks.snap_ties(tied), [0.9635999999999998] * 3)
    assert ranks.snap_ties(np.array([1.0, 1.0 + 1e-6, np.nan])).tolist()[:2] == [1.0, 1.0 + 1e-6]


def test_regret_by_hand_and_with_a_tie_at_the_proxy_best():
    full = np.array([3.0, 1.0, 2.0])
    assert ranks.regret(np.array([0.0, 5.0, 1.0]), full) == 2.0  # proxy picks the worst
    assert ranks.regret(np.array([9.0, 5.0, 1.0]), full) == 0.0
    assert ranks.regret(np.array([5.0, 5.0, 1.0]), full) == pytest.approx(3.0 - (3.0 + 1.0) / 2)
    assert math.isnan(ranks.regret(np.array([]), np.array([])))


def test_pooled_std_and_spearman_brown():
    std = np.array([1.0, 2.0, np.nan])
    n = np.array([2, 3, 1])
    assert ranks.pooled_std(std, n) == pytest.approx(math.sqrt((1 * 1 + 2 * 4) / 3))
    assert math.isnan(ranks.pooled_std(np.array([np.nan]), np.array([1])))
    assert ranks.spearman_brown(0.5, 1) == 0.5
    assert ranks.spearman_brown(0.5, 3) == pytest.approx(1.5 / 2)


def test_grouped_rank_statistics_equal_scipy_per_group():
    rng = np.random.default_rng(3)
    sizes = [1, 2, 3, 7, 7, 20, 45, 65, 300, 120]  # the last three above ranks.LARGE_GROUP
    codes = np.repeat(np.arange(len(sizes)), sizes)
    x = rng.integers(0, 6, codes.size).astype(float)  # ties on both sides
    y = x + rng.integers(0, 4, codes.size)
    y[codes == 4] = 1.0  # a group without variation
    y[codes == 9] = 2.0  # a large one without
    import pandas as pd

    rx = pd.Series(x).groupby(codes).rank().to_numpy()
    ry = pd.Series(y).groupby(codes).rank().to_numpy()
    rho = ranks.grouped_spearman(rx, ry, codes, len(sizes))
    tau = ranks.grouped_kendall(x, y, codes, len(sizes))
    for g in range(len(sizes)):
        ref_rho, ref_tau = ranks.rank_agreement(x[codes == g], y[codes == g])
        np.testing.assert_allclose([rho[g], tau[g]], [ref_rho, ref_tau], atol=1e-12, equal_nan=True)
    assert np.isfinite(rho[5]) and np.isnan(rho[4]) and np.isnan(tau[1]) and np.isnan(tau[9])
    assert np.isfinite(tau[8])
