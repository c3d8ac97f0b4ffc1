"""Values made JSON-ready: auto-proxy's outputs are strict JSON (no NaN), read by any tool."""
from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any


def plain(value: Any) -> Any:
    """A JSON-ready scalar: NaN and infinities as None, numpy and pandas scalars as Python ones,
    enum members as their value."""
    if isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if value is not None and not isinstance(value, (str, bool, int, float)):
        try:  # pandas.NA and NaT
            import pandas as pd

            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def jsonable(obj: Any) -> Any:
    """``obj`` with every nested scalar through ``plain``; tuples become lists, mapping keys strings."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return plain(obj)
