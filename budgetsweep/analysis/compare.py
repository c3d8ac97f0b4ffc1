"""Several proxy strategies against one full set: a table, and the cheapest proxy that is good enough."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .fidelity import FidelitySettings, fidelities
from .schema import COST_COLUMNS, check_runs

CRITERIA = ("rho", "rho_rel")


def _check_choice(threshold: float, criterion: str, cost_by: str) -> None:
    if not isinstance(threshold, (int, float)) or not -1 <= threshold <= 1 or math.isnan(threshold):
        raise ValueError(f"threshold={threshold!r}; must be a rank correlation in [-1, 1], e.g. 0.8")
    if criterion not in CRITERIA:
        raise ValueError(f"criterion={criterion!r}; allowed: {CRITERIA}")
    if cost_by not in COST_COLUMNS:
        raise ValueError(f"cost_by={cost_by!r}; allowed: {tuple(COST_COLUMNS)}")


@dataclass(frozen=True)
class Recommendation:
    """The cheapest strategy whose criterion meets the threshold, or None, with a sentence saying so."""

    strategy: str | None
    text: str
    threshold: float
    criterion: str
    cost_by: str

    def __str__(self) -> str:
        return self.text


def _criterion_values(table: pd.DataFrame, criterion: str) -> tuple[pd.Series, pd.Series]:
    """The criterion per strategy; with rho_rel, rho stands in where there is no ceiling (flagged)."""
    if criterion == "rho":
        return table["rho"], pd.Series(False, index=table.index)
    fallback = table["rho_rel"].isna() & table["rho"].notna()
    return table["rho_rel"].where(~fallback, table["rho"]), fallback


def recommend(table: pd.DataFrame, *, threshold: float = 0.8, criterion: str = "rho",
              cost_by: str = "time") -> Recommendation:
    """Pick from a ``compare_strategies`` table: the largest cost reduction among strategies whose
    ``criterion`` (``rho``, or ``rho_rel`` = rho relative to the noise ceiling) is >= ``threshold``."""
    _check_choice(threshold, criterion, cost_by)
    cost_col = f"cost_reduction_{cost_by}"
    value, fallback = _criterion_values(table, criterion)
    meets = value.ge(threshold) & value.notna()
    name = "rho relative to the noise ceiling" if criterion == "rho_rel" else "Spearman rho"
    if table.empty:
        return Recommendation(None, "No proxy strategy was compared.", threshold, criterion, cost_by)
    if not meets.any():
        best = value.idxmax() if value.notna().any() else None
        detail = (f" The closest is {best} ({name} {value[best]:.2f} over {int(table.loc[best, 'configs'])} "
                  "configurations)." if best is not None else " No strategy had enough paired configurations.")
        return Recommendation(None, f"No proxy meets {name} >= {threshold:.2f}.{detail}", threshold, criterion,
                              cost_by)
    candidates = table[meets]
    reduction = candidates[cost_col].fillna(-np.inf)
    pick = reduction.idxmax()
    row = table.loc[pick]
    cheaper = f"{row[cost_col]:.1f}x cheaper ({cost_by})" if np.isfinite(row[cost_col]) else "cost not measured"
    interval = ""
    if np.isfinite(row["rho_low"]):
        interval = f", {row['confidence_level']:.0%} interval of rho [{row['rho_low']:.2f}, {row['rho_high']:.2f}]"
    note = " (no noise ceiling: judged on rho)" if fallback[pick] else ""
    text = (f"Recommended proxy: {pick}, {cheaper}; {name} {value[pick]:.2f} >= {threshold:.2f}{note} "
            f"over {int(row['configs'])} configurations{interval}.")
    return Recommendation(str(pick), text, threshold, criterion, cost_by)


def compare_strategies(
    proxy: pd.DataFrame,
    full: pd.DataFrame,
    *,
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

    Columns: those of ``Fidelity.to_frame()``, plus ``meets`` (criterion >= threshold) and
    ``recommended`` (the row ``recommend`` picks). The settings are in ``table.attrs``.
    """
    _check_choice(threshold, criterion, cost_by)
    settings = FidelitySettings(tuple(k), n_resamples, confidence_level, ci_method, rng)
    check_runs(proxy, "proxy")
    check_runs(full, "full")
    rows = [f.to_dict() for f in fidelities(proxy, full, settings)]
    table = pd.DataFrame(rows)
    if table.empty:
        table = pd.DataFrame(columns=["strategy", "rho", "rho_rel", "rho_low", "rho_high", "configs",
                                      "confidence_level", *(f"cost_reduction_{c}" for c in COST_COLUMNS)])
    table = table.set_index("strategy")
    table = table.sort_values(f"cost_reduction_{cost_by}", ascending=False, na_position="last", kind="stable")
    value, _ = _criterion_values(table, criterion)
    table["meets"] = value.ge(threshold) & value.notna()
    choice = recommend(table, threshold=threshold, criterion=criterion, cost_by=cost_by)
    table["recommended"] = table.index == choice.strategy
    table.attrs.update(threshold=threshold, criterion=criterion, cost_by=cost_by, recommendation=choice.text)
    return table
