"""Names for configurations that a reader can use: the hyperparameters that differ between them
(``lr=0.0081, hidden=512``), each at the fewest significant digits that keep distinct values
distinct; never a hash when the runs carry their config."""
from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .schema import CONFIG_PREFIX

MAX_LABEL = 60  # characters of a configuration label
MAX_DIGITS = 12


def _short_float(v: float, digits: int) -> str:
    text = f"{v:.{digits}g}"
    if "e" in text:
        mant, exp = text.split("e")
        text = f"{mant}e{int(exp)}"  # 3e-04 -> 3e-4
    return text


def digits_to_distinguish(values: Iterable[float]) -> int:
    """The fewest significant digits (1..MAX_DIGITS) at which distinct finite values print
    distinct: 0.0081 and 0.0078 need 2, 1e-3 and 3e-3 need 1."""
    distinct = sorted({float(v) for v in values if isinstance(v, (int, float, np.number)) and math.isfinite(v)})
    for digits in range(1, MAX_DIGITS + 1):
        if len({_short_float(v, digits) for v in distinct}) == len(distinct):
            return digits
    return MAX_DIGITS


def format_value(v: Any, digits: int = 3) -> str:
    """A config value as text: floats at ``digits`` significant digits, integral floats as ints."""
    if isinstance(v, (bool, np.bool_)) or v is None:
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return str(v)
        if float(v).is_integer() and abs(v) < 1e15:
            return str(int(v))
        return _short_float(float(v), digits)
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, default=str)
    return str(v)


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _varies_within_a_key(runs: pd.DataFrame, col: str) -> bool:
    """Whether runs of one config key hold different values of ``col``: then it is not part of what
    identifies a configuration (a setting that changes how, not what, is trained, such as
    ``train.eval_budget_share``, or a reduction's parameter) and must not name one."""
    try:
        counts = runs.groupby("config_key", sort=False)[col].nunique(dropna=False)
    except TypeError:  # unhashable values (lists): compare their JSON text
        text = runs[col].map(lambda v: json.dumps(v, default=str))
        counts = text.groupby(runs["config_key"], sort=False).nunique(dropna=False)
    return bool((counts > 1).any())


def config_labels(runs: pd.DataFrame) -> dict[str, str]:
    """{config_key: label} for every config key of ``runs`` (any strategy, usable or not).

    The label lists the config.* fields whose value is not the same for every configuration but
    the same for every run of one configuration (a field that differs between runs of one config
    key, e.g. ``train.eval_budget_share``, does not identify it), ``name=value`` joined by ", "
    (the field's last dotted part when that is unambiguous).
    A key whose runs carry no config, or whose label would repeat another's, keeps its key.
    """
    if runs.empty or "config_key" not in runs:
        return {}
    cols = [c for c in runs.columns if c.startswith(CONFIG_PREFIX)]
    per_key = runs.drop_duplicates("config_key").set_index("config_key")[cols] if cols else None
    keys = runs["config_key"].dropna().unique().tolist()
    if per_key is None or per_key.empty:
        return {str(k): str(k) for k in keys}
    varying = [c for c in cols if per_key[c].map(lambda v: json.dumps(v, default=str)).nunique() > 1
               and not _varies_within_a_key(runs, c)]
    if not varying:
        return {str(k): str(k) for k in keys}
    names = [c[len(CONFIG_PREFIX):] for c in varying]
    last = [n.rsplit(".", 1)[-1] for n in names]
    shown = last if len(set(last)) == len(last) else names
    digits = {c: digits_to_distinguish(per_key[c].dropna()) for c in varying}
    # column by column (a list of Python values each), not a Series per configuration
    columns = [[None if _is_missing(v) else f"{name}={format_value(v, digits[c])}" for v in per_key[c].tolist()]
               for name, c in zip(shown, varying)]
    labels = {}
    for key, *parts in zip(per_key.index.tolist(), *columns):
        text = ", ".join(p for p in parts if p is not None) or str(key)
        labels[str(key)] = text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"
    seen: dict[str, int] = {}
    for text in labels.values():
        seen[text] = seen.get(text, 0) + 1
    return {k: (v if seen[v] == 1 else f"{v} ({k})") for k, v in labels.items()}
