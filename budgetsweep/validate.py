"""The checks recipes and reductions repeat, each with one error message shape.

Every failure is a ``ValueError`` reading ``<key>=<value> is not allowed; <key> must be <allowed>``,
so a bad config names the key, the value given and what is allowed, whoever checks it
(``budgetsweep.recipe``'s specs, the reductions' constructors). Each check returns the value as
stored (a number as float, an integral number as int).
"""
from __future__ import annotations

import math
from typing import Any, NoReturn


def fail(key: str, value: Any, allowed: str) -> NoReturn:
    raise ValueError(f"{key}={value!r} is not allowed; {key} must be {allowed}")


def require(ok: bool, key: str, value: Any, allowed: str) -> None:
    """Raise the standard error unless ``ok``."""
    if not ok:
        fail(key, value, allowed)


def choice(key: str, value: Any, allowed: tuple) -> Any:
    """``value`` if it is one of ``allowed``."""
    require(value in allowed, key, value, f"one of {allowed}")
    return value


def number(key: str, value: Any, low: float, high: float, *, low_open: bool = True,
           high_open: bool = False) -> float:
    """A finite float in the interval (open or closed at either end); bools are no numbers."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    allowed = f"a number in {left}{low}, {high}{right}"
    if isinstance(value, bool):
        fail(key, value, allowed)
    try:
        x = float(value)
    except (TypeError, ValueError):
        fail(key, value, allowed)
    ok = math.isfinite(x) and (low < x if low_open else low <= x) and (x < high if high_open else x <= high)
    require(ok, key, value, allowed)
    return x


def integer(key: str, value: Any, minimum: int = 0) -> int:
    """An int (not a bool) >= ``minimum``."""
    require(isinstance(value, int) and not isinstance(value, bool) and value >= minimum, key, value,
            f"an integer >= {minimum}")
    return value


def boolean(key: str, value: Any) -> bool:
    require(isinstance(value, bool), key, value, "true or false")
    return value


def path_string(key: str, value: Any, what: str = "a directory path") -> str:
    """A non-empty string naming a file or directory."""
    require(isinstance(value, str) and bool(value), key, value, what)
    return value
