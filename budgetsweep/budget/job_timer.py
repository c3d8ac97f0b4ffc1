"""The wall time of every job the budget sweeper launches, measured on the job's side.

Wall time is always known, even for an app that writes no ``record.json`` (a plain Hydra app, an
app written for hydra-optuna-sweeper): the sweeper hands the launcher its task function wrapped in
``TimedTask``, which times the call and writes ``budgetsweep_job.json`` into the job's output
directory. It is picklable, so joblib and submitit launchers carry it to other processes. The
sweeper reads it back with ``read_timing``. No Optuna or SQLAlchemy here: it runs in every job.
"""
from __future__ import annotations

import functools
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

TIMING_FILE = "budgetsweep_job.json"

_job_start: float | None = None  # perf_counter() when the timed task of this process began


def job_started() -> float | None:
    """``time.perf_counter()`` at the start of the job running in this process (``TimedTask``), or
    None outside a timed job. The run context measures from it, so the budget check and the
    charge read one clock, start-up (Hydra's job set-up, the app's imports and data) included."""
    return _job_start


class TimedTask:
    """``task_function`` with its wall time written to ``<output_dir>/budgetsweep_job.json``
    (``{"wall_seconds": float, "started_at": iso, "ended_at": iso}``), also when it raises."""

    def __init__(self, task_function: Callable[[Any], Any]) -> None:
        self.task_function = task_function
        functools.update_wrapper(self, task_function)

    def __call__(self, cfg: Any) -> Any:
        global _job_start
        started_at = datetime.now(timezone.utc).isoformat()
        start = _job_start = time.perf_counter()
        try:
            return self.task_function(cfg)
        finally:
            wall = time.perf_counter() - start
            _job_start = None
            try:
                from hydra.core.hydra_config import HydraConfig

                from budgetsweep.records import write_json_atomic

                out = HydraConfig.get().runtime.output_dir
                write_json_atomic(Path(out) / TIMING_FILE, {
                    "wall_seconds": wall, "started_at": started_at,
                    "ended_at": datetime.now(timezone.utc).isoformat()})
            except Exception:  # never let timing break a job; the trial is then charged its reservation
                pass


def read_timing(job_dir: str | None) -> float | None:
    """The job's measured wall seconds, or None when it left no readable timing file."""
    if not job_dir:
        return None
    try:
        data = json.loads((Path(job_dir) / TIMING_FILE).read_text(encoding="utf-8"))
        wall = float(data["wall_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return wall if wall >= 0 else None
