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
- Evidence that cannot decide never does: zero-variance differences (a constant gain, all zeros, float
  noise around a constant) leave the t-test undefined and the exact sign-flip test decides, which at
  small n cannot reach alpha (n=5 two-sided: p >= 0.0625); a deterministic comparison (no arm changes
  with the seed) is inconclusive; non-finite metrics never reach :func:`analyse` (verdict.py).
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
#: differences spread over at most this fraction of the metric's magnitude (about 8 float32 ulps) vary by
#: rounding only, not from seed to seed: they are one constant (see degeneracy)
ROUNDING_RTOL = 1e-6


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
    """The analysis of n paired improvements (metric units; positive = candidate better).

    Undefined numbers are NaN: with zero-variance differences (``degenerate``) the t p-value, the interval,
    d_z and the MDE in metric units; in a deterministic comparison the p-values too; ``mde`` is inf when
    the deciding exact sign-flip test cannot reach the level at this n (no effect can be detected)."""

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
    degenerate: str | None = None  # None, "constant" (zero-variance differences) or "deterministic"


def _t_p(d: np.ndarray, sides: int) -> float:
    # ttest_1samp on the differences is scipy.stats.ttest_rel(candidate, baseline) up to the sign flip
    alternative = "greater" if sides == 1 else "two-sided"
    return float(stats.ttest_1samp(d, 0.0, alternative=alternative).pvalue)


def smallest_sign_flip_p(n: int, sides: int) -> float:
    """The smallest p the exact sign-flip test can give with n pairs: sides x 2^-n (0.0625 two-sided at n=5);
    0 above EXACT_PERMUTATION_MAX_N, where the Monte Carlo test's resolution is not the limit."""
    return sides * 2.0 ** -n if n <= EXACT_PERMUTATION_MAX_N else 0.0


def degeneracy(diffs, arms=None) -> tuple[str | None, float]:
    """Whether paired differences carry seed-to-seed variation. Returns (kind, constant):

    - ``("deterministic", c)``: each arm gives the same value at every seed (within rounding): the seeds
      are one observation repeated, every difference is c;
    - ``("constant", c)``: the differences have zero variance (within rounding) while the arms vary: each
      seed's candidate is better by exactly c;
    - ``(None, nan)``: ordinary differences.

    "Within rounding": a spread (max - min) at most ROUNDING_RTOL times the metric's magnitude (the largest
    |value| of either arm; of the differences when ``arms`` is None), so float noise around a constant, 0
    included, counts as that constant; c is snapped to 0 when |mean| is within the same tolerance.
    ``arms``: (baseline values, candidate values), each shape (n,), or None."""
    d = np.asarray(diffs, dtype=float)
    values = d if arms is None else np.abs(np.asarray(arms, dtype=float))
    tol = ROUNDING_RTOL * float(np.max(np.abs(values), initial=0.0))
    if np.ptp(d) > tol:
        return None, math.nan
    c = float(d.mean())
    c = 0.0 if abs(c) <= tol else c
    if arms is not None and all(np.ptp(np.asarray(arm, dtype=float)) <= tol for arm in arms):
        return "deterministic", c
    return "constant", c


def _check(n: int, alpha: float, sides: int, test: str, smallest_effect: float) -> None:
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


def analyse(diffs, *, alpha: float, smallest_effect: float, power: float = 0.8, sides: int = 1,
            test: str = "t", level_alpha: float | None = None, arms=None) -> PairedAnalysis:
    """Analyse paired improvements ``diffs`` (shape (n,), n >= 2, finite, metric units, positive = better).

    ``alpha``: the registered level; ``level_alpha``: the nominal level used for this look's decision
    and interval (a sequential plan's boundary; defaults to alpha). ``test``: which p-value decides
    ``supported`` (``t``: paired t-test; ``permutation``: exact sign-flip). ``arms``: (baseline values,
    candidate values), shape (n,) each, to tell rounding noise and a deterministic task apart
    (:func:`degeneracy`); without them only the differences' own spread is judged.

    Verdict: supported when the deciding test rejects and the mean improvement is positive; refuted when the
    interval's upper bound is below ``smallest_effect``; inconclusive otherwise, with the sentence naming the
    minimum detectable effect (power ``power``, from the noncentral t, at the sample sd). Evidence that
    cannot decide never does (the sentence says why):

    - zero-variance differences: the t statistic and interval are undefined; the exact sign-flip test of the
      constant c decides (supported: c > 0 and its p < level; refuted: its test of H0 "improvement >=
      smallest_effect" rejects at level / sides, the interval's one-sided level); at n where
      sides x 2^-n >= level neither can happen: inconclusive;
    - a deterministic comparison (neither arm changes with the seed): no test applies: inconclusive;
    - ``test="permutation"`` at an n where the exact test cannot reach the level: never supported, MDE inf.

    Raises ValueError for n < 2, non-finite differences or bad parameters."""
    d = np.asarray(diffs, dtype=float)
    n = d.size
    _check(n, alpha, sides, test, smallest_effect)
    if not np.all(np.isfinite(d)):
        raise ValueError("the paired differences must be finite (a diverged run has no difference)")
    a = alpha if level_alpha is None else level_alpha
    kind, constant = degeneracy(d, arms)
    common = dict(n=n, alpha=a, sides=sides, smallest_effect=smallest_effect, test=test, power=power,
                  ci_level=1 - 2 * a / sides, mde_dz=mde_dz(n, a, power, sides))
    if kind is not None:
        return _degenerate(d, kind, constant, common)
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    crit = _t_critical(a, sides, n - 1)
    ci = (mean - crit * se, mean + crit * se)
    p_t = _t_p(d, sides)
    p_perm, method = sign_flip_p(d, sides)
    notes = []
    mde = common["mde_dz"] * sd
    floor = smallest_sign_flip_p(n, sides)
    if floor >= a and test == "permutation":
        mde = math.inf
        notes.append(f"with {n} pairs the exact sign-flip test cannot reach p < {a:.3g} "
                     f"(smallest possible p = {floor:.4g}): no effect can be detected")
    elif floor >= a:
        notes.append(f"with {n} pairs the exact sign-flip test cannot reach p < {a:.3g} (smallest possible p = "
                     f"{floor:.4g}): the t-test's verdict rests on the differences being close to normal")
    p_decide = p_t if test == "t" else p_perm
    if p_decide < a and mean > 0:
        verdict = "supported"
        sentence = (f"supported: the candidate improves the metric by {mean:.4g} "
                    f"({100 * common['ci_level']:.4g}% CI {ci[0]:.4g} to {ci[1]:.4g}), p = {p_decide:.3g} < {a:.3g}")
    elif ci[1] < smallest_effect:
        verdict = "refuted"
        sentence = (f"refuted: the interval's upper bound {ci[1]:.4g} is below the smallest effect worth acting "
                    f"on ({smallest_effect:.4g})")
    elif math.isinf(mde):
        verdict = "inconclusive"
        sentence = f"inconclusive: {notes[-1]}; the smallest effect worth acting on is {smallest_effect:.4g}"
    else:
        verdict = "inconclusive"
        sentence = (f"inconclusive: with {n} seeds, effects below {mde:.4g} cannot be detected "
                    f"(power {power:g} at alpha {a:.3g}); the smallest effect worth acting on is {smallest_effect:.4g}")
    return PairedAnalysis(mean=mean, sd=sd, ci=ci, dz=mean / sd, p_t=p_t, p_permutation=p_perm,
                          permutation_method=method, mde=mde, verdict=verdict, sentence=sentence, notes=notes,
                          **common)


def _degenerate(d: np.ndarray, kind: str, c: float, common: dict) -> PairedAnalysis:
    """The analysis of zero-variance differences (every one equal to ``c`` within rounding)."""
    n, a, sides, delta = common["n"], common["alpha"], common["sides"], common["smallest_effect"]
    nan = math.nan
    sd = float(d.std(ddof=1))
    if kind == "deterministic":
        why = (f"neither arm's result changes with the seed (the improvement is {c:.4g} at all {n} seeds): a "
               "deterministic comparison is one observation repeated, so no test or interval applies")
        return PairedAnalysis(mean=c, sd=sd, ci=(nan, nan), dz=nan, p_t=nan, p_permutation=nan,
                              permutation_method="none: no seed-to-seed variation", mde=nan, verdict="inconclusive",
                              sentence=f"inconclusive: {why}; make the seed vary initialisation or data order",
                              notes=[why], degenerate=kind, **common)
    why = (f"the paired differences have zero variance (every one is {c:.4g}, within rounding): the t-test and its "
           "interval are undefined, so the exact sign-flip test decides")
    notes = [why]
    constant = np.full(n, c)
    p_perm, method = sign_flip_p(constant, sides)
    p_below, _ = sign_flip_p(delta - constant, 1)  # H0: improvement >= smallest effect, one-sided
    floor = smallest_sign_flip_p(n, sides)
    if c > 0 and p_perm < a:
        verdict, sentence = "supported", (f"supported: the candidate is better by {c:.4g} at every one of {n} seeds; "
                                          f"{why}: p = {p_perm:.3g} < {a:.3g}")
    elif c < delta and p_below < a / sides:
        verdict, sentence = "refuted", (f"refuted: the improvement is {c:.4g} at every one of {n} seeds, below the "
                                        f"smallest effect worth acting on ({delta:.4g}); {why}: "
                                        f"p = {p_below:.3g} < {a / sides:.3g}")
    else:
        reach = (f"; with {n} pairs it cannot reach p < {a:.3g} (smallest possible p = {floor:.4g})"
                 if floor >= a else "")
        verdict, sentence = "inconclusive", f"inconclusive: {why}{reach}"
        if reach:
            notes.append(reach[2:])
    return PairedAnalysis(mean=c, sd=sd, ci=(nan, nan), dz=nan, p_t=nan, p_permutation=p_perm,
                          permutation_method=method, mde=nan, verdict=verdict, sentence=sentence, notes=notes,
                          degenerate=kind, **common)

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
