"""Fidelity of one proxy: how well its ranking of configurations predicts the full-scale one."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import ranks
from .pair import pair_runs
from .schema import check_runs, usable


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
            raise ValueError(f"n_resamples={self.n_resamples!r}; must be an integer >= 0 (0 skips the intervals)")
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


def noise_ceiling(full: pd.DataFrame, config_keys: Sequence[str] | None = None) -> NoiseCeiling:
    """The noise ceiling of DESIGN section 10 from the full-scale runs (of ``config_keys`` if given).

    Seeds are matched across configurations by their order (the i-th seed of each
    configuration), so configurations need not share seed values.
    """
    check_runs(full, "full")
    runs = full[usable(full)]
    if config_keys is not None:
        runs = runs[runs["config_key"].isin(list(config_keys))]
    if runs.empty:
        return NoiseCeiling()
    runs = runs.sort_values(["config_key", "seed"], na_position="last")
    replicate = runs.groupby("config_key").cumcount()
    wide = runs.assign(replicate=replicate).pivot_table(
        index="config_key", columns="replicate", values="objective_value", aggfunc="first"
    )
    seeds = float(runs.groupby("config_key").size().mean())
    configs = len(wide)
    if wide.shape[1] < 2:
        return NoiseCeiling(seeds=seeds, configs=configs)
    # direction does not matter here: both sides of each pair are the same objective
    corr = wide.corr(method="spearman", min_periods=ranks.MIN_CONFIGS).to_numpy()
    upper = corr[np.triu_indices_from(corr, k=1)]
    upper = upper[np.isfinite(upper)]
    if upper.size == 0:
        return NoiseCeiling(seeds=seeds, configs=configs)
    rho_1 = float(upper.mean())
    reliability = ranks.spearman_brown(rho_1, seeds)
    ceiling = math.sqrt(reliability) if rho_1 > 0 else math.nan
    return NoiseCeiling(rho_1, seeds, reliability, ceiling, int(upper.size), configs)


@dataclass(frozen=True)
class Fidelity:
    """Fidelity of one strategy against the full set. ``to_frame()`` gives one row.

    Scores are direction-aware (rank 1 is the best for a minimised loss and a maximised
    accuracy alike). ``regret`` is in objective units; ``regret_sd`` in pooled full-scale seed
    standard deviations. ``cost_reduction_*`` = mean full cost / mean proxy cost per run, over
    the runs of the configurations compared; ``predicted_reduction`` = 1 / predicted factor.
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
    seed_std: float
    ceiling: NoiseCeiling
    rho_rel: float
    cost_reduction_examples: float
    cost_reduction_time: float
    cost_reduction_flops: float
    predicted_reduction: float
    confidence_level: float = 0.95

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
            "seed_std": self.seed_std,
            "seed_rho": ceiling.seed_rho,
            "full_seeds": ceiling.seeds,
            "reliability": ceiling.reliability,
            "ceiling": ceiling.ceiling,
            "rho_rel": self.rho_rel,
            "cost_reduction_examples": self.cost_reduction_examples,
            "cost_reduction_time": self.cost_reduction_time,
            "cost_reduction_flops": self.cost_reduction_flops,
            "predicted_reduction": self.predicted_reduction,
            "confidence_level": self.confidence_level,
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


def run_costs(runs: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """Mean cost of a run (examples, wall_seconds, flops, predicted_factor), per strategy, over the
    usable runs of the (strategy, config_key) pairs in ``keys``: one merge and one groupby."""
    cols = ["examples", "wall_seconds", "flops", "predicted_factor"]
    ok = runs.loc[usable(runs), ["reduction_label", "config_key", *cols]]
    ok = ok.rename(columns={"reduction_label": "strategy"})
    merged = ok.merge(keys[["strategy", "config_key"]].drop_duplicates(), on=["strategy", "config_key"])
    return merged.groupby("strategy")[cols].mean()


def strategy_fidelity(
    strategy: str,
    pairs: pd.DataFrame,
    full: pd.DataFrame,
    proxy_cost: pd.Series,
    excluded: dict[str, int],
    settings: FidelitySettings,
) -> Fidelity:
    """Fidelity of one strategy from its rows of ``pair_runs`` (all its rows, paired or not), the
    full runs, the strategy's mean cost per run and the count of its runs that did not complete."""
    both = pairs[pairs["paired"]]
    proxy_score = both["proxy_score"].to_numpy(float)
    full_score = both["full_score"].to_numpy(float)
    keys = both["config_key"].to_numpy()
    rho, tau = ranks.rank_agreement(proxy_score, full_score)
    rho_low, rho_high, tau_low, tau_high = ranks.rank_agreement_ci(
        proxy_score, full_score, n_resamples=settings.n_resamples, confidence_level=settings.confidence_level,
        method=settings.ci_method, rng=settings.rng,
    )
    top_k = {k: ranks.top_k_precision(proxy_score, full_score, keys, k) for k in settings.k}
    regret = ranks.regret(proxy_score, full_score)
    seed_std = ranks.pooled_std(both["full_std"].to_numpy(float), both["full_n"].to_numpy(float))
    regret_sd = regret / seed_std if np.isfinite(seed_std) and seed_std > 0 else math.nan
    ceiling = noise_ceiling(full, keys)
    full_ok = full[usable(full) & full["config_key"].isin(keys)]
    full_cost = full_ok[["examples", "wall_seconds", "flops"]].mean()
    predicted = proxy_cost.get("predicted_factor", math.nan)
    rho_rel = rho / ceiling.ceiling if np.isfinite(ceiling.ceiling) and ceiling.ceiling > 0 else math.nan
    return Fidelity(
        strategy=strategy,
        objective=_one(full_ok["objective_name"]),
        direction=_one(full_ok["objective_direction"]),
        configs=len(both),
        proxy_only=int((~pairs["paired"] & pairs["proxy_n"].gt(0)).sum()),
        full_only=int((~pairs["paired"] & pairs["full_n"].gt(0)).sum()),
        proxy_runs=int(both["proxy_n"].sum()),
        full_runs=int(both["full_n"].sum()),
        excluded_runs=int(excluded.get(strategy, 0)),
        rho=rho,
        rho_low=rho_low,
        rho_high=rho_high,
        tau=tau,
        tau_low=tau_low,
        tau_high=tau_high,
        top_k=top_k,
        regret=regret,
        regret_sd=float(regret_sd),
        seed_std=seed_std,
        ceiling=ceiling,
        rho_rel=float(rho_rel),
        cost_reduction_examples=_ratio(full_cost["examples"], proxy_cost.get("examples", math.nan)),
        cost_reduction_time=_ratio(full_cost["wall_seconds"], proxy_cost.get("wall_seconds", math.nan)),
        cost_reduction_flops=_ratio(full_cost["flops"], proxy_cost.get("flops", math.nan)),
        predicted_reduction=_ratio(1.0, predicted),
        confidence_level=settings.confidence_level,
    )


def _one(values: pd.Series) -> str | None:
    found = values.dropna().unique()
    return str(found[0]) if len(found) == 1 else (" / ".join(map(str, found)) or None)


def fidelities(proxy: pd.DataFrame, full: pd.DataFrame, settings: FidelitySettings) -> list[Fidelity]:
    """Fidelity of every strategy (reduction_label) in ``proxy`` against ``full``; pairs once."""
    pairs = pair_runs(proxy, full)
    paired = pairs[pairs["paired"]]
    costs = run_costs(proxy, paired)
    excluded = proxy.loc[~usable(proxy), "reduction_label"].value_counts().to_dict()
    out = []
    # a loop over strategies (a handful), each one vectorised over its configurations
    for strategy in sorted(proxy["reduction_label"].dropna().unique()):
        rows = pairs[pairs["strategy"] == strategy]
        cost = costs.loc[strategy] if strategy in costs.index else pd.Series(dtype=float)
        out.append(strategy_fidelity(str(strategy), rows, full, cost, excluded, settings))
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
    over configurations (``scipy.stats.bootstrap``), reproducible through ``rng``.
    Several strategies at once: ``compare_strategies``.
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
    return fidelities(proxy, full, settings)[0]
