"""Predict a run's wall time from its planned work, calibrated on run records when there are any.

A job's wall time (``cost.measured.wall_seconds`` of its record: data, model, training, evaluation)
is modelled as ``overhead + seconds_per_flop x (training FLOPs + evaluation FLOPs)``; evaluation is
priced as a forward pass per example evaluated (``RunPlan.eval_flops``), so a proxy whose evaluation
dominates is predicted as slow as it is.

Calibration: completed records of the same task and device kind that carry their evaluation FLOPs
(``info.eval_flops``, written since the planner priced evaluation) give (work, seconds) points; with
at least ``MIN_POINTS`` of them spanning a 2x range of work, a least-squares line
(``scipy.stats.linregress``) with a positive slope and a non-negative intercept is the model. With
fewer, or an unphysical fit, the defaults below are used and the model says it is not calibrated.
Predicted time factors (proxy / full) are what the planner shows; absolute seconds are context.
"""
from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MIN_POINTS = 3
# uncalibrated defaults: a small CPU (2 cores, fp32 PyTorch: about 2 GFLOP/s for small models) and
# about half a second of per-job set-up (data, model, FLOP count, record) measured on digits
DEFAULT_OVERHEAD_SECONDS = 0.5
DEFAULT_FLOPS_PER_SECOND = 2e9
MAX_RECORDS = 5000  # the newest records read from a folder; older ones add little to a line fit


@dataclass(frozen=True)
class TimePoint:
    """One finished run: its work (training + evaluation FLOPs) and its measured wall seconds."""

    flops: float
    seconds: float


@dataclass(frozen=True)
class TimeModel:
    overhead_seconds: float
    seconds_per_flop: float
    calibrated: bool
    basis: str  # shown beside the factors: "calibrated on 12 records" or why not

    def seconds(self, flops: float) -> float:
        """Predicted wall seconds of a job doing ``flops`` (training + evaluation)."""
        return self.overhead_seconds + self.seconds_per_flop * flops


def default_model(reason: str) -> TimeModel:
    return TimeModel(DEFAULT_OVERHEAD_SECONDS, 1.0 / DEFAULT_FLOPS_PER_SECOND, False,
                     f"not calibrated ({reason}); defaults: {DEFAULT_OVERHEAD_SECONDS:g} s per job, "
                     f"{DEFAULT_FLOPS_PER_SECOND / 1e9:g} GFLOP/s")


def fit(points: Iterable[TimePoint]) -> TimeModel:
    """A line through (FLOPs, seconds), or the defaults when there are too few points or the line is
    unphysical (slope <= 0, intercept < 0)."""
    points = [p for p in points if p.flops > 0 and p.seconds > 0]
    if len(points) < MIN_POINTS:
        return default_model(f"{len(points)} usable record(s), {MIN_POINTS} needed")
    xs, ys = [p.flops for p in points], [p.seconds for p in points]
    if max(xs) < 2 * min(xs):
        return default_model(f"{len(points)} records whose work spans less than 2x")
    from scipy.stats import linregress

    line = linregress(xs, ys)
    if line.slope <= 0:
        return default_model(f"{len(points)} records give no positive time per FLOP")
    overhead = float(line.intercept)
    if overhead < 0:  # no negative set-up time: a line through the origin (median rate)
        return TimeModel(0.0, statistics.median(y / x for x, y in zip(xs, ys)), True,
                         f"calibrated on {len(points)} records (rate only)")
    return TimeModel(overhead, float(line.slope), True, f"calibrated on {len(points)} records")


def record_points(folder: str | Path, task: str, device_kind: str) -> list[TimePoint]:
    """(work, seconds) of completed records under ``folder`` for ``task`` on ``device_kind``;
    unreadable or older records (no ``info.eval_flops``) are skipped."""
    root = Path(folder)
    if not root.is_dir():
        return []
    paths = sorted(root.rglob("record.json"), key=lambda p: p.stat().st_mtime, reverse=True)[:MAX_RECORDS]
    found = []
    for path in paths:
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
            measured, info = rec["cost"]["measured"], rec.get("info") or {}
            if (rec.get("status") != "completed" or (rec.get("config") or {}).get("task") != task
                    or measured.get("device_kind") != device_kind or info.get("eval_flops") is None):
                continue
            found.append(TimePoint(float(measured["flops"]) + float(info["eval_flops"]),
                                   float(measured["wall_seconds"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def calibrated(folder: str | Path, task: str, device_kind: str) -> TimeModel:
    """The time model for ``task`` on ``device_kind`` from the records under ``folder``."""
    return fit(record_points(folder, task, device_kind))
