"""Experiment loggers fed by every run (issue 17 point 3): csv, tensorboard, mlflow, wandb.

Select with the ``logger`` config group, several at once: ``budgetsweep logger=[csv,tensorboard]``.
An own loop gets them from its config's ``logger`` node (``{name: {_target_: ...}}``) through
``budgetsweep.run_context``.
"""
from __future__ import annotations

from typing import Any, Mapping

from budgetsweep.loggers.base import MetricLogger, flatten, numeric

__all__ = ["MetricLogger", "build_loggers", "flatten", "numeric"]


def build_loggers(node: Mapping[str, Any] | None) -> list[MetricLogger]:
    """The loggers a config's ``logger`` node names, ``{name: {_target_: ..., **kwargs}}``; none for
    None or {}. Raises ValueError naming the entry without a ``_target_`` or not a MetricLogger."""
    if not node:
        return []
    from hydra.utils import instantiate

    loggers = []
    for name, spec in node.items():
        if not isinstance(spec, Mapping) or "_target_" not in spec:
            raise ValueError(f"logger.{name}={spec!r}: expected a mapping with _target_ "
                             f"(a budgetsweep.loggers class, e.g. budgetsweep.loggers.csv.CSVLogger)")
        made = instantiate(spec, _convert_="all")
        if not isinstance(made, MetricLogger):
            raise ValueError(f"logger.{name}._target_={spec['_target_']!r} is not a budgetsweep.loggers.MetricLogger")
        loggers.append(made)
    return loggers
