"""Built-in tasks (no download) and the Task protocol.

Names are imported on first use (PEP 562), so importing ``budgetsweep.tasks.base`` or planning a run
does not load torch and scikit-learn.
"""
from __future__ import annotations

import importlib

_WHERE = {"Task": "base", "TaskData": "base", "objective_direction": "base", "Digits": "digits",
          "TeacherStudent": "teacher_student", "subset_indices": "subset"}

__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
