"""What every experiment logger receives (issue 17 point 3).

A logger gets the same rows as ``metrics.jsonl`` (step and metrics, as ``RunContext.report``
writes them), the run's configuration at the start and the record's summary at the end. Loggers
are chosen with the ``logger`` config group (``logger=[csv,tensorboard]``) and built by
:func:`budgetsweep.loggers.build_loggers`; a run's record never depends on them.
"""
from __future__ import annotations

import json
from typing import Any, Mapping


class MetricLogger:
    """Base class: override what the backend needs. ``run_dir`` is the job's output folder."""

    name = "logger"

    def start(self, run_dir: str, run_name: str, config: Mapping[str, Any]) -> None:
        """Before the first step; ``config`` is the flattened configuration (dotted keys)."""

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        """One row of metrics.jsonl: numeric metrics at optimizer step ``step``."""

    def finish(self, status: str, summary: Mapping[str, Any]) -> None:
        """After the record is written: its status (completed, pruned, budget_stopped, failed)
        and summary (objective, final metrics, measured cost, learned verdict)."""


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 0.1}}`` -> ``{"optim.lr": 0.1}``; lists become JSON text."""
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    if isinstance(node, (list, tuple)):
        return {prefix[:-1]: json.dumps(list(node))}
    return {prefix[:-1]: node}


def numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The metrics a backend can plot: finite or not, numbers only (bools and text dropped)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
