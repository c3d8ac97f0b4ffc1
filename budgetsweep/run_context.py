"""The job side of a run: metrics history, cost metering, stopping, and the run record.

One path for every run: the built-in trainer reports through a ``RunContext`` exactly as a
user's own loop would. Used as a context manager; on exit it writes ``record.json`` atomically
with the status the run ended in.
"""
from __future__ import annotations

import json
import math
import platform
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from budgetsweep.records import (METRICS_FILE, Cost, MeasuredCost, Objective, RunRecord, write_record)


class StopRun(Exception):
    """Raised by ``report`` to end a run early; the record gets ``status``."""

    status = "stopped"


class TrialPruned(StopRun):
    status = "pruned"


class BudgetStopped(StopRun):
    status = "budget_stopped"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    import budgetsweep

    found = {"budgetsweep": budgetsweep.__version__, "python": platform.python_version()}
    try:
        import torch

        found["torch"] = torch.__version__
    except ImportError:  # a user's run context need not use torch
        pass
    return found


class RunContext:
    def __init__(self, run_dir: str | Path, *, objective: Objective, identity: dict[str, Any],
                 trial_link=None, device_kind: str = "cpu", device_count: int = 1) -> None:
        """``identity`` holds the record fields fixed before the run: config_key, config,
        overrides, recipe, full_recipe, reductions, reduction_label, seed, predicted_factor,
        and optionally predicted (the sweeper's reservation) and trial."""
        self.run_dir = Path(run_dir)
        self.objective = objective
        self.identity = dict(identity)
        self.trial_link = trial_link
        self.measured = MeasuredCost(device_kind=device_kind, device_count=device_count)
        self.metrics: dict[str, float] = {}
        self.artifacts: dict[str, str] = {}
        self.info: dict[str, Any] = {}
        self.status = "running"
        self.error: str | None = None
        self._t0 = 0.0
        self._started = None
        self._history = None

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> "RunContext":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._t0 = time.perf_counter()
        self._started = _now()
        self._history = open(self.run_dir / METRICS_FILE, "a", encoding="utf-8", buffering=1)
        self._write("running")  # a record left 'running' tells a reader the job died
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._tick()
        if exc is None:
            status = "completed"
        elif isinstance(exc, StopRun):
            status = exc.status
        else:
            status = "failed"
            self.error = "".join(traceback.format_exception_only(exc_type, exc)).strip()
        self._history.close()
        self._write(status, ended=True)
        return isinstance(exc, StopRun)  # an early stop is an outcome, not an error

    # -- during the run -----------------------------------------------------------------
    def add_cost(self, examples: int = 0, flops: float = 0.0) -> None:
        self.measured.examples += int(examples)
        self.measured.flops += float(flops)

    def report(self, step: int, metrics: dict[str, float]) -> None:
        """Append to metrics.jsonl; ask the sweeper's trial whether to go on."""
        self._tick()
        row = {"step": step, "examples": self.measured.examples, **metrics,
               "wall_seconds": round(self.measured.wall_seconds, 4)}
        self._history.write(json.dumps(row) + "\n")
        self.metrics.update({k: v for k, v in metrics.items() if k not in ("epoch", "lr")})
        value = metrics.get(self.objective.name)
        if value is not None:
            self.objective.value = float(value)
        link = self.trial_link
        if link is None:
            return
        if value is not None:
            link.report(step, float(value))
            if link.should_prune():
                raise TrialPruned(f"pruned by the sweeper's pruner at step {step}")
        if link.over_budget(self.measured):
            raise BudgetStopped(f"measured cost passed the reservation at step {step}")

    def finish(self, metrics: dict[str, float]) -> None:
        self.metrics.update(metrics)
        value = metrics.get(self.objective.name)
        if value is not None:
            self.objective.value = float(value)

    def objective_value(self) -> float:
        value = self.objective.value
        return float("nan") if value is None or self.status == "failed" else value

    # -- internals ----------------------------------------------------------------------
    def _tick(self) -> None:
        self.measured.wall_seconds = time.perf_counter() - self._t0

    def _write(self, status: str, ended: bool = False) -> None:
        self.status = status
        ident = self.identity
        value = self.objective.value
        if value is not None and not math.isfinite(value):
            value = None
        record = RunRecord(
            status=status,
            config_key=ident["config_key"],
            config=ident.get("config", {}),
            overrides=ident.get("overrides", []),
            recipe=ident.get("recipe", {}),
            full_recipe=ident.get("full_recipe", {}),
            reductions=ident.get("reductions", []),
            reduction_label=ident.get("reduction_label", "full"),
            seed=ident.get("seed", 0),
            objective=Objective(self.objective.name, self.objective.direction, value),
            metrics=self.metrics,
            cost=Cost(predicted_factor=ident.get("predicted_factor", 1.0), predicted=ident.get("predicted"),
                      measured=self.measured),
            versions=versions(),
            started_at=self._started,
            ended_at=_now() if ended else None,
            error=self.error,
            trial=ident.get("trial"),
            artifacts=self.artifacts,
            info=self.info,
        )
        write_record(self.run_dir, record)
