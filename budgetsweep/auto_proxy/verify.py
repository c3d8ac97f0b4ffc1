"""Verification: the proxy search's top configurations at full scale, and the best of them (the sweep's
answer weighs it against the calibration's full-scale configurations: ``final``).

``top_configs`` says which configurations to verify (the search's ranking, ``analysis.summary.ranking``);
``verify`` reads their full-scale runs and says whether the proxy ranking held among them, whether the
proxy's pick is the verified best (rank statistics of ``analysis.fidelity``: top-1 with ties, regret
in objective units and in the top configurations' seed sd, the chance the pick is truly worse), and
answers with the verified best.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from budgetsweep.analysis.fidelity import fidelity
from budgetsweep.analysis.pair import pair_runs
from budgetsweep.analysis.schema import CONFIG_PREFIX, check_runs, usable
from budgetsweep.analysis.summary import ranking

from .jsonable import plain as _plain


def _one_label(runs: pd.DataFrame, name: str) -> str:
    labels = sorted(runs["reduction_label"].dropna().unique())
    if len(labels) != 1:
        raise ValueError(f"{name}.reduction_label has {len(labels)} values {labels[:5]}; {name} must hold the runs "
                         "of one rung")
    return str(labels[0])


def top_configs(search_runs: pd.DataFrame, k: int) -> list[str]:
    """Config keys of the search's ``k`` best configurations by seed-mean objective, best first.

    Seed means equal within ``ranks.RTOL`` share a rank; a tie at the cut goes to the configuration
    first tried (smallest trial number, then config key), so the choice never exceeds ``k`` runs'
    worth of budget and is reproducible. ValueError: not a run frame of one rung, or ``k`` < 1.
    """
    check_runs(search_runs, "search_runs")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k={k!r}; must be an integer >= 1")
    _one_label(search_runs, "search_runs")
    ranked = ranking(search_runs)
    first = search_runs.groupby("config_key")["trial_number"].min()
    ranked = ranked.assign(first=ranked["config_key"].map(first).astype(float).fillna(np.inf))
    ranked = ranked.sort_values(["rank", "first", "config_key"], kind="stable")
    return ranked["config_key"].head(k).astype(str).tolist()


@dataclass(frozen=True)
class VerifiedConfig:
    config_key: str
    config: dict[str, Any]
    proxy_rank: float
    proxy_score: float | None  # seed-mean objective at the proxy
    full_rank: float | None  # among the verified (None: no completed full-scale run)
    full_mean: float | None
    full_std: float | None
    seeds: list[int]


@dataclass(frozen=True)
class Verification:
    """The verdict on the top ``k`` of a proxy search. ``final``: the verified best's config key (None
    when no verification run completed); ``pick``: the proxy's best."""

    rung: str
    configs: list[VerifiedConfig]
    pick: str
    final: str | None
    pick_is_best: bool | None
    ranking_held: bool | None
    rho: float | None
    tau: float | None
    regret: float | None
    regret_sd: float | None
    p_worse: float | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {k: _plain(v) if not isinstance(v, (list, dict)) else v for k, v in asdict(self).items()}


def config_values(runs: pd.DataFrame, key: str) -> dict[str, Any]:
    rows = runs[runs["config_key"] == key]
    cols = [c for c in runs.columns if c.startswith(CONFIG_PREFIX)]
    if rows.empty:
        return {}
    first = rows.iloc[0]
    return {c[len(CONFIG_PREFIX):]: _plain(first[c]) for c in cols if pd.notna(first[c])}


def verify(search_runs: pd.DataFrame, full_runs: pd.DataFrame, top_k: int) -> Verification:
    """Judge the search's top ``top_k`` configurations on their full-scale runs.

    Args:
        search_runs: the search phase's runs at the chosen rung (one reduction label).
        full_runs: the verification's full-scale runs (other configurations are ignored).
        top_k: how many of the search's best were verified (``top_configs(search_runs, top_k)``).

    Returns:
        A Verification: per configuration its proxy and full-scale rank, score and seeds; whether the
        proxy's pick is the verified best (a pick tied with the best counts, ``ranks`` conventions);
        whether the ranking held (proxy and full ranks equal for every verified configuration); rho
        and tau (NaN below 3 configurations); regret, regret in seed sd of the top configurations,
        ``p_worse``; and ``final``, the verified best (ties: the one the proxy ranked higher).

    Raises:
        ValueError: a frame is not a run frame, or ``search_runs`` holds several rungs.
    """
    check_runs(full_runs, "full_runs")
    rung = _one_label(search_runs, "search_runs")
    keys = top_configs(search_runs, top_k)
    proxy = search_runs[search_runs["config_key"].isin(keys)]
    full = full_runs[full_runs["config_key"].isin(keys)]
    proxy_rank = {k: float(i + 1) for i, k in enumerate(keys)}
    ok = full[usable(full)]
    notes = []
    missing = [k for k in keys if k not in set(ok["config_key"])]
    if missing:
        notes.append(f"{len(missing)} of the top {len(keys)} have no completed full-scale run: {missing}")
    pairs = pair_runs(proxy, ok) if len(ok) else None
    paired = pairs[pairs["paired"]].set_index("config_key") if pairs is not None else pd.DataFrame()
    configs = []
    for key in keys:
        seeds = sorted(int(s) for s in ok.loc[ok["config_key"] == key, "seed"].dropna())
        row = paired.loc[key] if key in paired.index else None
        configs.append(VerifiedConfig(
            key, config_values(search_runs, key), proxy_rank[key],
            _plain(float(proxy.loc[usable(proxy) & (proxy["config_key"] == key), "objective_value"].mean())),
            None if row is None else _plain(float(row["full_rank"])),
            None if row is None else _plain(float(row["full_mean"])),
            None if row is None else _plain(float(row["full_std"])), seeds))
    if paired.empty:
        return Verification(rung, configs, keys[0], None, None, None, None, None, None, None, None,
                            notes + ["no verification run completed: there is no verified answer"])
    fid = fidelity(proxy[proxy["config_key"].isin(paired.index)], ok, k=(1,), n_resamples=0)
    verified = ranking(ok)
    best = verified[verified["rank"] == verified["rank"].min()]["config_key"].astype(str).tolist()
    final = min(best, key=lambda k: proxy_rank[k])  # a tie at the top: the proxy's better one
    held = bool((paired["proxy_rank"] == paired["full_rank"]).all())
    # the pick is the verified best when it ties with it (ranks conventions); unknown when it was not verified
    pick_is_best = keys[0] in best if keys[0] in paired.index else None
    return Verification(rung, configs, keys[0], final, pick_is_best, held,
                        _plain(fid.rho), _plain(fid.tau), _plain(fid.regret), _plain(fid.regret_sd),
                        _plain(fid.p_worse), notes)


__all__ = ["Verification", "VerifiedConfig", "top_configs", "verify"]
