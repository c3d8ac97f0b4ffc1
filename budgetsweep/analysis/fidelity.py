"""Fidelity of one proxy: how well its ranking of configurations predicts the full-scale one.

Many strategies, and many groups (datasets, tasks) of them, are measured in one pass: runs are
aggregated and paired once (``pair_runs``), then each (group, strategy) is a few vectorised
numpy/scipy calls on its configurations.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import forked, ranks
from .pair import as_columns, check_by, group_codes, one_row_per_seed, pair_runs
from .ranks import stats  # scipy.stats, imported on first use
from .schema import check_runs, usable

TOP_NOISE = 3  # regret is measured against the seed noise of the full top-3 configurations
COSTS = ("examples", "wall_seconds", "flops")
COST_NAMES = {"examples": "examples", "wall_seconds": "time", "flops": "flops"}


@dataclass(frozen=True)
class FidelitySettings:
    """How fidelity is measured; validated on construction."""

    k: tuple[int, ...] = (1, 3, 5)
    n_resamples: int = 2000
    confidence_level: float = 0.95
    ci_method: str = "BCa"
    rng: int | None = 0

    def __post_init__(self) -> None:
        k = tuple(self.k)
        if not k or any(not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1 for v in k):
            raise ValueError(f"k={self.k!r}; must be positive integers, e.g. (1, 3, 5)")
        object.__setattr__(self, "k", tuple(sorted(set(int(v) for v in k))))
        if not isinstance(self.n_resamples, (int, np.integer)) or self.n_resamples < 0:
            raise ValueError(f"n_resamples={self.n_resamples!r}; must be an integer >= 0 (0 skips the bootstrap)")
        if not 0 < self.confidence_level < 1:
            raise ValueError(f"confidence_level={self.confidence_level!r}; must be in (0, 1)")
        if self.ci_method not in ranks.CI_METHODS:
            raise ValueError(f"ci_method={self.ci_method!r}; allowed: {ranks.CI_METHODS}")


@dataclass(frozen=True)
class NoiseCeiling:
    """How well full-scale seeds agree with each other, and what that allows a proxy.

    ``seed_rho`` is rho_1, the mean Spearman between pairs of full-scale seeds across
    configurations; ``reliability`` is R_m = m rho_1 / (1 + (m - 1) rho_1) for the ``seeds`` (m)
    averaged; ``ceiling`` ~ sqrt(R_m). NaN with fewer than two seeds, and the ceiling is NaN when
    rho_1 <= 0 (seed noise swamps the ranking).
    """

    seed_rho: float = math.nan
    seeds: float = math.nan
    reliability: float = math.nan
    ceiling: float = math.nan
    seed_pairs: int = 0
    configs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ceiling_from_matrix(values: np.ndarray) -> NoiseCeiling:
    """The noise ceiling from a (configurations, replicates) array of full-scale objective values.

    Column j holds the j-th seed of every configuration (NaN where a configuration has fewer).
    Each column's values equal within ``ranks.RTOL`` are ties. Spearman between every pair of
    columns over the configurations both have (at least ``ranks.MIN_CONFIGS``).
    """
    values = np.asarray(values, float)
    have = ~np.isnan(values)
    counts = have.sum(axis=1)
    configs = int((counts > 0).sum())
    if configs == 0:
        return NoiseCeiling()
    seeds = float(counts[counts > 0].mean())
    values = values[:, have.sum(axis=0) > 0]
    if values.shape[1] < 2:
        return NoiseCeiling(seeds=seeds, configs=configs)
    rows, cols = values.shape
    snapped = ranks.snap_ties(values.T.ravel(), groups=np.repeat(np.arange(cols), rows)).reshape(cols, rows).T
    if np.isnan(snapped).any():
        corr = pd.DataFrame(snapped).corr(method="spearman", min_periods=ranks.MIN_CONFIGS).to_numpy()
    elif rows < ranks.MIN_CONFIGS:
        return NoiseCeiling(seeds=seeds, configs=configs)
    else:
        with np.errstate(invalid="ignore", divide="ignore"), _quiet():
            corr = np.atleast_2d(stats.spearmanr(snapped).statistic)
        if corr.shape == (1, 1):  # two columns: spearmanr returns the one coefficient
            corr = np.array([[1.0, corr[0, 0]], [corr[0, 0], 1.0]])
    upper = corr[np.triu_indices_from(corr, k=1)]
    upper = upper[np.isfinite(upper)]
    if upper.size == 0:
        return NoiseCeiling(seeds=seeds, configs=configs)
    rho_1 = float(upper.mean())
    reliability = ranks.spearman_brown(rho_1, seeds)
    ceiling = math.sqrt(reliability) if rho_1 > 0 else math.nan
    return NoiseCeiling(rho_1, seeds, reliability, ceiling, int(upper.size), configs)


class _quiet:
    """Silence scipy's constant-input warnings (a constant seed column has no ranking: NaN)."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


class SeedMatrices:
    """Full-scale objective values of each group as (configurations, replicates) arrays, and the
    noise ceiling of every group in one vectorised pass.

    Seeds are matched across configurations by their order (the i-th seed of each
    configuration), so configurations need not share seed values.
    """

    def __init__(self, full: pd.DataFrame, by: list[str]) -> None:
        runs = one_row_per_seed(full[usable(full)], by)  # a seed is one replicate, however often it ran
        runs = runs.sort_values([*by, "config_key", "seed"], na_position="last", kind="stable")
        self.by = by
        self.labels: list[tuple] = (list(runs[by].drop_duplicates().itertuples(index=False, name=None))
                                    if by else ([()] if len(runs) else []))
        self.code_of = {label: i for i, label in enumerate(self.labels)}
        codes = group_codes(runs, by)
        self.long = pd.DataFrame({"g": codes, "key": runs["config_key"].to_numpy(),
                                  "rep": runs.groupby([*by, "config_key"], sort=False, dropna=False).cumcount()
                                  .to_numpy(), "v": runs["objective_value"].to_numpy(float)})
        self.rows = self.long.groupby("g", sort=False).indices if len(runs) else {}
        self.configs = {self.labels[int(g)]: len(np.unique(self.long["key"].to_numpy()[i]))
                        for g, i in self.rows.items()}
        self._cache: dict[Any, NoiseCeiling] = {}
        self.group_ceiling = self._vectorised()

    def _vectorised(self) -> dict[tuple, NoiseCeiling]:
        """The ceiling of every group whose configurations all have the same number R >= 2 of
        seeds (the common case) without a loop: z-scored ranks per (group, seed column); the mean
        pairwise correlation of R columns is (sum_i (sum_j z_ij)^2 - R) / (R (R - 1))."""
        long = self.long
        if long.empty:
            return {}
        g = long["g"].to_numpy()
        n_groups = len(self.labels)
        per_config = long.groupby(["g", "key"], sort=False).size()
        cfg_g = per_config.index.get_level_values("g").to_numpy()
        reps = per_config.to_numpy()
        r_min = np.full(n_groups, np.iinfo(np.int64).max)
        np.minimum.at(r_min, cfg_g, reps)
        r_max = np.zeros(n_groups, dtype=np.int64)
        np.maximum.at(r_max, cfg_g, reps)
        n_cfg = np.bincount(cfg_g, minlength=n_groups)
        simple = (r_min == r_max) & (r_min >= 2) & (n_cfg >= ranks.MIN_CONFIGS)
        out: dict[tuple, NoiseCeiling] = {}
        for code in np.flatnonzero(~simple):
            out[self.labels[code]] = self._one(self.labels[code], None)
        if not simple.any():
            return out
        sel = simple[g]
        part = long[sel]
        col = pd.Series(part["g"].to_numpy() * (int(r_max.max()) + 1) + part["rep"].to_numpy())
        col_codes = col.factorize()[0]
        v = ranks.snap_ties(part["v"].to_numpy(float), groups=col_codes)
        r = pd.Series(v).groupby(col_codes).rank().to_numpy()
        n_cols = col_codes.max() + 1
        count = np.bincount(col_codes, minlength=n_cols).astype(float)
        mean = np.bincount(col_codes, r, n_cols) / count
        centred = r - mean[col_codes]
        norm = np.sqrt(np.bincount(col_codes, centred * centred, n_cols))
        constant = norm <= 1e-12
        pg = part["g"].to_numpy()
        # a constant seed column has no ranking: such groups take the pairwise path
        bad_group = np.zeros(n_groups, dtype=bool)
        bad_group[pg[constant[col_codes]]] = True
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(constant[col_codes], 0.0, centred / norm[col_codes])
        row_codes = part.groupby(["g", "key"], sort=False).ngroup().to_numpy()
        row_sum = np.bincount(row_codes, z)
        row_group = np.zeros(row_sum.size, dtype=np.int64)
        row_group[row_codes] = pg
        total = np.bincount(row_group, row_sum * row_sum, n_groups)
        for code in np.flatnonzero(simple):
            label = self.labels[code]
            if bad_group[code]:
                out[label] = self._one(label, None)
                continue
            m = int(r_min[code])
            rho_1 = float((total[code] - m) / (m * (m - 1)))
            reliability = ranks.spearman_brown(rho_1, m)
            ceiling = math.sqrt(reliability) if rho_1 > 0 else math.nan
            out[label] = NoiseCeiling(rho_1, float(m), reliability, ceiling, m * (m - 1) // 2, int(n_cfg[code]))
        return out

    def _one(self, group: tuple, keys: np.ndarray | None) -> NoiseCeiling:
        code = self.code_of.get(group)
        if code is None:
            return NoiseCeiling()
        part = self.long.iloc[self.rows[code]]
        if keys is not None:
            part = part[part["key"].isin(keys)]
        if part.empty:
            return NoiseCeiling()
        table = part.pivot(index="key", columns="rep", values="v")
        return ceiling_from_matrix(table.to_numpy(float))

    def ceiling(self, group: tuple, keys: np.ndarray) -> NoiseCeiling:
        """The ceiling over ``keys`` of ``group``: the group's own when ``keys`` are all its
        configurations, else computed for that subset (cached)."""
        if group not in self.code_of:
            return NoiseCeiling()
        if len(keys) == self.configs.get(group, -1):
            return self.group_ceiling[group]
        cache_key = (group, tuple(sorted(keys)))
        if cache_key not in self._cache:
            self._cache[cache_key] = self._one(group, keys)
        return self._cache[cache_key]


def noise_ceiling(full: pd.DataFrame, config_keys: Sequence[str] | None = None) -> NoiseCeiling:
    """The noise ceiling of DESIGN section 10 from the full-scale runs (of ``config_keys`` if given).

    Seeds are matched across configurations by their order (the i-th seed of each
    configuration), so configurations need not share seed values.
    """
    check_runs(full, "full")
    runs = full[usable(full)]
    if config_keys is not None:
        runs = runs[runs["config_key"].isin(list(config_keys))]
    return SeedMatrices(runs, []).group_ceiling.get((), NoiseCeiling())


@dataclass(frozen=True)
class Fidelity:
    """Fidelity of one strategy against the full set. ``to_frame()`` gives one row.

    Scores are direction-aware (rank 1 is the best for a minimised loss and a maximised
    accuracy alike); scores equal within ``ranks.RTOL`` are ties.

    - ``rho_low``/``rho_high`` (and tau's): the ``ci_method`` interval: paired bootstrap over
      configurations (BCa by default; ``ranks.rank_agreement_ci``: resamples where rho is
      undefined are redrawn, and resamples are added until each bound's Monte Carlo standard
      error is at most ``ranks.MC_SE``) or, without resamples, the Fisher-z approximation.
    - ``regret``: best full score minus the full score of the proxy's pick, objective units.
      ``top_seed_std``: pooled full-scale seed standard deviation of the ``TOP_NOISE`` best full
      configurations (ties at the cut included); ``regret_sd`` = regret / top_seed_std.
      ``p_worse``: the chance that the pick is truly worse at full scale than the best (see
      ``pick_worse_chance``).
    - ``cost_reduction_*``: mean over the configurations compared of the full configuration's mean
      cost per run, over the same for the proxy (each configuration weighs the same, whatever
      its number of seeds); ``predicted_reduction``: the same ratio of means for the predicted FLOPs
      (``predicted_reduction``).
    - ``proxy_runs``/``full_runs``: completed seeds of the configurations compared (runs of one
      seed of a configuration that differ only in how, not what, is trained count once:
      ``pair.one_row_per_seed``).
    """

    strategy: str
    objective: str | None
    direction: str | None
    configs: int
    proxy_only: int
    full_only: int
    proxy_runs: int
    full_runs: int
    excluded_runs: int
    rho: float
    rho_low: float
    rho_high: float
    tau: float
    tau_low: float
    tau_high: float
    top_k: dict[int, float]
    regret: float
    regret_sd: float
    p_worse: float
    top_seed_std: float
    ceiling: NoiseCeiling
    rho_rel: float
    cost_reduction_examples: float
    cost_reduction_time: float
    cost_reduction_flops: float
    predicted_reduction: float
    ci_method: str = "BCa"
    confidence_level: float = 0.95
    # distinct scores (equal within ranks.RTOL: one level) among the configurations compared: a proxy
    # with two levels over a dozen configurations has a tight rho interval yet cannot say which is best
    proxy_levels: int = 0
    full_levels: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Flat: top_k becomes top1, top3, ...; the noise ceiling's fields are inlined."""
        ceiling = self.ceiling
        return {
            **{k: getattr(self, k) for k in ("strategy", "objective", "direction", "configs", "proxy_only",
                                              "full_only", "proxy_runs", "full_runs", "excluded_runs", "rho",
                                              "rho_low", "rho_high", "tau", "tau_low", "tau_high")},
            **{f"top{k}": v for k, v in self.top_k.items()},
            "regret": self.regret,
            "regret_sd": self.regret_sd,
            "p_worse": self.p_worse,
            "top_seed_std": self.top_seed_std,
            "seed_rho": ceiling.seed_rho,
            "full_seeds": ceiling.seeds,
            "reliability": ceiling.reliability,
            "ceiling": ceiling.ceiling,
            "rho_rel": self.rho_rel,
            "cost_reduction_examples": self.cost_reduction_examples,
            "cost_reduction_time": self.cost_reduction_time,
            "cost_reduction_flops": self.cost_reduction_flops,
            "predicted_reduction": self.predicted_reduction,
            "ci_method": self.ci_method,
            "confidence_level": self.confidence_level,
            "proxy_levels": self.proxy_levels,
            "full_levels": self.full_levels,
        }

    def to_series(self) -> pd.Series:
        return pd.Series(self.to_dict(), name=self.strategy)

    def to_frame(self) -> pd.DataFrame:
        """One row, indexed by strategy."""
        return pd.DataFrame([self.to_dict()]).set_index("strategy")


def _ratio(num: float, den: float) -> float:
    if not (np.isfinite(num) and np.isfinite(den)) or den <= 0:
        return math.nan
    return float(num / den)


def cost_reduction(full_cost: np.ndarray, proxy_cost: np.ndarray) -> float:
    """Mean over configurations of the full per-configuration mean cost / the same for the proxy.

    Inputs: one mean cost per run per configuration (shape (n,)); configurations without a
    finite cost on both sides are left out. Seeds never weigh: a configuration with 25
    completed seeds counts as much as one with 2.
    """
    ok = np.isfinite(full_cost) & np.isfinite(proxy_cost)
    if not ok.any():
        return math.nan
    return _ratio(float(full_cost[ok].mean()), float(proxy_cost[ok].mean()))


def predicted_reduction(full_flops: np.ndarray, factor: np.ndarray) -> float:
    """The predicted counterpart of ``cost_reduction``: the mean over configurations of the full
    configuration's FLOPs over the mean of its predicted proxy FLOPs (full FLOPs x the run's predicted
    factor, ``cost.predicted_factor``: training FLOPs against the full recipe's). Weighted so, a prediction
    that is exact per run equals the measured FLOPs reduction; 1 / the plain mean of the factors would not
    when the factor varies with the configuration (a width proxy over several widths: 14.3x predicted
    against 18.4x measured, every run predicted exactly). Without the full runs' FLOPs: 1 / the mean
    factor."""
    ok = np.isfinite(factor)
    if not ok.any():
        return math.nan
    weighted = ok & np.isfinite(full_flops) & (full_flops > 0)
    if weighted.sum() == ok.sum():
        return _ratio(float(full_flops[ok].sum()), float((full_flops[ok] * factor[ok]).sum()))
    return _ratio(1.0, float(factor[ok].mean()))


@functools.lru_cache(maxsize=16)
def normal_quantile(confidence_level: float) -> float:
    """z of a two-sided normal interval (1.96 for 0.95); cached: it is asked once per group."""
    return float(stats.norm.ppf(0.5 + confidence_level / 2))


def fisher_interval(r: float, n: int, confidence_level: float, kind: str) -> tuple[float, float]:
    """Approximate interval of a rank correlation from Fisher's z with the variance of
    Bonett & Wright (2000): (1 + r^2/2) / (n - 3) for Spearman, 0.437 / (n - 4) for Kendall.

    |r| is clipped to 0.99 (the approximation's variance vanishes at 1): a perfect sample ranking
    still gets an interval of honest width. NaN below ``ranks.MIN_CONFIGS_CI`` configurations.
    """
    if not np.isfinite(r) or n < ranks.MIN_CONFIGS_CI:
        return math.nan, math.nan
    rc = float(np.clip(r, -0.99, 0.99))
    var = (1 + rc * rc / 2) / (n - 3) if kind == "rho" else 0.437 / (n - 4)
    z = normal_quantile(confidence_level) * math.sqrt(var)
    centre = math.atanh(rc)
    low, high = math.tanh(centre - z), math.tanh(centre + z)
    return (min(low, r), max(high, r))


def pick_worse_chance(proxy: np.ndarray, full: np.ndarray, full_n: np.ndarray, noise: float, dof: float,
                      *, snapped: bool = False) -> float:
    """The chance that the proxy's pick is truly worse at full scale than the best configuration.

    For a pick i (ties of the proxy's best weighted as a random pick) that is not tied with the
    best b: P = T_dof(d / se) with d = full_b - full_i, se = noise * sqrt(1/n_i + 1/n_b), noise the
    seed sd of the top configurations and T the Student t distribution with their pooled degrees
    of freedom (a flat-prior, equal-noise comparison of two seed means). A pick tied with the best
    adds 0. NaN without seed noise (fewer than two seeds at the top).
    """
    if len(proxy) == 0:
        return math.nan
    full = np.asarray(full, float) if snapped else ranks.snap_ties(full)
    w = ranks.pick_weights(proxy, 1, snapped=snapped)
    best = full == full.max()
    picked = w > 0
    if not (picked & ~best).any():
        return 0.0
    if not (np.isfinite(noise) and noise > 0 and dof > 0):
        return math.nan
    n_best = float(np.mean(full_n[best]))
    d = full.max() - full
    se = noise * np.sqrt(1.0 / full_n + 1.0 / n_best)
    chance = np.where(best, 0.0, stats.t.cdf(d / se, dof))
    return float((w * chance).sum())


def ci_method_name(methods: tuple[str, str]) -> str:
    """``Fidelity.ci_method`` from the method each of rho's and tau's intervals used: one name when they
    agree, else both (BCa can fail for one statistic and fall back to the percentile interval)."""
    rho, tau = methods
    return rho if rho == tau else f"rho {rho}, tau {tau}"


def bootstrap_interval(proxy: np.ndarray, full: np.ndarray, settings: FidelitySettings
                       ) -> tuple[float, float, float, float]:
    """(rho_low, rho_high, tau_low, tau_high) of ``ranks.rank_agreement_ci`` with ``settings``."""
    return ranks.rank_agreement_ci(proxy, full, n_resamples=settings.n_resamples,
                                   confidence_level=settings.confidence_level, method=settings.ci_method,
                                   rng=settings.rng)


def _interval_job(job: tuple[np.ndarray, np.ndarray, FidelitySettings]) -> tuple[float, float, float, float]:
    return bootstrap_interval(*job)


PARALLEL_BOOTSTRAP = 2e8  # resamples x configurations^2 (the Kendall part) from which processes share it


def bootstrap_intervals(jobs: list[tuple[np.ndarray, np.ndarray]], settings: FidelitySettings
                        ) -> list[tuple[float, float, float, float]]:
    """The bootstrap interval of each (proxy, full) pair of score arrays; the same values as one
    ``bootstrap_interval`` call each (the resamples come from ``settings.rng``), computed in forked
    processes (one per CPU, at most 4) when the work is large: a few strategies over 1,000
    configurations take seconds each, and they are independent."""
    work = settings.n_resamples * sum(len(p) ** 2 for p, _ in jobs)
    workers = min(forked.cpus(), 4, len(jobs))
    if workers < 2 or work < PARALLEL_BOOTSTRAP or not forked.can_fork():
        return [bootstrap_interval(p, f, settings) for p, f in jobs]
    with forked.pool(workers) as pool:
        return list(pool.map(_interval_job, [(p, f, settings) for p, f in jobs]))


def strategy_fidelity(
    strategy: str,
    cols: dict[str, np.ndarray],
    ceiling: NoiseCeiling,
    counts: dict[str, int],
    settings: FidelitySettings,
    objective: tuple[str | None, str | None] = (None, None),
    agreement: tuple[float, float] | None = None,
    interval: tuple[float, float, float, float] | None = None,
) -> Fidelity:
    """Fidelity of one strategy from the arrays of its paired configurations (``pair_runs``
    columns proxy_score, full_score, full_std, full_n, proxy_n and proxy_/full_ costs, shape (n,)).

    ``agreement``: (rho, tau) when the caller computed them for many groups at once; then the
    scores must already be snapped (``ranks.snap_ties``). ``interval``: the bootstrap interval
    (``bootstrap_interval``) when the caller computed it."""
    snapped = agreement is not None
    proxy_score, full_score = cols["proxy_score"], cols["full_score"]
    if not snapped:
        proxy_score, full_score = ranks.snap_ties(proxy_score), ranks.snap_ties(full_score)
    n = len(proxy_score)
    rho, tau = agreement if agreement is not None else ranks.rank_agreement(proxy_score, full_score)
    ci = interval if interval is not None else bootstrap_interval(proxy_score, full_score, settings)
    rho_low, rho_high, tau_low, tau_high = ci
    method = ci_method_name(getattr(ci, "methods", (settings.ci_method,) * 2))
    # no resamples, too few configurations, or a degenerate bootstrap (every resample agrees
    # perfectly: a zero-width interval claims a certainty a dozen configurations cannot give)
    if settings.n_resamples == 0 or not np.isfinite(rho_low) or rho_low == rho_high:
        rho_low, rho_high = fisher_interval(rho, n, settings.confidence_level, "rho")
        tau_low, tau_high = fisher_interval(tau, n, settings.confidence_level, "tau")
        method = "fisher-z"
    top_k = {k: ranks.top_k_precision(proxy_score, full_score, k, snapped=True) for k in settings.k}
    regret = ranks.regret(proxy_score, full_score, snapped=True)
    full_std, full_n = cols["full_std"], cols["full_n"].astype(float)
    if n:
        top = ranks.full_top(full_score, min(TOP_NOISE, n), snapped=True)
        noise = ranks.pooled_std(full_std[top], full_n[top])
        dof = float(np.clip(full_n[top] - 1, 0, None)[np.isfinite(full_std[top])].sum())
    else:
        noise, dof = math.nan, 0.0
    regret_sd = regret / noise if np.isfinite(noise) and noise > 0 else math.nan
    p_worse = pick_worse_chance(proxy_score, full_score, full_n, noise, dof, snapped=True)
    rho_rel = rho / ceiling.ceiling if np.isfinite(ceiling.ceiling) and ceiling.ceiling > 0 else math.nan
    reductions = {COST_NAMES[c]: cost_reduction(cols[f"full_{c}"], cols[f"proxy_{c}"]) for c in COSTS}
    predicted = predicted_reduction(cols["full_flops"], cols["proxy_predicted_factor"])
    return Fidelity(
        strategy=strategy,
        objective=objective[0],
        direction=objective[1],
        configs=n,
        proxy_only=counts.get("proxy_only", 0),
        full_only=counts.get("full_only", 0),
        proxy_runs=int(cols["proxy_n"].sum()),
        full_runs=int(full_n.sum()),
        excluded_runs=counts.get("excluded", 0),
        rho=rho,
        rho_low=rho_low,
        rho_high=rho_high,
        tau=tau,
        tau_low=tau_low,
        tau_high=tau_high,
        top_k=top_k,
        regret=regret,
        regret_sd=float(regret_sd),
        p_worse=p_worse,
        top_seed_std=noise,
        ceiling=ceiling,
        rho_rel=float(rho_rel),
        cost_reduction_examples=reductions["examples"],
        cost_reduction_time=reductions["time"],
        cost_reduction_flops=reductions["flops"],
        predicted_reduction=predicted,
        ci_method=method,
        confidence_level=settings.confidence_level,
        proxy_levels=_levels(proxy_score),
        full_levels=_levels(full_score),
    )


def _levels(snapped: np.ndarray) -> int:
    """Distinct finite values of scores already snapped to their ties (``ranks.snap_ties``)."""
    values = np.asarray(snapped, float)
    return int(len(np.unique(values[np.isfinite(values)])))


def _one(values: pd.Series) -> str | None:
    found = values.dropna().unique()
    return str(found[0]) if len(found) == 1 else (" / ".join(map(str, found)) or None)


ARRAY_COLUMNS = ("proxy_score", "full_score", "full_std", "full_n", "proxy_n",
                 *(f"{side}_{c}" for side in ("proxy", "full") for c in (*COSTS, "predicted_factor")))


def fidelities(proxy: pd.DataFrame, full: pd.DataFrame, settings: FidelitySettings,
               by: str | Sequence[str] | None = None, pairs: pd.DataFrame | None = None,
               ) -> list[tuple[tuple, Fidelity]]:
    """(group values, Fidelity) of every strategy (reduction_label) in ``proxy`` against ``full``,
    within each group of ``by`` (one group, ``()``, without it). Pairs once (or takes ``pairs``
    from ``pair_runs(proxy, full, by)``)."""
    by = as_columns(by)
    check_by(proxy, by, "proxy")
    check_by(full, by, "full")
    if pairs is None:
        pairs = pair_runs(proxy, full, by)
    objective = (_one(full.loc[usable(full), "objective_name"]), pairs.attrs.get("full_direction"))
    excluded = proxy.loc[~usable(proxy)].groupby([*by, "reduction_label"], dropna=False).size()
    excluded_map = {(k if isinstance(k, tuple) else (k,)): int(v) for k, v in excluded.items()}
    matrices = SeedMatrices(full, by)
    arrays = {c: pairs[c].to_numpy(float) for c in ARRAY_COLUMNS}
    paired = pairs["paired"].to_numpy(bool)
    has_proxy, has_full = pairs["proxy_n"].to_numpy() > 0, pairs["full_n"].to_numpy() > 0
    keys = pairs["config_key"].to_numpy()
    index_of = pairs.groupby([*by, "strategy"], sort=True, dropna=False).indices
    # rank statistics of every (group, strategy) at once, on scores snapped within each
    codes = np.full(len(pairs), -1, dtype=np.intp)
    for code, index in enumerate(index_of.values()):
        codes[index] = code
    n_codes = len(index_of)
    both = np.flatnonzero(paired)
    for side in ("proxy_score", "full_score"):
        arrays[side] = arrays[side].copy()
        arrays[side][both] = ranks.snap_ties(arrays[side][both], groups=codes[both])
    rho_all = ranks.grouped_spearman(pairs["proxy_rank"].to_numpy(float)[both],
                                     pairs["full_rank"].to_numpy(float)[both], codes[both], n_codes)
    tau_all = ranks.grouped_kendall(arrays["proxy_score"][both], arrays["full_score"][both], codes[both], n_codes)
    out = []
    selected = [index[paired[index]] for index in index_of.values()]
    intervals: list[tuple[float, float, float, float] | None] = [None] * len(selected)
    if settings.n_resamples > 0:  # every bootstrap at once: large ones share the CPUs
        todo = [i for i, sel in enumerate(selected) if len(sel) >= ranks.MIN_CONFIGS_CI]
        found = bootstrap_intervals([(arrays["proxy_score"][selected[i]], arrays["full_score"][selected[i]])
                                     for i in todo], settings)
        for i, interval in zip(todo, found):
            intervals[i] = interval
    # one loop over (group, strategy): a few small numpy calls each, on its configurations only
    for code, (label, index) in enumerate(index_of.items()):
        label = label if isinstance(label, tuple) else (label,)
        group, strategy = label[:-1], str(label[-1])
        sel = index[paired[index]]
        cols = {c: a[sel] for c, a in arrays.items()}
        counts = {"proxy_only": int((~paired[index] & has_proxy[index]).sum()),
                  "full_only": int((~paired[index] & has_full[index]).sum()),
                  "excluded": excluded_map.get((*group, strategy), 0)}
        ceiling = matrices.ceiling(group, keys[sel]) if len(sel) else NoiseCeiling()
        out.append((group, strategy_fidelity(strategy, cols, ceiling, counts, settings, objective,
                                             agreement=(float(rho_all[code]), float(tau_all[code])),
                                             interval=intervals[code])))
    # strategies whose every run failed have no row in pairs: an empty row each
    seen = {(g, f.strategy) for g, f in out}
    labels = proxy[[*by, "reduction_label"]].dropna(subset=["reduction_label"]).drop_duplicates()
    for row in labels.itertuples(index=False, name=None):
        group, strategy = tuple(row[:-1]), str(row[-1])
        if (group, strategy) not in seen:
            empty = {c: np.array([]) for c in ARRAY_COLUMNS}
            counts = {"excluded": excluded_map.get((*group, strategy), 0),
                      "full_only": int(matrices.configs.get(group, 0))}
            out.append((group, strategy_fidelity(strategy, empty, NoiseCeiling(), counts, settings, objective)))
    out.sort(key=lambda gf: (tuple(map(str, gf[0])), gf[1].strategy))
    return out


def fidelity(
    proxy: pd.DataFrame,
    full: pd.DataFrame,
    *,
    k: Sequence[int] = (1, 3, 5),
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    ci_method: str = "BCa",
    rng: int | None = 0,
) -> Fidelity:
    """Fidelity of one proxy strategy (all ``proxy`` rows share a reduction_label) against ``full``.

    Only completed runs with an objective value count; configurations without a run on both
    sides are left out and counted (``proxy_only``, ``full_only``). Intervals: paired bootstrap
    over configurations (``scipy.stats.bootstrap``), reproducible through ``rng``; with
    ``n_resamples=0`` the Fisher-z approximation. Several strategies or groups: ``compare_strategies``.
    """
    settings = FidelitySettings(tuple(k), n_resamples, confidence_level, ci_method, rng)
    check_runs(proxy, "proxy")
    check_runs(full, "full")
    labels = sorted(proxy["reduction_label"].dropna().unique())
    if len(labels) != 1:
        raise ValueError(
            f"proxy.reduction_label has {len(labels)} values {labels[:5]}; fidelity() compares one strategy "
            "with the full set (use compare_strategies for several)"
        )
    return fidelities(proxy, full, settings)[0][1]
