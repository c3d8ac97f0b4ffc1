"""Several proxy strategies against one full set: a table, and the cheapest proxy that is good
enough, judged with its uncertainty.

When a recommendation is made (the rule, also in docs/report.md): never for a strategy most of whose
proxy runs did not learn (their records' learned verdict; ``learned.py``), and otherwise when

- the criterion's interval lower bound (rho_low, or rho_low / ceiling for ``rho_rel``) is at or
  above the threshold, and
- at least ``MIN_CONFIGS_VERDICT`` (10) configurations were compared. The interval rule does most
  of the work (benchmarks/bootstrap_coverage.py: 95% intervals cover 0.955 for 10-50
  configurations, 0.930 with a coarse, tied proxy); the minimum guards the range where a
  bootstrap over configurations has few distinct resamples (8 configurations: 6,435 multisets)
  and where the measured rate of wrong recommendations was highest (true rho 0.7 vs threshold
  0.8: 2.7% at 8 configurations, at most 0.7% from 10 on), at little cost (a deserved
  recommendation, true rho 0.9, clears at 8 in 7% of cases),

both up to ``THRESHOLD_TOL``, so 0.7999999999999999 meets 0.8. Otherwise the sentence says what
more is needed: an estimate of how many configurations at full scale would make the lower bound
clear the threshold if rho stayed where it is.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .fidelity import FidelitySettings, fidelities
from .learned import add_learned, did_not_learn, not_learned_text
from .pair import as_columns
from .ranks import stats  # scipy.stats, imported on first use
from .schema import COST_COLUMNS, check_runs

CRITERIA = ("rho", "rho_rel")
MIN_CONFIGS_VERDICT = 10
THRESHOLD_TOL = 1e-9  # float error in a correlation is ~1e-16; a difference below this is no difference


def _check_choice(threshold: float, criterion: str, cost_by: str) -> None:
    if not isinstance(threshold, (int, float)) or not -1 <= threshold <= 1 or math.isnan(threshold):
        raise ValueError(f"threshold={threshold!r}; must be a rank correlation in [-1, 1], e.g. 0.8")
    if criterion not in CRITERIA:
        raise ValueError(f"criterion={criterion!r}; allowed: {CRITERIA}")
    if cost_by not in COST_COLUMNS:
        raise ValueError(f"cost_by={cost_by!r}; allowed: {tuple(COST_COLUMNS)}")


@dataclass(frozen=True)
class Recommendation:
    """The cheapest strategy whose criterion clears the threshold with its uncertainty, or None,
    with one sentence saying so (and what more is needed)."""

    strategy: str | None
    text: str
    threshold: float
    criterion: str
    cost_by: str

    def __str__(self) -> str:
        return self.text


def configs_needed(r: float, threshold: float, confidence_level: float = 0.95) -> float:
    """Configurations needed for the lower bound of rho's interval to reach ``threshold`` if the
    estimate stayed at ``r``: the Fisher-z interval with Bonett & Wright's variance
    (1 + r^2/2) / (n - 3), solved for n; at least ``MIN_CONFIGS_VERDICT``. NaN when r does not
    exceed the threshold (no number of configurations would make the case).
    """
    if not np.isfinite(r) or r <= threshold + THRESHOLD_TOL:
        return math.nan
    rc = min(r, 0.99)  # as fisher_interval: the approximation has no width at |r| = 1
    if rc <= threshold:
        return math.nan
    z = stats.norm.ppf(0.5 + confidence_level / 2)
    n = 3 + (1 + rc * rc / 2) * (z / (math.atanh(rc) - math.atanh(threshold))) ** 2
    return float(max(MIN_CONFIGS_VERDICT, math.ceil(n)))


def criterion_columns(table: pd.DataFrame, criterion: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(value, lower bound, fallback) of the criterion per row; with rho_rel, rho stands in where
    there is no noise ceiling (``fallback`` True)."""
    if criterion == "rho":
        return table["rho"].astype(float), table["rho_low"].astype(float), pd.Series(False, index=table.index)
    fallback = table["rho_rel"].isna() & table["rho"].notna()
    ceiling = table["ceiling"].astype(float)
    value = table["rho_rel"].where(~fallback, table["rho"]).astype(float)
    low = (table["rho_low"] / ceiling).where(~fallback, table["rho_low"]).astype(float)
    return value, low, fallback


def decide(table: pd.DataFrame, threshold: float, criterion: str, cost_by: str,
           by: Sequence[str] = ()) -> pd.DataFrame:
    """Add ``meets`` (estimate >= threshold), ``did_not_learn`` (from ``not_learned_runs`` and
    ``judged_runs`` when the table has them), ``confident`` (lower bound >= threshold with at least
    MIN_CONFIGS_VERDICT configurations, and the strategy learned), ``more_configs`` (configurations still needed at full
    scale, NaN when more would not help) and ``recommended`` (per group: the confident strategy
    with the largest cost reduction) to a strategy table. Vectorised over rows."""
    value, low, _ = criterion_columns(table, criterion)
    configs = table["configs"].astype(float)
    table["meets"] = (value >= threshold - THRESHOLD_TOL) & value.notna()
    # tie-limited: either side has fewer distinct scores than a verdict needs configurations (a two-level
    # proxy's rho interval is tight, since resampling keeps its levels, yet its pick is a draw among ties)
    levels = np.minimum(table["proxy_levels"].astype(float), table["full_levels"].astype(float)) \
        if "proxy_levels" in table else configs
    table["tie_limited"] = levels < np.minimum(configs, MIN_CONFIGS_VERDICT)
    # most proxy runs did not beat the task's trivial baseline (the records' learned verdict): never endorsed
    table["did_not_learn"] = did_not_learn(table["not_learned_runs"], table["judged_runs"]) \
        if "judged_runs" in table else pd.Series(False, index=table.index)
    table["confident"] = (low >= threshold - THRESHOLD_TOL) & (configs >= MIN_CONFIGS_VERDICT) & low.notna() \
        & ~table["tie_limited"] & ~table["did_not_learn"]
    # the rho threshold equivalent to the criterion's (rho_rel: threshold x ceiling)
    rho_threshold = threshold * table["ceiling"].astype(float).where(value.ne(table["rho"]), 1.0) \
        if criterion == "rho_rel" else pd.Series(threshold, index=table.index, dtype=float)
    levels = table["confidence_level"].astype(float) if "confidence_level" in table else 0.95
    needed = [configs_needed(r, t, c) for r, t, c in
              zip(table["rho"].astype(float), rho_threshold, np.broadcast_to(levels, len(table)))]
    more = np.maximum(np.asarray(needed, float) - configs.to_numpy(), 1.0)
    # NaN where more would not help: confident already, not meeting, tied (more configurations keep the ties)
    # or not learning (more configurations of a proxy that learns nothing rank nothing)
    table["more_configs"] = np.where(table["confident"] | ~table["meets"] | table["tie_limited"]
                                     | table["did_not_learn"], np.nan, more)
    cost = table[f"cost_reduction_{cost_by}"].astype(float).fillna(-np.inf)
    # a proxy that costs the full run's or more is no proxy, however well it ranks (bf16 autocast on a CPU)
    score = cost.where(table["confident"] & ~not_cheaper(table, cost_by))
    levels_by = list(by)
    if levels_by and len(table):
        best = score.groupby(level=levels_by, dropna=False).transform("max")
    else:
        best = pd.Series(score.max(), index=table.index)
    first = score.eq(best) & table["confident"] & ~not_cheaper(table, cost_by)
    # one recommendation per group even when two strategies cost the same: the first in order
    rank = first.astype(int).groupby(level=levels_by, dropna=False).cumsum() if levels_by and len(table) \
        else first.astype(int).cumsum()
    table["recommended"] = first & rank.eq(1)
    return table


def not_cheaper(table: pd.DataFrame, cost_by: str) -> pd.Series:
    """True where a strategy's measured cost reduction is 1x or less (it costs what the full run does, or
    more); False where it is cheaper or its cost was not measured."""
    return table[f"cost_reduction_{cost_by}"].astype(float).le(1.0)


def _fmt_value(v: float) -> str:
    return f"{v:.2f}" if np.isfinite(v) else "n/a"


def _interval(row: pd.Series, low: float, high: float) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return " (no interval: fewer than 5 configurations)"
    return f" [{float(row.get('confidence_level', 0.95)):.0%} interval {low:.2f}, {high:.2f}]"


def recommend(table: pd.DataFrame, *, threshold: float = 0.8, criterion: str = "rho",
              cost_by: str = "time") -> Recommendation:
    """Pick from a ``compare_strategies`` table (one group): the largest cost reduction among
    strategies whose criterion (``rho``, or ``rho_rel`` = rho relative to the noise ceiling) clears
    ``threshold`` with its interval's lower bound, over at least MIN_CONFIGS_VERDICT configurations.
    Otherwise the sentence names the closest strategy and what more is needed."""
    _check_choice(threshold, criterion, cost_by)
    name = "rho relative to the noise ceiling" if criterion == "rho_rel" else "Spearman rho"
    if table.empty:
        return Recommendation(None, "No proxy strategy was compared.", threshold, criterion, cost_by)
    table = decide(table.copy(), threshold, criterion, cost_by)
    value, low, fallback = criterion_columns(table, criterion)
    scale = table["ceiling"].astype(float) if criterion == "rho_rel" else pd.Series(1.0, index=table.index)
    scale = scale.where(~fallback, 1.0)
    high = table["rho_high"].astype(float) / scale
    cost_col = f"cost_reduction_{cost_by}"

    def describe(pick: object) -> str:
        row = table.loc[pick]
        note = " (no noise ceiling: judged on rho)" if fallback[pick] else ""
        return (f"{name} {_fmt_value(value[pick])}{_interval(row, low[pick], high[pick])}{note} over "
                f"{int(row['configs'])} configurations")

    stuck = table["did_not_learn"].astype(bool)
    stuck_text = not_learned_text([str(s) for s in table.index[stuck]], table.loc[stuck, "not_learned_runs"],
                                  table.loc[stuck, "judged_runs"]) if stuck.any() else ""
    also = f" {stuck_text}" if stuck_text else ""
    if table["recommended"].any():
        pick = table.index[table["recommended"].to_numpy()][0]
        row = table.loc[pick]
        cheaper = f"{row[cost_col]:.3g}x cheaper ({cost_by})" if np.isfinite(row[cost_col]) else "cost not measured"
        text = (f"Recommended proxy: {pick}, {cheaper}; {describe(pick)}: the interval's lower bound clears the "
                f"threshold {threshold:.2f}.{also}")
        return Recommendation(str(pick), text, threshold, criterion, cost_by)
    if (table["configs"] == 0).all():
        return Recommendation(None, "No proxy configuration could be paired with a full-scale one (no shared config "
                                    "key), so nothing was compared.", threshold, criterion, cost_by)
    # a strategy whose runs mostly did not learn never "looks good", whatever its rho
    promising = table[table["meets"] & ~stuck]
    if len(promising):
        cost = promising[cost_col].astype(float).fillna(-np.inf)
        pick = cost.idxmax()
        row = table.loc[pick]
        reasons = []
        if not (np.isfinite(low[pick]) and low[pick] >= threshold - THRESHOLD_TOL):
            reasons.append(f"its interval's lower bound is below {threshold:.2f}")
        if row.get("tie_limited", False):
            reasons.append(f"its scores are too tied to tell configurations apart ({int(row['proxy_levels'])} "
                           f"distinct proxy and {int(row['full_levels'])} distinct full-scale scores; "
                           f"{MIN_CONFIGS_VERDICT} needed)")
        if row["configs"] < MIN_CONFIGS_VERDICT:
            reasons.append(f"fewer than {MIN_CONFIGS_VERDICT} configurations were compared")
        lead = "No confident recommendation yet"
        if not_cheaper(table, cost_by)[pick]:
            reasons.append(f"it is not cheaper than the full run ({row[cost_col]:.3g}x cheaper ({cost_by}))")
            lead = "No proxy to recommend" if len(reasons) == 1 else lead
        more = row["more_configs"]
        need = (f" About {int(more)} more configuration{'' if int(more) == 1 else 's'} at full scale (and at the proxy) would settle it if "
                f"{name} stays at {_fmt_value(value[pick])}." if np.isfinite(more) else "")
        text = f"{lead}: {pick} looks good ({describe(pick)}), but {' and '.join(reasons)}.{need}{also}"
        return Recommendation(None, text, threshold, criterion, cost_by)
    others = value[~stuck]
    best = others.idxmax() if others.notna().any() else None
    if stuck.any():  # said first and plainly: the rank agreement of runs that learned nothing is no evidence
        closest = (f" Of the others, none meets {name} >= {threshold:.2f}; the closest is {best} ({describe(best)})."
                   if best is not None else "")
        return Recommendation(None, f"No proxy to recommend. {stuck_text}{closest}", threshold, criterion, cost_by)
    detail = (f" The closest is {best} ({describe(best)})." if best is not None
              else " No strategy had three or more paired configurations.")
    return Recommendation(None, f"No proxy meets {name} >= {threshold:.2f}.{detail}", threshold, criterion, cost_by)


def group_summary(table: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Across groups, per strategy: groups, median and quartiles of rho, the share of groups where
    the estimate meets the threshold, where the verdict is confident, where it is recommended, and
    where most of its proxy runs did not learn."""
    strategies = table.index.get_level_values("strategy")
    grouped = table.groupby(strategies)
    out = pd.DataFrame({
        "groups": grouped.size(),
        "median_rho": grouped["rho"].median(),
        "rho_q25": grouped["rho"].quantile(0.25),
        "rho_q75": grouped["rho"].quantile(0.75),
        "median_configs": grouped["configs"].median(),
        "share_meets": grouped["meets"].mean(),
        "share_confident": grouped["confident"].mean(),
        "share_recommended": grouped["recommended"].mean(),
        # groups where most of the strategy's proxy runs did not learn (never recommended there)
        "share_did_not_learn": grouped["did_not_learn"].mean(),
        f"median_cost_reduction_{table.attrs.get('cost_by', 'time')}":
            grouped[f"cost_reduction_{table.attrs.get('cost_by', 'time')}"].median(),
    })
    out.index.name = "strategy"
    return out.sort_values("median_rho", ascending=False, kind="stable")


def comparison_table(proxy: pd.DataFrame, full: pd.DataFrame, settings: FidelitySettings, *, threshold: float,
                     criterion: str, cost_by: str, by: Sequence[str] = (),
                     pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """The strategy table of ``compare_strategies`` from validated inputs (``pairs`` reused if given)."""
    by = list(by)
    rows = [{**dict(zip(by, group)), **f.to_dict()} for group, f in fidelities(proxy, full, settings, by, pairs)]
    table = pd.DataFrame(rows)
    if table.empty:
        table = pd.DataFrame(columns=[*by, "strategy", "rho", "rho_rel", "rho_low", "rho_high", "configs",
                                      "ceiling", "confidence_level",
                                      *(f"cost_reduction_{c}" for c in COST_COLUMNS)])
    table = add_learned(table.set_index([*by, "strategy"]), proxy, by)
    order = [*by, f"cost_reduction_{cost_by}"]
    if by:
        table = table.reset_index().sort_values(order, ascending=[*([True] * len(by)), False], na_position="last",
                                                kind="stable").set_index([*by, "strategy"])
    else:
        table = table.sort_values(order[-1], ascending=False, na_position="last", kind="stable")
    table = decide(table, threshold, criterion, cost_by, by)
    table.attrs.update(threshold=threshold, criterion=criterion, cost_by=cost_by, by=by)
    if by:
        table.attrs["summary"] = group_summary(table, by)
    else:
        table.attrs["recommendation"] = recommend(table, threshold=threshold, criterion=criterion,
                                                  cost_by=cost_by).text
    return table


def compare_strategies(
    proxy: pd.DataFrame,
    full: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    threshold: float = 0.8,
    criterion: str = "rho",
    cost_by: str = "time",
    k: Sequence[int] = (1, 3, 5),
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    ci_method: str = "BCa",
    rng: int | None = 0,
) -> pd.DataFrame:
    """One row per proxy strategy (reduction_label), sorted by cost reduction (largest first).

    With ``by`` (column name(s) of the run frames, e.g. a dataset column): one row per (group,
    strategy), every group analysed in the same call, indexed by (by..., strategy); the summary
    across groups (``group_summary``) is in ``table.attrs["summary"]``.

    Columns: those of ``Fidelity.to_frame()``, plus ``not_learned_runs`` / ``judged_runs`` (the proxy
    runs' learned verdicts, ``learned.learned_counts``), ``meets`` (estimate >= threshold),
    ``did_not_learn`` (most judged proxy runs did not learn: never confident nor recommended),
    ``confident`` (interval's lower bound >= threshold, enough configurations), ``more_configs``
    and ``recommended``. Settings and, without ``by``, the recommendation sentence are in
    ``table.attrs``.
    """
    _check_choice(threshold, criterion, cost_by)
    settings = FidelitySettings(tuple(k), n_resamples, confidence_level, ci_method, rng)
    check_runs(proxy, "proxy")
    check_runs(full, "full")
    return comparison_table(proxy, full, settings, threshold=threshold, criterion=criterion, cost_by=cost_by,
                            by=as_columns(by))


__all__ = ["CRITERIA", "MIN_CONFIGS_VERDICT", "Recommendation", "compare_strategies", "configs_needed",
           "group_summary", "recommend"]

