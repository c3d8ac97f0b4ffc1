"""Why proxy and full runs share no configuration: the fields whose values differ between the sets.

The config key is a hash of the full recipe (every hyperparameter but the seed and how the run
is executed). When no key is shared, the comparison is empty and the full-scale compute was spent
for nothing; the fix is usually one field spelled differently (``train.epochs=10`` vs ``10.0``)
or a grid that differs. Values are compared as JSON, so 10 and 10.0 are different spellings.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from .load import flatten
from .schema import CONFIG_PREFIX

SAMPLE = 200  # record files read per set: enough to see every value of a grid, cheap on 100k runs
# not part of the key (recipe.HOW_NOT_WHAT, which analysis/ does not import)
IGNORED = {"seed", "train.device", "train.eval_every", "train.eval_budget_share", "train.save_checkpoint",
           "train.log_every_s"}


def _values(runs: pd.DataFrame) -> dict[str, set[str]]:
    """field -> the set of its JSON-encoded values over a sample of the runs: the full recipe of
    the record files when they can be read, else the config.* columns."""
    fields: dict[str, set[str]] = {}
    paths = runs["record_path"].dropna().unique().tolist() if "record_path" in runs else []
    for path in paths[:SAMPLE]:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        recipe: Any = data.get("full_recipe") or {}
        for name, value in flatten(recipe if isinstance(recipe, dict) else {}).items():
            if name not in IGNORED:
                fields.setdefault(name, set()).add(json.dumps(value, sort_keys=True, default=str))
    if fields:
        return fields
    for col in (c for c in runs.columns if c.startswith(CONFIG_PREFIX)):
        values = runs[col].dropna().head(10 * SAMPLE).tolist()
        fields[col[len(CONFIG_PREFIX):]] = {json.dumps(v, sort_keys=True, default=str) for v in values}
    return fields


def differing_fields(proxy: pd.DataFrame, full: pd.DataFrame, limit: int = 5) -> list[tuple[str, list[str], list[str]]]:
    """[(field, proxy values, full values)] for fields whose sets of values differ between the two
    sets of runs; fields with no value in common first, then by name; at most ``limit``."""
    a, b = _values(proxy), _values(full)
    out = []
    for name in sorted(set(a) | set(b)):
        pa, pb = a.get(name, set()), b.get(name, set())
        if pa != pb:
            out.append((not (pa & pb), name, sorted(pa)[:4], sorted(pb)[:4]))
    out.sort(key=lambda t: (not t[0], t[1]))
    return [(name, pa, pb) for _, name, pa, pb in out[:limit]]


def explain_no_overlap(proxy: pd.DataFrame, full: pd.DataFrame) -> str:
    """One sentence naming the fields that differ between proxy and full runs (for the report)."""
    n_proxy, n_full = proxy["config_key"].nunique(), full["config_key"].nunique()
    head = (f"The proxy runs ({n_proxy} configurations) and the full-scale runs ({n_full}) share no config key, "
            "so no configuration could be compared.")
    fields = differing_fields(proxy, full)
    if not fields:
        return head + " No field of the recipes differs in the records read; check that both sets come from the " \
                      "same task and code version."
    def show(values: list[str]) -> str:
        return ", ".join(values) if values else "(absent)"
    parts = [f"{name}: proxy {show(pa)} vs full {show(pb)}" for name, pa, pb in fields]
    return head + " Fields whose values differ between the two sets: " + "; ".join(parts) + "."
