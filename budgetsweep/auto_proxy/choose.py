"""Choose the proxy to search at, from calibration runs: the cheapest candidate whose fidelity clears
the target with its uncertainty, by the analysis module's rule (``analysis.compare``), never a copy.

Ties: a candidate whose calibration scores take fewer distinct values than the analysis module's
minimum for a verdict (``MIN_CONFIGS_VERDICT``) is *tie-limited* and never chosen, neither with
confidence nor as the milder fallback. The paired bootstrap over configurations keeps each
configuration's proxy level, so every resample of a two-level proxy has the same two-level
structure and its rho barely moves: 12 configurations split 6/6 in the right order give rho 0.87
with a BCa interval of [0.82, 0.90], which clears a target of 0.8, while the proxy's pick is a
1-in-6 draw among its tied best (top-1 0.17). Distinct levels, not configurations, are what such a
calibration compared.

Input: the calibration's run frame (``analysis.load_runs`` of its records, ``load_study_runs`` of its
study, or ``analysis.from_frame``): full-scale runs labelled ``full`` and each candidate's runs under
its reduction label. Output: a ``Choice`` whose ``to_dict()`` is the evidence written before the
search starts.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from budgetsweep.analysis.compare import (MIN_CONFIGS_VERDICT, compare_strategies, criterion_columns, not_cheaper,
                                          recommend)
from budgetsweep.analysis.pair import split_runs
from budgetsweep.analysis.schema import FULL_LABEL

from .jsonable import plain as _plain
from .settings import AutoProxySettings, Fallback

LOW_DIGITS = 2  # lower bounds equal to 2 decimals are a tie: a bootstrap's third decimal is resampling noise
# budget unit -> the measured cost the analysis module compares (cost_reduction_<cost_by>)
COST_BY = {"examples": "examples", "flops": "flops", "gpu_hours": "time"}
EVIDENCE_COLUMNS = ("configs", "rho", "rho_low", "rho_high", "tau", "tau_low", "tau_high", "ceiling", "rho_rel",
                    "top1", "regret_sd", "cost_reduction", "predicted_reduction", "meets", "confident",
                    "more_configs", "recommended", "ci_method", "confidence_level", "full_seeds", "excluded_runs",
                    "proxy_levels", "full_levels", "tie_limited", "not_learned_runs", "judged_runs", "did_not_learn")


@dataclass(frozen=True)
class Choice:
    """What the search runs at and why.

    ``kind``: ``proxy`` (a candidate cleared the target with its uncertainty), ``milder`` (fallback: among the
    candidates whose estimate meets the target and that measured cheaper than full scale, the one with the
    highest lower bound of its interval, then the mildest) or ``full`` (fallback: full scale). ``label``:
    the reduction label to search at (``full`` for full scale); ``name``: the candidate's name.
    ``candidates``: per candidate, its calibration fidelity, interval and verdict columns.
    """

    kind: str
    label: str
    name: str
    reason: str
    recommendation: str
    target: float
    criterion: str
    cost_by: str
    candidates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fell_back(self) -> bool:
        return self.kind != "proxy"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "name": self.name, "fell_back": self.fell_back,
                "reason": self.reason, "recommendation": self.recommendation, "target": self.target,
                "criterion": self.criterion, "cost_by": self.cost_by, "candidates": self.candidates}


def _evidence(table: pd.DataFrame, cost_by: str, names: Mapping[str, str]) -> list[dict[str, Any]]:
    rows = []
    for label, row in table.iterrows():
        data = row.rename({f"cost_reduction_{cost_by}": "cost_reduction"})
        rows.append({"label": str(label), "name": names.get(str(label), str(label)),
                     **{c: _plain(data[c]) for c in EVIDENCE_COLUMNS if c in data.index}})
    return rows


def _tie_note(table: pd.DataFrame, names: Mapping[str, str]) -> str:
    limited = table.index[table["tie_limited"].to_numpy(bool)]
    if not len(limited):
        return ""
    parts = [f"{names.get(str(label), str(label))} ({int(table.loc[label, 'proxy_levels'])} distinct proxy and "
             f"{int(table.loc[label, 'full_levels'])} distinct full-scale scores over {int(table.loc[label, 'configs'])} "
             "configurations)" for label in limited]
    return (f" Not considered, their scores too tied for rho to say which configuration is best (fewer than "
            f"{MIN_CONFIGS_VERDICT} distinct levels): {'; '.join(parts)}.")


def choose(runs: pd.DataFrame, settings: AutoProxySettings, unit: str,
           names: Mapping[str, str] | None = None) -> Choice:
    """The rung to search at, judged on the calibration runs.

    Args:
        runs: the calibration's run frame: full-scale runs (reduction_label ``full``) and the
            candidates' runs, paired by config key.
        settings: the target, criterion, interval settings and fallback.
        unit: the budget unit; "cheapest" is the largest measured cost reduction in it (``gpu_hours``:
            wall time).
        names: reduction label -> candidate name, for the evidence and messages (default: the label).

    Returns:
        A Choice. With a candidate whose criterion's lower bound clears ``settings.target`` over at
        least ``MIN_CONFIGS_VERDICT`` configurations, the cheapest such (``analysis.compare.recommend``);
        otherwise the fallback of ``settings.fallback``, and the reason says so. Tie-limited
        candidates (``analysis.compare.decide``: too few distinct scores) are evidence only, never the choice.

    Raises:
        ValueError: ``unit`` is not a budget unit, or ``runs`` is not a run frame (``check_runs``).
    """
    if unit not in COST_BY:
        raise ValueError(f"unit={unit!r} is not a budget unit; allowed: {', '.join(COST_BY)}")
    names = dict(names or {})
    cost_by = COST_BY[unit]
    proxy, full = split_runs(runs)
    table = compare_strategies(proxy, full, threshold=settings.target, criterion=settings.criterion,
                               cost_by=cost_by, k=(1,), n_resamples=settings.n_resamples,
                               confidence_level=settings.confidence_level)
    # analysis.compare.decide marks tie-limited strategies (never confident); they are not even the fallback
    table["tie_limited"] = table["tie_limited"].fillna(False).astype(bool)
    informative = table[~table["tie_limited"]]
    note = _tie_note(table, names)
    rec = recommend(informative, threshold=settings.target, criterion=settings.criterion, cost_by=cost_by)
    evidence = _evidence(table, cost_by, names)
    common = dict(recommendation=rec.text + note, target=settings.target, criterion=settings.criterion,
                  cost_by=cost_by, candidates=evidence)
    if rec.strategy is not None:
        return Choice("proxy", rec.strategy, names.get(rec.strategy, rec.strategy),
                      f"{names.get(rec.strategy, rec.strategy)} is the cheapest candidate whose {settings.criterion} "
                      f"clears the target {settings.target:g} with its uncertainty. {rec.text}{note}", **common)
    # a candidate most of whose runs did not learn (analysis.compare.decide) is not the fallback either
    meets = informative[informative["meets"].astype(bool) & ~informative["did_not_learn"].astype(bool)] \
        if len(informative) else informative
    # a candidate measured as costly as full scale or more is no proxy to search at (bf16 autocast on a CPU)
    meets = meets[~not_cheaper(meets, cost_by)] if len(meets) else meets
    if settings.fallback == Fallback.MILDER and len(meets):
        cost = meets[f"cost_reduction_{cost_by}"].astype(float).fillna(math.inf)
        # the strongest evidence first: the highest lower bound of the criterion's interval; without
        # intervals (below 5 configurations) or between equal bounds, the mildest (least reduction: its
        # bias the smallest). A milder candidate whose runs rank noisily is no safer than a cheaper one
        # that ranked the calibration configurations consistently.
        _, low, _ = criterion_columns(meets, settings.criterion)
        low = low.astype(float).round(LOW_DIGITS).fillna(-math.inf)
        order = pd.DataFrame({"low": -low, "cost": cost})
        label = str(order.sort_values(["low", "cost"], kind="stable").index[0])
        name = names.get(label, label)
        bound = low[label]
        why = (f"the one with the highest lower bound of its {settings.criterion} interval ({bound:.2f}) among the "
               f"candidates whose estimate meets {settings.target:g}" if math.isfinite(bound) else
               f"the mildest candidate whose {settings.criterion} estimate meets {settings.target:g} (no interval "
               "to compare them by)")
        reason = (f"No candidate clears the target with its uncertainty; falling back (auto_proxy.fallback="
                  f"{settings.fallback.value}) to {name}, {why}. {rec.text}{note}")
        return Choice("milder", label, name, reason, **common)
    why = ("no candidate cheaper than full scale has an estimate meeting the target either"
           if settings.fallback == Fallback.MILDER
           else "auto_proxy.fallback=full")
    reason = (f"No candidate clears the target with its uncertainty and {why}: searching at full scale. "
              f"{rec.text}{note}")
    return Choice("full", FULL_LABEL, FULL_LABEL, reason, **common)


__all__ = ["COST_BY", "Choice", "choose"]
