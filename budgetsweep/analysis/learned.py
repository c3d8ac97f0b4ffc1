"""Which proxy strategies did not learn, read from the records' ``learned`` verdict.

A run's record says whether its objective beat the task's trivial baseline (class prior, unigram
entropy, mean predictor; ``budgetsweep.guards.learned_verdict`` decides it when the run ends). This
module only counts those verdicts per strategy; it never judges a run a second way. A strategy most
of whose judged runs did not learn is never endorsed by a verdict (``compare.decide``): ranking
near-chance losses is no evidence that a proxy ranks configurations as full scale would.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

# a strategy is ``did_not_learn`` when more than this share of its judged proxy runs did not learn
NOT_LEARNED_MAJORITY = 0.5
COUNT_COLUMNS = ("not_learned_runs", "judged_runs")


def learned_counts(proxy: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Per (by..., strategy): ``not_learned_runs`` (records saying ``not_learned``) and ``judged_runs``
    (records saying ``learned`` or ``not_learned``; ``unknown`` and records older than the verdict are
    not judged). Indexed by (by..., ``strategy``); empty when ``proxy`` has no ``learned`` column."""
    by = list(by)
    index = [*by, "strategy"]
    if "learned" not in proxy.columns or not len(proxy):
        return pd.DataFrame(columns=[*index, *COUNT_COLUMNS]).set_index(index)
    verdict = proxy["learned"]
    frame = proxy[by].assign(strategy=proxy["reduction_label"], not_learned_runs=verdict.eq("not_learned"),
                             judged_runs=verdict.isin(("learned", "not_learned")))
    return frame.groupby(index, sort=True, dropna=False)[list(COUNT_COLUMNS)].sum().astype(int)


def did_not_learn(not_learned_runs: pd.Series, judged_runs: pd.Series) -> pd.Series:
    """True where most judged runs did not learn (more than ``NOT_LEARNED_MAJORITY`` of them)."""
    judged = judged_runs.fillna(0).astype(float)
    return (judged > 0) & (not_learned_runs.fillna(0).astype(float) > NOT_LEARNED_MAJORITY * judged)


def add_learned(table: pd.DataFrame, proxy: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """``table`` (indexed by (by..., strategy)) with ``not_learned_runs`` and ``judged_runs`` joined in
    (0 where a strategy has no judged run)."""
    counts = learned_counts(proxy, by)
    for column in COUNT_COLUMNS:
        table[column] = counts[column].reindex(table.index).fillna(0).astype(int) if len(counts) \
            else pd.Series(0, index=table.index, dtype=int)
    return table


def not_learned_text(names: Sequence[str], not_learned: Sequence[int], judged: Sequence[int]) -> str:
    """One sentence saying plainly which strategies did not learn, with their counts."""
    parts = [f"{name} ({n} of {m} judged proxy runs)" for name, n, m in zip(names, not_learned, judged)]
    one = len(parts) == 1
    return (f"Most runs of {' and '.join(parts) if len(parts) <= 2 else ', '.join(parts)} did not learn: their "
            f"objective did not beat the task's trivial baseline (class prior, unigram entropy or mean predictor; "
            f"the records' learned verdict), so {'its' if one else 'their'} ranking is no evidence and "
            f"{'it is' if one else 'they are'} not recommended.")


__all__ = ["NOT_LEARNED_MAJORITY", "add_learned", "did_not_learn", "learned_counts", "not_learned_text"]
