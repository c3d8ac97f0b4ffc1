"""Rank statistics on scores (higher is better): Spearman, Kendall tau-b, bootstrap intervals,
top-k precision, regret and the pooled seed standard deviation.

Inputs are plain arrays, one entry per configuration; the callers align them.

Conventions (the same in every statistic, none depends on names or row order):

- **float ties**: values equal within a relative tolerance ``RTOL`` are one value (``snap_ties``);
  means of identical scores over different seed counts differ in their last bits and must not
  be ranked apart.
- **ties in the full ranking**: a configuration tied with the k-th best full score is in the full
  top-k (a proxy pick tied with the best is a top-1 hit).
- **ties in the proxy ranking**: the proxy's pick among tied configurations is uniformly random;
  top-k precision and regret are the expectations over that choice.
"""
from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np


class _Lazy:
    """A scipy module imported on first use: importing ``scipy.stats`` costs about 1 CPU second,
    which ``load`` overlaps with reading record files (``load._read_all``) instead of paying it
    when ``budgetsweep.analysis`` (or the ``budgetsweep-report`` command) is imported."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str):
        import importlib

        return getattr(importlib.import_module(self._name), attr)


stats = _Lazy("scipy.stats")
special = _Lazy("scipy.special")

MIN_CONFIGS = 3  # fewer configurations give a rank correlation of +-1 or nothing: meaningless
MIN_CONFIGS_CI = 5  # below this, resampling configurations yields too few distinct samples to mean much
CI_METHODS = ("BCa", "percentile", "basic")
MC_SE = 0.01  # Monte Carlo standard error allowed in an interval bound (rank_agreement_ci)
MC_REPS = 40  # redraws of the bootstrap distribution that estimate it
MAX_RESAMPLES_FACTOR = 32  # resamples drawn to reach MC_SE: at most this many times n_resamples
MIN_DEFINED_SHARE = 0.5  # below it, rho is undefined on most resamples: no interval (see _defined_resamples)
RTOL = 1e-9  # relative tolerance under which two scores are a tie (float error is ~1e-16 relative)
_CHUNK = 4_000_000  # elements of the pairwise sign matrix (float32) or of count arrays held at once


def snap_ties(x: np.ndarray, rtol: float = RTOL, groups: np.ndarray | None = None) -> np.ndarray:
    """``x`` with values equal within ``rtol`` replaced by one value (the smallest of their run).

    Sorted neighbours a <= b are tied when b - a <= rtol * max(|a|, |b|); ties chain (a run of
    neighbours each within tolerance is one tie). NaN stays NaN. With ``groups`` (one integer
    code per entry), ties are found within each group only: one pass for many groups.
    Shape (n,) -> (n,); O(n log n).
    """
    x = np.asarray(x, float)
    if x.size < 2:
        return x.copy()
    if groups is None:
        order = np.argsort(x, kind="stable")
        same = np.ones(x.size - 1, dtype=bool)
    else:
        groups = np.asarray(groups)
        order = np.lexsort((x, groups))
        gs = groups[order]
        same = gs[1:] == gs[:-1]
    xs = x[order]
    gap = np.diff(xs)
    with np.errstate(invalid="ignore"):
        tied = same & (gap <= rtol * np.maximum(np.abs(xs[1:]), np.abs(xs[:-1])))
    start = np.r_[True, ~tied]  # each run of ties starts where the gap is beyond tolerance
    snapped = xs[np.flatnonzero(start)][np.cumsum(start) - 1]
    snapped[np.isnan(xs)] = np.nan
    out = np.empty_like(x)
    out[order] = snapped
    return out


def rank_agreement(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(Spearman rho, Kendall tau-b) of two score arrays; NaN below MIN_CONFIGS or without variation.

    Scores equal within ``RTOL`` are ties (``snap_ties``); otherwise ``scipy.stats.spearmanr`` and
    ``scipy.stats.kendalltau(variant="b")``.
    """
    x, y = snap_ties(x), snap_ties(y)
    if len(x) < MIN_CONFIGS:
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        rho = stats.spearmanr(x, y).statistic
        tau = stats.kendalltau(x, y, variant="b").statistic
    return float(rho), float(tau)


def _tie_groups(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort order, start of each group of equal values in it, and each entry's group number."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new = np.r_[True, xs[1:] != xs[:-1]]
    group = np.empty(len(x), dtype=np.intp)
    group[order] = np.cumsum(new) - 1
    return order, np.flatnonzero(new), group


class ResampledRankAgreement:
    """Spearman rho and Kendall tau-b of resampled configurations, vectorised over resamples.

    Called by ``scipy.stats.bootstrap`` with arrays of configuration *indices* (one row per
    resample). Resampling indices is the paired bootstrap: proxy and full scores of a
    configuration stay together. Each resample becomes a row of counts ``w`` (how often each
    configuration was drawn), and both statistics follow from the counts without materialising
    the resampled data:

    - Spearman: average ranks of the resample from cumulative counts over tie groups, then a
      count-weighted Pearson correlation of the ranks (what ``spearmanr`` computes on the
      resample, ties included);
    - Kendall tau-b: concordant minus discordant pairs is ``w^T S w / 2`` with
      ``S_ij = sign(x_i - x_j) sign(y_i - y_j)``; tied pairs are ``sum T_g (T_g - 1) / 2`` over the
      count totals ``T_g`` of each tie group. Copies of one configuration are tied on both sides.

    A resample without variation on one side has no ranking there: both statistics are NaN
    (undefined, as ``scipy.stats.spearmanr`` says), never a number.
    Cost: O(resamples * n^2) for tau (one matrix product), O(resamples * n) for rho.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        x, y = np.asarray(x, float), np.asarray(y, float)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"x and y must be 1-d of one length, got shapes {x.shape} and {y.shape}")
        self.n = len(x)
        # configurations relabelled in x order, so x's tie groups need no gather per resample
        order = np.argsort(x, kind="stable")
        self.position = np.empty(self.n, dtype=np.intp)
        self.position[order] = np.arange(self.n)
        self.x, self.y = x[order], y[order]
        _, self.starts_x, self.group_x = _tie_groups(self.x)
        self.groups_y = _tie_groups(self.y)
        # the sign matrix once when it is small; in row blocks otherwise
        self.sign = self._sign_block(0, self.n) if self.n * self.n <= _CHUNK else None
        self.row_sums: np.ndarray | None = None  # for jackknife rows, computed on first use
        self._jackknife: tuple[np.ndarray, np.ndarray] | None = None  # (leave-one-out rows, values)

    def _sign_block(self, start: int, stop: int) -> np.ndarray:
        x, y = self.x, self.y
        block = np.sign(x[start:stop, None] - x[None, :]) * np.sign(y[start:stop, None] - y[None, :])
        return block.astype(np.float32)  # counts and signs are small integers: float32 is exact

    def counts(self, idx: np.ndarray) -> np.ndarray:
        b = idx.shape[0]
        flat = (self.position[idx] + self.n * np.arange(b)[:, None]).ravel()
        return np.bincount(flat, minlength=b * self.n).reshape(b, self.n).astype(np.float32)

    @staticmethod
    def _average_ranks(totals: np.ndarray) -> np.ndarray:
        # float32 cumulative counts are exact (integers below 2^24); ranks themselves in float64
        return (np.cumsum(totals, axis=1) - totals).astype(float) + (totals + 1) / 2

    def _row_sums(self) -> np.ndarray:
        """sum_j S_ij for every i (S in row blocks when it is not held)."""
        if self.sign is not None:
            return self.sign.sum(axis=1, dtype=float)
        step = max(1, _CHUNK // self.n)
        return np.concatenate([self._sign_block(i, i + step).sum(axis=1, dtype=float)
                               for i in range(0, self.n, step)])

    def _concordance(self, w: np.ndarray) -> np.ndarray:
        """(concordant - discordant) pairs of each row of counts: w^T S w / 2."""
        total = np.zeros(w.shape[0])
        # jackknife rows (every configuration once but one) have a closed form: with
        # w = 1 - e_j, w^T S w = 1^T S 1 - 2 (S 1)_j, as S is symmetric with a zero diagonal
        jack = (w.max(axis=1) == 1) & (w.sum(axis=1) == self.n - 1)
        if jack.any():
            if self.row_sums is None:
                self.row_sums = self._row_sums()
            total[jack] = self.row_sums.sum() - 2 * self.row_sums[w[jack].argmin(axis=1)]
        rest = ~jack
        if not rest.any():
            return total / 2
        wr = w[rest]
        if self.sign is not None:
            total[rest] = np.einsum("ij,ij->i", wr, wr @ self.sign, dtype=float)
            return total / 2
        step = max(1, _CHUNK // self.n)
        acc = np.zeros(wr.shape[0])
        for start in range(0, self.n, step):
            block = self._sign_block(start, start + step)
            acc += np.einsum("ij,ij->i", wr[:, start:start + step], wr @ block.T, dtype=float)
        total[rest] = acc
        return total / 2

    def jackknife(self) -> np.ndarray:
        """Both statistics with each configuration left out in turn, shape (2, n): remembered, so
        BCa's acceleration (``_acceleration``, then scipy's own) costs one evaluation."""
        if self._jackknife is None:
            n = self.n
            rows = np.arange(n - 1)[None, :] + (np.arange(n - 1)[None, :] >= np.arange(n)[:, None])
            self._jackknife = (rows, self._evaluate(rows))
        return self._jackknife[1]

    def __call__(self, idx: np.ndarray, axis: int = -1) -> np.ndarray:
        idx = np.asarray(idx)
        if axis not in (-1, idx.ndim - 1):
            raise ValueError(f"axis={axis!r}; resamples must lie along the last axis")
        if self._jackknife is not None and idx.shape == self._jackknife[0].shape \
                and np.array_equal(idx, self._jackknife[0]):
            return self._jackknife[1].copy()
        return self._evaluate(idx)

    def _evaluate(self, idx: np.ndarray) -> np.ndarray:
        single = idx.ndim == 1
        w = self.counts(idx.reshape(-1, idx.shape[-1]))
        total = w.sum(axis=1, dtype=float)
        ties_x = np.add.reduceat(w, self.starts_x, axis=1)
        order_y, starts_y, group_y = self.groups_y
        ties_y = np.add.reduceat(w[:, order_y], starts_y, axis=1)
        avg_x, avg_y = self._average_ranks(ties_x), self._average_ranks(ties_y)
        rank_x = avg_x if len(self.starts_x) == self.n else avg_x[:, self.group_x]
        # sum w (r - m)(s - m) = sum w r s - N m^2, as the weighted ranks sum to N m
        n_mid2 = total * ((total + 1) / 2) ** 2
        cov = np.einsum("ij,ij,ij->i", w, rank_x, avg_y[:, group_y]) - n_mid2
        var_x = np.einsum("ij,ij,ij->i", ties_x, avg_x, avg_x) - n_mid2
        var_y = np.einsum("ij,ij,ij->i", ties_y, avg_y, avg_y) - n_mid2
        spread = np.sqrt(np.clip(var_x * var_y, 0, None))
        rho = np.divide(cov, spread, out=np.full_like(cov, np.nan), where=spread > 1e-9 * n_mid2)
        pairs = total * (total - 1) / 2
        tied_x = np.einsum("ij,ij->i", ties_x, ties_x - 1, dtype=float) / 2
        tied_y = np.einsum("ij,ij->i", ties_y, ties_y - 1, dtype=float) / 2
        norm = np.sqrt((pairs - tied_x) * (pairs - tied_y))
        concordance = self._concordance(w)
        tau = np.divide(concordance, norm, out=np.full_like(concordance, np.nan), where=norm > 0)
        out = np.clip(np.stack([rho, tau]), -1.0, 1.0)
        return out[:, 0] if single else out


def _defined_resamples(data: tuple[np.ndarray], statistic: ResampledRankAgreement, count: int,
                       rng: np.random.Generator):
    """``scipy.stats.bootstrap``'s result whose bootstrap distribution (shape (2, ``count``)) holds
    rho and tau on resamples where both are defined; None when fewer than ``MIN_DEFINED_SHARE`` are.

    A resample whose configurations all tie on one side (the proxy's, typically: a coarse proxy
    puts most configurations in one tie group) has no ranking there: rho and tau are undefined,
    as ``scipy.stats.spearmanr`` says for such data. Such resamples are left out and replaced by
    further draws, so the interval comes from the bootstrap distribution conditional on the
    statistic being defined. (Scoring them 0 put an atom of a few percent at exactly 0 in the
    distribution, and the 2.5% bound jumped between 0 and the rest of the tail with the seed.)
    """
    batch = max(1, _CHUNK // len(data[0]))  # resamples per call: bounds the (batch, n) count arrays
    kept: list[np.ndarray] = []
    have = drawn = 0
    while have < count:
        if drawn and have < MIN_DEFINED_SHARE * drawn:
            return None
        # enough draws to fill the rest at the share seen so far (with a margin)
        todo = count - have if not drawn else math.ceil((count - have) * 1.1 * drawn / have)
        result = stats.bootstrap(data, statistic, n_resamples=todo, vectorized=True, batch=batch,
                                 method="percentile", rng=rng)
        dist = result.bootstrap_distribution
        kept.append(dist[:, ~np.isnan(dist).any(axis=0)])
        have += kept[-1].shape[1]
        drawn += todo
    return dataclasses.replace(result, bootstrap_distribution=np.concatenate(kept, axis=1)[:, :count])


def _levels(share: np.ndarray, accel: float, confidence_level: float) -> np.ndarray:
    """Levels of the bootstrap distribution at which the two bounds lie, shape (..., 2), from the
    share of resamples below the estimate (shape (...)): BCa's (Efron & Tibshirani 1993, eq.
    14.10, as ``scipy.stats.bootstrap`` computes them); alpha/2 and 1 - alpha/2 (percentile) where
    they are undefined (``accel`` NaN, a share of 0 or 1), as ``rank_agreement_ci`` falls back."""
    alpha = (1 - confidence_level) / 2
    z = special.ndtri(np.array([alpha, 1 - alpha]))
    with np.errstate(invalid="ignore", divide="ignore"):
        z0 = special.ndtri(np.asarray(share, float))[..., None]
        levels = special.ndtr(z0 + (z0 + z) / (1 - accel * (z0 + z)))
    return np.where(np.isnan(levels), np.array([alpha, 1 - alpha]), levels)


def _bound_mc_error(dist: np.ndarray, theta: np.ndarray, accel: np.ndarray, confidence_level: float,
                    rng: np.random.Generator) -> float:
    """The largest Monte Carlo standard error of the bounds: the standard deviation of the bounds
    recomputed on ``MC_REPS`` redraws of the bootstrap distribution itself (its resamples are
    i.i.d.), the BCa levels included. ``accel``: NaN for percentile intervals. A redraw is a
    multinomial count of each sorted value: its order statistics come from cumulative counts."""
    b = dist.shape[1]
    cum = np.cumsum(rng.multinomial(b, np.full(b, 1.0 / b), size=MC_REPS), axis=1)  # (reps, b)
    cum0 = np.c_[np.zeros(MC_REPS, dtype=cum.dtype), cum]  # cum0[:, j]: redrawn values among the j smallest
    worst = 0.0
    for values, estimate, a in zip(np.sort(dist, axis=1), theta, accel):
        below = cum0[:, np.searchsorted(values, estimate, side="left")]
        at_or_below = cum0[:, np.searchsorted(values, estimate, side="right")]
        levels = _levels((below + at_or_below) / (2 * b), a, confidence_level)  # (reps, 2)
        pos = levels * (b - 1)  # the linear quantile: order statistics floor(pos) and the next
        lo = np.floor(pos).astype(np.int64)
        order_stats = np.stack([lo, np.minimum(lo + 1, b - 1)], axis=-1)  # (reps, 2, 2)
        index = np.stack([np.searchsorted(c, o.ravel(), side="right") for c, o in zip(cum, order_stats)])
        v = values[np.minimum(index, b - 1)].reshape(order_stats.shape)
        bounds = v[..., 0] + (pos - lo) * (v[..., 1] - v[..., 0])
        worst = max(worst, float(bounds.std(axis=0, ddof=1).max()))
    return worst


def _acceleration(statistic: ResampledRankAgreement) -> np.ndarray:
    """BCa's acceleration of each statistic from its jackknife values (NaN when one is undefined)."""
    jack = statistic.jackknife()
    u = jack.mean(axis=1, keepdims=True) - jack
    with np.errstate(invalid="ignore", divide="ignore"):
        return (u ** 3).sum(axis=1) / (6 * ((u ** 2).sum(axis=1)) ** 1.5)


class AgreementInterval(tuple):
    """(rho_low, rho_high, tau_low, tau_high), a plain 4-tuple to unpack and compare, with ``methods``: the
    interval method each statistic got, (rho's, tau's): the one asked for, or ``percentile`` where BCa
    could not be computed for that statistic."""

    methods: tuple[str, str]

    def __new__(cls, bounds, methods: tuple[str, str]):
        self = super().__new__(cls, bounds)
        self.methods = tuple(methods)
        return self

    def __reduce__(self):  # forked workers send it back whole
        return (AgreementInterval, (tuple(self), self.methods))


def rank_agreement_ci(
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    method: str = "BCa",
    rng: int | np.random.Generator | None = 0,
) -> AgreementInterval:
    """Bootstrap interval over configurations: (rho_low, rho_high, tau_low, tau_high), and the method each
    statistic's interval used (``AgreementInterval.methods``).

    Paired bootstrap of configurations through ``scipy.stats.bootstrap`` on resamples where the
    statistics are defined (``_defined_resamples``). ``n_resamples`` is the least number drawn:
    more are drawn, up to ``MAX_RESAMPLES_FACTOR`` times as many, until the Monte Carlo standard
    error of every bound (``_bound_mc_error``) is at most ``MC_SE``, so the interval does not
    move with the seed (BCa's bounds lie far in a coarse distribution's tail on a small table
    with ties, and 2,000 resamples left them moving by 0.1 between seeds).
    NaN below MIN_CONFIGS_CI configurations, with ``n_resamples=0``, or when the statistic is
    undefined on the data or on most resamples. Where BCa cannot be computed for a statistic
    (a degenerate bootstrap distribution, e.g. every resample agrees perfectly, or an undefined
    jackknife value), that statistic gets the percentile interval of the same resamples.
    """
    nan = AgreementInterval((float("nan"),) * 4, (method, method))
    if len(x) < MIN_CONFIGS_CI or n_resamples == 0:
        return nan
    x, y = snap_ties(x), snap_ties(y)
    # configurations in one canonical order (by score), so the resamples drawn from ``rng`` never
    # depend on names or row order; equal (x, y) pairs are interchangeable
    order = np.lexsort((y, x))
    statistic = ResampledRankAgreement(x[order], y[order])
    data = (np.arange(len(statistic.x)),)
    theta = statistic(data[0])
    if np.isnan(theta).any():
        return nan
    # one generator for every draw: redraws continue its stream (an int seed would repeat it)
    rng = np.random.default_rng(rng)
    # BCa's acceleration from the jackknife; NaN stands for the percentile levels (of "basic" too)
    accel = _acceleration(statistic) if method == "BCa" else np.full(2, np.nan)
    cap = MAX_RESAMPLES_FACTOR * n_resamples
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # BCa on a degenerate distribution divides by 0
        result = _defined_resamples(data, statistic, n_resamples, rng)
        if result is None:
            return nan
        dist = result.bootstrap_distribution
        while dist.shape[1] < cap:
            error = _bound_mc_error(dist, theta, accel, confidence_level, rng)
            if not error > MC_SE:
                break
            # the standard error falls as 1/sqrt(resamples): aim a little past the target
            want = min(cap, math.ceil(dist.shape[1] * 1.2 * (error / MC_SE) ** 2))
            more = _defined_resamples(data, statistic, want - dist.shape[1], rng)
            if more is None:
                break
            dist = np.concatenate([dist, more.bootstrap_distribution], axis=1)
        # the interval itself is scipy's, on every defined resample drawn
        result = dataclasses.replace(result, bootstrap_distribution=dist)
        res = stats.bootstrap(data, statistic, n_resamples=0, vectorized=True, bootstrap_result=result,
                              confidence_level=confidence_level, method=method, rng=rng)
        low, high = np.array(res.confidence_interval.low), np.array(res.confidence_interval.high)
        bad = np.isnan(low) | np.isnan(high)
        if bad.any():
            res = stats.bootstrap(data, statistic, n_resamples=0, vectorized=True, bootstrap_result=result,
                                  confidence_level=confidence_level, method="percentile", rng=rng)
            low[bad], high[bad] = res.confidence_interval.low[bad], res.confidence_interval.high[bad]
    methods = tuple("percentile" if b else method for b in bad)
    return AgreementInterval((float(low[0]), float(high[0]), float(low[1]), float(high[1])), methods)


def pick_weights(proxy: np.ndarray, k: int, *, snapped: bool = False) -> np.ndarray:
    """Chance that each configuration is in the proxy's top k when ties at the cut are broken
    uniformly at random: 1 above the cut, (free places / tied configurations) at it, else 0.
    ``snapped``: the scores already went through ``snap_ties``."""
    proxy = np.asarray(proxy, float) if snapped else snap_ties(proxy)
    kth = np.partition(proxy, len(proxy) - k)[len(proxy) - k]
    above = proxy > kth
    at = proxy == kth
    return np.where(above, 1.0, np.where(at, (k - above.sum()) / at.sum(), 0.0))


def full_top(full: np.ndarray, k: int, *, snapped: bool = False) -> np.ndarray:
    """The full top k with every configuration tied with the k-th best (boolean mask)."""
    full = np.asarray(full, float) if snapped else snap_ties(full)
    return full >= np.partition(full, len(full) - k)[len(full) - k]


def top_k_precision(proxy: np.ndarray, full: np.ndarray, k: int, *, snapped: bool = False) -> float:
    """Expected |top_k(proxy) & top_k(full)| / k; NaN with fewer than k configurations.

    Ties never depend on names or order (module conventions): the full top k holds every
    configuration tied with the k-th best full score; the proxy's top k breaks its ties at the
    cut uniformly at random, and the expectation over that choice is returned. So a proxy pick
    tied with the best full score counts as a top-1 hit.
    """
    if len(proxy) < k:
        return float("nan")
    hits = pick_weights(proxy, k, snapped=snapped) * full_top(full, k, snapped=snapped)
    return float(min(1.0, hits.sum() / k))


def regret(proxy: np.ndarray, full: np.ndarray, *, snapped: bool = False) -> float:
    """Best full score minus the full score of the proxy's pick (>= 0, in objective units).

    When several configurations tie for the proxy's best (within ``RTOL``), the pick is one of
    them at random: the expected full score over the tie is used. A pick tied with the best full
    score has regret 0.
    """
    if len(proxy) == 0:
        return float("nan")
    full = np.asarray(full, float) if snapped else snap_ties(full)
    w = pick_weights(proxy, 1, snapped=snapped)
    return float(max(0.0, full.max() - (w * full).sum()))


def grouped_spearman(rank_x: np.ndarray, rank_y: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Spearman rho per group from average ranks within each group (Pearson of the ranks, as
    ``scipy.stats.spearmanr`` with ties): one pass of bincounts over all groups. NaN below
    MIN_CONFIGS entries or without variation. Shapes: (n,), (n,), (n,) codes in [0, n_groups)."""
    n = np.bincount(codes, minlength=n_groups).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.bincount(codes, rank_x, n_groups) / n
        my = np.bincount(codes, rank_y, n_groups) / n
        dx, dy = rank_x - mx[codes], rank_y - my[codes]
        sxy = np.bincount(codes, dx * dy, n_groups)
        sxx = np.bincount(codes, dx * dx, n_groups)
        syy = np.bincount(codes, dy * dy, n_groups)
        scale = np.maximum(np.bincount(codes, rank_x * rank_x, n_groups), 1.0)
        ok = (n >= MIN_CONFIGS) & (sxx > 1e-12 * scale) & (syy > 1e-12 * scale)
        rho = np.where(ok, sxy / np.sqrt(sxx * syy), np.nan)
    return np.clip(rho, -1.0, 1.0)


LARGE_GROUP = 64  # configurations above which one group's tau comes from scipy.stats.kendalltau


def grouped_kendall(x: np.ndarray, y: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Kendall tau-b per group of (snapped) scores, as ``scipy.stats.kendalltau(variant="b")``:
    groups of similar size are padded into (groups, m, m) sign arrays, a block at a time.
    NaN below MIN_CONFIGS entries or without variation."""
    order = np.argsort(codes, kind="stable")
    xs, ys, cs = x[order], y[order], codes[order]
    sizes = np.bincount(cs, minlength=n_groups)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    tau = np.full(n_groups, np.nan)
    todo = np.flatnonzero(sizes >= MIN_CONFIGS)
    # a large group alone: scipy's O(n log n) tau-b, not an (n, n) sign array
    for g in todo[sizes[todo] > LARGE_GROUP]:
        part = slice(starts[g], starts[g] + sizes[g])
        if np.ptp(xs[part]) > 0 and np.ptp(ys[part]) > 0:
            tau[g] = stats.kendalltau(xs[part], ys[part], variant="b").statistic
    todo = todo[sizes[todo] <= LARGE_GROUP]
    todo = todo[np.argsort(sizes[todo], kind="stable")]
    i = 0
    while i < len(todo):
        m = int(sizes[todo[i]])
        # take groups while the padded block stays within _CHUNK elements
        j = i + 1
        while j < len(todo) and (j - i + 1) * int(sizes[todo[j]]) ** 2 <= _CHUNK:
            j += 1
        block = todo[i:j]
        m = int(sizes[block].max())
        pos = np.arange(m)
        valid = pos[None, :] < sizes[block][:, None]
        idx = np.where(valid, starts[block][:, None] + pos[None, :], 0)
        bx = np.where(valid, xs[idx], 0.0)
        by = np.where(valid, ys[idx], 0.0)
        pair = valid[:, :, None] & valid[:, None, :]
        sx = np.sign(bx[:, :, None] - bx[:, None, :])
        sy = np.sign(by[:, :, None] - by[:, None, :])
        count = sizes[block].astype(float)
        conc = (sx * sy * pair).sum(axis=(1, 2)) / 2
        tied_x = (((sx == 0) & pair).sum(axis=(1, 2)) - count) / 2
        tied_y = (((sy == 0) & pair).sum(axis=(1, 2)) - count) / 2
        n0 = count * (count - 1) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = np.sqrt((n0 - tied_x) * (n0 - tied_y))
            tau[block] = np.where(norm > 0, conc / norm, np.nan)
        i = j
    return np.clip(tau, -1.0, 1.0)


def pooled_std(std: np.ndarray, n: np.ndarray) -> float:
    """Pooled seed standard deviation sqrt(sum (n-1) s^2 / sum (n-1)) over groups with n >= 2."""
    std, n = np.asarray(std, float), np.asarray(n, float)
    ok = (n >= 2) & np.isfinite(std)
    dof = (n[ok] - 1).sum()
    if dof == 0:
        return float("nan")
    return float(np.sqrt(((n[ok] - 1) * std[ok] ** 2).sum() / dof))


def spearman_brown(rho_1: float, m: float) -> float:
    """Reliability of an m-seed mean from the single-seed rank agreement: m r / (1 + (m - 1) r)."""
    denominator = 1 + (m - 1) * rho_1
    return float(m * rho_1 / denominator) if denominator != 0 else math.nan
