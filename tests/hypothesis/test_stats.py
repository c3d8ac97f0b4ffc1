"""The paired verdict against hand and scipy computations, and by simulation (no training)."""
import itertools
import math

import numpy as np
import pytest
from scipy import stats

from budgetsweep.hypothesis.stats import (analyse, improvements, mde_dz, power_paired_t, seeds_for_power, sign_flip_p,
                                          transfer)

BASE = np.array([0.52, 0.48, 0.55, 0.50, 0.47])
CAND = np.array([0.45, 0.44, 0.49, 0.51, 0.40])  # a loss: lower is better


def test_improvements_sign_follows_direction():
    assert improvements(BASE, CAND, "minimize") == pytest.approx(BASE - CAND)
    assert improvements(BASE, CAND, "maximize") == pytest.approx(CAND - BASE)
    with pytest.raises(ValueError, match="direction='up'"):
        improvements(BASE, CAND, "up")
    with pytest.raises(ValueError, match="finite"):
        improvements([1.0, math.nan], [1.0, 2.0], "maximize")


def test_analysis_matches_scipy_paired_t():
    d = improvements(BASE, CAND, "minimize")
    res = analyse(d, alpha=0.05, smallest_effect=0.02)
    assert res.n == 5
    assert res.mean == pytest.approx(0.046)
    assert res.sd == pytest.approx(np.std(d, ddof=1))
    assert res.dz == pytest.approx(0.046 / np.std(d, ddof=1))
    # one-sided in the registered direction: baseline loss greater than candidate loss
    assert res.p_t == pytest.approx(stats.ttest_rel(BASE, CAND, alternative="greater").pvalue)
    # the two-sided (1 - 2 alpha) = 90% t interval
    lo, hi = stats.t.interval(0.90, 4, loc=d.mean(), scale=stats.sem(d))
    assert res.ci == pytest.approx((lo, hi))
    assert res.ci_level == pytest.approx(0.90)
    assert res.verdict == "supported"

    two = analyse(d, alpha=0.05, smallest_effect=0.02, sides=2)
    assert two.p_t == pytest.approx(stats.ttest_rel(BASE, CAND).pvalue)
    assert two.ci == pytest.approx(stats.t.interval(0.95, 4, loc=d.mean(), scale=stats.sem(d)))


def _enumerated_sign_flip(d, sides):
    obs = d.mean()
    flips = [np.mean(np.array(s) * d) for s in itertools.product([1, -1], repeat=d.size)]
    if sides == 1:
        return np.mean([f >= obs - 1e-12 for f in flips])
    return np.mean([abs(f) >= abs(obs) - 1e-12 for f in flips])


@pytest.mark.parametrize("sides", [1, 2])
def test_sign_flip_is_exact_enumeration(sides):
    d = np.array([0.3, 0.1, 0.5, -0.1, 0.4, 0.2, -0.05, 0.25])
    p, method = sign_flip_p(d, sides)
    assert p == pytest.approx(_enumerated_sign_flip(d, sides))
    assert "2^8 = 256" in method


def test_sign_flip_smallest_p_at_five_seeds():
    d = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    assert sign_flip_p(d, 1)[0] == pytest.approx(1 / 32)
    assert sign_flip_p(d, 2)[0] == pytest.approx(1 / 16)  # two-sided cannot reach 0.05 at n = 5
    res = analyse(d, alpha=0.05, smallest_effect=0.1, sides=2, test="permutation")
    assert res.verdict != "supported"
    assert any("cannot reach" in note for note in res.notes)


def test_mde_is_where_noncentral_t_power_reaches_target():
    dz = mde_dz(5, 0.05, 0.8, 1)
    assert power_paired_t(dz, 5, 0.05, 1) == pytest.approx(0.8, abs=1e-8)
    # cross-check the power by hand: P(T' > t_crit) with T' noncentral t(4, dz sqrt 5)
    assert stats.nct.sf(stats.t.ppf(0.95, 4), 4, dz * math.sqrt(5)) == pytest.approx(0.8, abs=1e-8)
    assert mde_dz(20, 0.05, 0.8, 1) < dz  # more seeds detect smaller effects
    assert seeds_for_power(0.5, 1.0, 0.05, 0.8, 1) == min(n for n in range(2, 100)
                                                          if power_paired_t(0.5, n, 0.05, 1) >= 0.8)


def test_refuted_only_when_interval_excludes_smallest_effect():
    # noisy, p > alpha, but the interval still reaches the smallest effect: inconclusive, not refuted
    noisy = np.array([0.5, -0.4, 0.3, -0.2, 0.1])
    res = analyse(noisy, alpha=0.05, smallest_effect=0.1)
    assert res.p_t > 0.05 and res.ci[1] >= 0.1
    assert res.verdict == "inconclusive"
    assert res.sentence.startswith("inconclusive: with 5 seeds, effects below ")
    assert f"{res.mde:.4g}" in res.sentence
    # precise and near zero: the interval's upper bound is below the smallest effect: refuted
    tight = np.array([0.001, -0.002, 0.0005, 0.0, -0.001])
    res = analyse(tight, alpha=0.05, smallest_effect=0.1)
    assert res.ci[1] < 0.1
    assert res.verdict == "refuted"
    # the same data against a smaller smallest effect that the interval reaches: not refuted
    assert analyse(tight, alpha=0.05, smallest_effect=0.0005).verdict == "inconclusive"


def test_supported_needs_the_registered_direction():
    worse = -np.array([0.1, 0.12, 0.09, 0.11, 0.1])  # candidate clearly worse
    assert analyse(worse, alpha=0.05, smallest_effect=0.05, sides=2).verdict == "refuted"
    assert analyse(worse, alpha=0.05, smallest_effect=0.05, sides=1).verdict == "refuted"


@pytest.mark.parametrize("bad, match", [(dict(alpha=0.5), "alpha=0.5"), (dict(alpha=0.0), "alpha=0.0"),
                                        (dict(smallest_effect=0.0), "smallest_effect=0.0"),
                                        (dict(sides=3), "sides=3"), (dict(test="wilcoxon"), "test='wilcoxon'")])
def test_bad_parameters_name_the_key(bad, match):
    kwargs = dict(alpha=0.05, smallest_effect=0.1) | bad
    with pytest.raises(ValueError, match=match):
        analyse([0.1, 0.2, 0.3], **kwargs)
    with pytest.raises(ValueError, match="at least 2"):
        analyse([0.1], alpha=0.05, smallest_effect=0.1)


REPS = 1000


def _rate(effect_dz, n, rng):
    verdicts = [analyse(rng.normal(effect_dz, 1.0, size=n), alpha=0.05, smallest_effect=0.5).verdict
                for _ in range(REPS)]
    return verdicts.count("supported") / REPS


def test_false_positives_at_most_alpha_and_power_as_stated():
    rng = np.random.default_rng(20261201)
    n = 6
    se = math.sqrt(0.05 * 0.95 / REPS)
    null_rate = _rate(0.0, n, rng)
    assert null_rate <= 0.05 + 3 * se
    true_dz = mde_dz(n, 0.05, 0.8, 1)  # a true effect exactly at the MDE is detected with power 0.8
    power = _rate(true_dz, n, rng)
    assert abs(power - 0.8) <= 3 * math.sqrt(0.8 * 0.2 / REPS)


def test_transfer_ratio_with_fieller_interval():
    proxy = np.array([0.10, 0.12, 0.09, 0.11, 0.13])
    full = np.array([0.05, 0.06, 0.04, 0.07, 0.05])
    res = transfer(proxy, full, level=0.95)
    assert res.same_sign
    assert res.ratio == pytest.approx(full.mean() / proxy.mean())
    lo, hi = res.ratio_ci
    assert lo < res.ratio < hi
    # the Fieller bounds are the ratios r where the t statistic of full - r proxy equals the quantile
    t = stats.t.ppf(0.975, 4)
    for r in (lo, hi):
        se = math.sqrt(full.var(ddof=1) / 5 + r * r * proxy.var(ddof=1) / 5)
        assert abs(full.mean() - r * proxy.mean()) / se == pytest.approx(t)
    # a proxy effect indistinguishable from zero gives an unbounded interval
    flat = transfer(np.array([0.1, -0.1, 0.05, -0.06, 0.01]), full)
    assert flat.ratio_ci == (None, None)
    assert not transfer(proxy, -full).same_sign


def test_constant_differences_and_large_n():
    # every difference 0: the t-test is undefined; the exact sign-flip test of "improvement >= 0.01" gives 1/32
    zero = analyse(np.zeros(5), alpha=0.05, smallest_effect=0.01)
    assert zero.verdict == "refuted" and math.isnan(zero.p_t) and all(map(math.isnan, zero.ci))
    assert zero.degenerate == "constant" and "zero variance" in zero.sentence
    # every difference 0.02: one-sided sign-flip p = 1/32 < 0.05 (tests/hypothesis/test_degenerate.py: the rest)
    assert analyse(np.full(5, 0.02), alpha=0.05, smallest_effect=0.01).p_permutation == pytest.approx(1 / 32)
    # above 20 pairs the sign-flip test is a seeded Monte Carlo, close to the exact answer's normal limit
    d = np.random.default_rng(3).normal(0.3, 1.0, size=24)
    p, method = sign_flip_p(d, 1)
    assert "Monte Carlo" in method and p == sign_flip_p(d, 1)[0]  # reproducible
    assert abs(p - stats.ttest_1samp(d, 0.0, alternative="greater").pvalue) < 0.03
