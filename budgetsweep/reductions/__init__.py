"""Reductions: transforms recipe -> cheaper recipe, one strategy per module, chosen by ``_target_``.

Names are imported on first use (PEP 562): Hydra instantiates a strategy from its module path, so
planning a run loads only the strategies it names. A strategy ``FooBar`` lives in module
``foo_bar`` (so a new reduction needs no entry here); ``base``, ``support`` and ``runtime`` hold
the contract and shared helpers.
"""
from __future__ import annotations

import importlib
import pkgutil
import re

_BASE = ("Reduction", "apply_all", "reduction_label")
_NOT_STRATEGIES = ("base", "support", "runtime")

__all__ = list(_BASE) + sorted(
    "".join(part.title() for part in m.name.split("_")) for m in pkgutil.iter_modules(__path__)
    if m.name not in _NOT_STRATEGIES)


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = "base" if name in _BASE else re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
