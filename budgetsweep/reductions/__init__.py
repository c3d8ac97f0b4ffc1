"""Reductions: transforms recipe -> cheaper recipe, one strategy per module, chosen by ``_target_``.

Names are imported on first use (PEP 562): Hydra instantiates a strategy from its module path, so
planning a run loads only the strategies it names.
"""
from __future__ import annotations

import importlib

_WHERE = {"Reduction": "base", "apply_all": "base", "reduction_label": "base", "Full": "full",
          "DataSubset": "data_subset", "BatchScaling": "batch_scaling", "ShortSchedule": "short_schedule",
          "MixedPrecision": "mixed_precision", "Progressive": "progressive", "Curriculum": "curriculum",
          "Distill": "distill", "Transfer": "transfer", "SyntheticData": "synthetic_data",
          "ModelScale": "model_scale", "QuantizedEval": "quantized_eval"}

__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
