"""The paired analysis of a hypothesis test: effect, interval, p-values, minimum detectable effect, verdict.

Pure statistics on per-seed pairs (numpy, scipy; no torch). Conventions:

- An *improvement* is the candidate's gain over the baseline in the registered direction:
  ``candidate - baseline`` when the metric is maximised, ``baseline - candidate`` when minimised, so
  a positive value always means "the candidate is better", in the metric's units.
- ``sides=1`` (the default of a registration): the pre-registered direction is the alternative,
  H0: mean improvement <= 0 against H1: > 0, at level alpha; the reported interval is the two-sided
  (1 - 2 alpha) t interval, whose lower bound > 0 is the same decision as the one-sided t-test.
  ``sides=2``: a two-sided test at alpha and the (1 - alpha) interval; supported needs p < alpha and
  a positive mean.
- ``refuted`` means the interval's upper bound is below the smallest effect worth acting on
  (a one-sided test of H0: improvement >= smallest effect, as in an equivalence/non-superiority
  test, Schuirmann 1987), never merely p > alpha.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

DIRECTIONS = ("minimize", "maximize")
SIDES = (1, 2)
TESTS = ("t", "permutation")
VERDICTS = ("supported", "refuted", "inconclusive")
#: the exact sign-flip test enumerates all 2^n flips up to this n; above it, a seeded Monte Carlo
EXACT_PERMUTATION_MAX_N = 20
MONTE_CARLO_RESAMPLES = 100_000


def improvements(baseline, candidate, direction: str) -> np.ndarray:
    """Per-seed improvement of candidate over baseline (shape (n,), metric units), positive = better.

    Raises ValueError for an unknown direction, unequal lengths or non-finite values."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction={direction!r} is not allowed; allowed: {DIRECTIONS}")
    b = np.asarray(baseline, dtype=float)
    c = np.asarray(candidate, dtype=float)
    if b.shape != c.shape or b.ndim != 1:
        raise ValueError(f"baseline and candidate must be 1-d of equal length; got shapes {b.shape} and {c.shape}")
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(c))):
        raise ValueError("baseline and candidate values must be finite (a failed run has no pair)")
    return c - b if direction == "maximize" else b - c


def _t_critical(alpha: float, sides: int, df: int) -> float:
    return float(stats.t.ppf(1 - alpha / sides, df))


def power_paired_t(effect_dz: float, n: int, alpha: float, sides: int = 1) -> float:
    """Power of the paired t-test at a true standardised effect ``effect_dz`` (mean / sd of the
    differences, Cohen's d_z) with n pairs: from the noncentral t with n-1 degrees of freedom and
    noncentrality d_z sqrt(n) (Cohen 1988, ch. 2)."""
    df = n - 1
    crit = _t_critical(alpha, sides, df)
    nc = effect_dz * math.sqrt(n)
    power = stats.nct.sf(crit, df, nc)
    if sides == 2:
        power += stats.nct.cdf(-crit, df, nc)
    return float(power)


@functools.lru_cache(maxsize=256)
def mde_dz(n: int, alpha: float, power: float = 0.8, sides: int = 1) -> float:
    """Minimum detectable standardised effect (d_z) at n pairs: the d_z whose paired t-test power is
    ``power`` (solved with Brent's method on the noncentral t). Raises ValueError for n < 2."""
    if n < 2:
        raise ValueError(f"n={n} pairs: a paired t-test needs at least 2")
    if not 0 < power < 1:
        raise ValueError(f"power={power!r} is not allowed; it must be in (0, 1)")
    # power is increasing in d_z; at d_z=0 it is alpha (<= power asked for any sensible power)
    if power <= alpha:
        return 0.0
    hi = 1.0
    while power_paired_t(hi, n, alpha, sides) < power:
        hi *= 2
    return float(optimize.brentq(lambda d: power_paired_t(d, n, alpha, sides) - power, 0.0, hi, xtol=1e-10))


def seeds_for_power(smallest_effect: float, sd: float, alpha: float, power: float = 0.8, sides: int = 1,
                    max_seeds: int = 100) -> int | None:
    """Smallest number of pairs (>= 2) whose paired t-test has ``power`` against an improvement of
    ``smallest_effect`` when the differences' standard deviation is ``sd``; None when more than
    ``max_seeds`` would be needed."""
    if sd <= 0:
        return 2
    dz = smallest_effect / sd
    for n in range(2, max_seeds + 1):
        if power_paired_t(dz, n, alpha, sides) >= power:
            return n
    return None


def sign_flip_p(diffs, sides: int = 1) -> tuple[float, str]:
    """p-value of the sign-flip permutation test of the mean difference (H0: differences symmetric
    about 0), and the method. Uses scipy.stats.permutation_test with permutation_type='samples' on the
    pairs (swapping a pair's members flips its difference's sign): exact over all 2^n flips for
    n <= 20, a seeded Monte Carlo of 100,000 flips above. One-sided: alternative 'greater'."""
    d = np.asarray(diffs, dtype=float)
    n = d.size
    exact = n <= EXACT_PERMUTATION_MAX_N
    res = stats.permutation_test(
        (d, np.zeros_like(d)), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type="samples",
        vectorized=True, n_resamples=np.inf if exact else MONTE_CARLO_RESAMPLES,
        alternative="greater" if sides == 1 else "two-sided", rng=np.random.default_rng(0))
    method = (f"exact sign-flip permutation test, all 2^{n} = {2 ** n} flips" if exact
              else f"Monte Carlo sign-flip permutation test, {MONTE_CARLO_RESAMPLES} flips (seed 0)")
    return float(res.pvalue), method


@dataclass(frozen=True)
class PairedAnalysis:
    """The analysis of n paired improvements (metric units; positive = candidate better)."""

    n: int
    mean: float
    sd: float
    ci: tuple[float, float]
    ci_level: float
    dz: float
    p_t: float
    p_permutation: float
    permutation_method: str
    mde: float
    mde_dz: float
    power: float
    alpha: float
    sides: int
    smallest_effect: float
    test: str
    verdict: str
    sentence: str
    notes: list[str] = field(default_factory=list)


def _t_p(d: np.ndarray, sides: int) -> float:
    # ttest_1samp on the differences is scipy.stats.ttest_rel(candidate, baseline) up to the sign flip
    alternative = "greater" if sides == 1 else "two-sided"
    return float(stats.ttest_1samp(d, 0.0, alternative=alternative).pvalue)


def analyse(diffs, *, alpha: float, smallest_effect: float, power: float = 0.8, sides: int = 1,
            test: str = "t", level_alpha: float | None = None) -> PairedAnalysis:
    """Analyse paired improvements ``diffs`` (shape (n,), n >= 2, metric units, positive = better).

    ``alpha``: the registered level; ``level_alpha``: the nominal level used for this look's decision
    and interval (a sequential plan's boundary; defaults to alpha). ``test``: which p-value decides
    ``supported`` (``t``: paired t-test; ``permutation``: exact sign-flip). Verdict:
    supported when the deciding test rejects and the mean improvement is positive; refuted when the
    interval's upper bound is below ``smallest_effect``; inconclusive otherwise, with the sentence
    naming the minimum detectable effect (power ``power``, from the noncentral t, at the sample sd).
    Raises ValueError for n < 2 or bad parameters."""
    d = np.asarray(diffs, dtype=float)
    n = d.size
    if n < 2:
        raise ValueError(f"{n} complete pair(s): a paired analysis needs at least 2")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha={alpha!r} is not allowed; it must be in (0, 0.5)")
    if sides not in SIDES:
        raise ValueError(f"sides={sides!r} is not allowed; allowed: {SIDES}")
    if test not in TESTS:
        raise ValueError(f"test={test!r} is not allowed; allowed: {TESTS}")
    if not smallest_effect > 0:
        raise ValueError(f"smallest_effect={smallest_effect!r} is not allowed; it must be > 0 (metric units)")
    a = alpha if level_alpha is None else level_alpha
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    crit = _t_critical(a, sides, n - 1)
    ci = (mean - crit * se, mean + crit * se)
    notes = []
    if sd == 0:
        # every pair differs by the same amount: t is undefined; the interval collapses to the mean
        p_t = 0.0 if (mean > 0 if sides == 1 else mean != 0) else 1.0
        notes.append("all paired differences are equal: the t statistic is undefined (zero variance)")
    else:
        p_t = _t_p(d, sides)
    p_perm, method = sign_flip_p(d, sides)
    dz = mean / sd if sd > 0 else (math.inf if mean > 0 else -math.inf if mean < 0 else 0.0)
    mdz = mde_dz(n, a, power, sides)
    mde = mdz * sd
    p_decide = p_t if test == "t" else p_perm
    if p_decide < a and mean > 0:
        verdict = "supported"
        sentence = (f"supported: the candidate improves the metric by {mean:.4g} "
                    f"({100 * (1 - 2 * a / sides):.4g}% CI {ci[0]:.4g} to {ci[1]:.4g}), p = {p_decide:.3g} < {a:.3g}")
    elif ci[1] < smallest_effect:
        verdict = "refuted"
        sentence = (f"refuted: the interval's upper bound {ci[1]:.4g} is below the smallest effect worth acting "
                    f"on ({smallest_effect:.4g})")
    else:
        verdict = "inconclusive"
        sentence = (f"inconclusive: with {n} seeds, effects below {mde:.4g} cannot be detected "
                    f"(power {power:g} at alpha {a:.3g}); the smallest effect worth acting on is {smallest_effect:.4g}")
    if test == "permutation" and n <= EXACT_PERMUTATION_MAX_N and 2.0 ** -n * sides >= a:
        notes.append(f"with {n} pairs the exact sign-flip test cannot reach p < {a:.3g} "
                     f"(smallest possible p = {sides * 2.0 ** -n:.3g})")
    return PairedAnalysis(n=n, mean=mean, sd=sd, ci=ci, ci_level=1 - 2 * a / sides, dz=dz, p_t=p_t,
                          p_permutation=p_perm, permutation_method=method, mde=mde, mde_dz=mdz, power=power,
                          alpha=a, sides=sides, smallest_effect=smallest_effect, test=test, verdict=verdict,
                          sentence=sentence, notes=notes)


@dataclass(frozen=True)
class Transfer:
    """Does the proxy's effect carry over to full scale: same sign, and ratio full/proxy with a Fieller
    interval (None bounds: the interval is unbounded because the proxy effect is not clearly non-zero)."""

    proxy_mean: float
    full_mean: float
    same_sign: bool
    ratio: float
    ratio_ci: tuple[float | None, float | None]
    ci_level: float
    method: str


def transfer(proxy_diffs, full_diffs, level: float = 0.95) -> Transfer:
    """Ratio of mean improvements full / proxy with Fieller's interval (Fieller 1954), treating the two
    scales' means as independent (different runs), with the t quantile at min(n_proxy, n_full) - 1
    degrees of freedom (conservative). Solves (m_f - r m_p)^2 = t^2 (se_f^2 + r^2 se_p^2) for r; when
    the proxy mean is not significantly non-zero (m_p^2 <= t^2 se_p^2) the set is unbounded and both
    bounds are None. Each input: shape (n,), n >= 2."""
    p = np.asarray(proxy_diffs, dtype=float)
    f = np.asarray(full_diffs, dtype=float)
    if p.size < 2 or f.size < 2:
        raise ValueError(f"transfer needs >= 2 pairs at each scale; got {p.size} (proxy) and {f.size} (full)")
    mp, mf = float(p.mean()), float(f.mean())
    vp, vf = float(p.var(ddof=1)) / p.size, float(f.var(ddof=1)) / f.size
    t = float(stats.t.ppf(0.5 + level / 2, min(p.size, f.size) - 1))
    ratio = mf / mp if mp != 0 else math.copysign(math.inf, mf) if mf != 0 else math.nan
    a = mp * mp - t * t * vp
    b = -2 * mf * mp
    c = mf * mf - t * t * vf
    disc = b * b - 4 * a * c
    if a <= 0 or disc < 0:
        ci = (None, None)
    else:
        root = math.sqrt(disc)
        ci = tuple(sorted(((-b - root) / (2 * a), (-b + root) / (2 * a))))
    return Transfer(proxy_mean=mp, full_mean=mf, same_sign=(mp > 0) == (mf > 0) and mp != 0 and mf != 0,
                    ratio=ratio, ratio_ci=ci, ci_level=level,
                    method="Fieller (1954) interval for a ratio of independent means, t with min(n)-1 df")
