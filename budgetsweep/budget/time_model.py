"""Predict a run's wall time from its planned work, calibrated on run records when there are any.

A job's wall time (``cost.measured.wall_seconds`` of its record: data, model, training, evaluation)
is modelled as ``overhead + per_step x steps + per_eval x evaluations + per_flop x (training FLOPs
+ evaluation FLOPs)``: a per-job set-up, a per-step cost that dominates small models (the optimizer
step, Python, kernel launches), a per-evaluation cost (metrics, the report, its history line) and a
cost per FLOP that dominates large ones. Evaluation is priced as a forward pass per
example evaluated (``RunPlan.eval_flops``), so a proxy whose evaluation dominates is predicted as
slow as it is.

Calibration: completed records of the same task and device kind that carry their evaluation FLOPs
(``info.eval_flops``, written since the planner priced evaluation) give (steps, evaluations, work,
seconds) points; with at least ``MIN_POINTS`` of them spanning a 2x range of work, non-negative least
squares (``scipy.optimize.nnls``, so no coefficient is negative) fits the four coefficients. With fewer
points, or a fit with no positive cost per step or FLOP, the defaults below are used and the model
says it is not calibrated. The fit minimises relative errors (rows weighted by 1/seconds), since
what the planner shows is a ratio of a short run's time to a long one's: predicted time factors
(proxy / full) are the output; absolute seconds are context.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MIN_POINTS = 3
# uncalibrated defaults: a small idle CPU (2 cores, fp32 PyTorch), where the per-step cost carries what
# small models spend outside matrix products. FLOP rate: the full charlm recipe (6.5e12 training FLOPs,
# analytic) takes about 180 s, i.e. about 35 GFLOP/s; the former 2 GFLOP/s predicted 3,490 s for it. Per
# step: the full digits recipe (1,010 steps, 4.5e9 FLOPs) takes about 2 s with its set-up, about 2 ms per
# step once the FLOPs are paid. About half a second of per-job set-up (data, model, FLOP count, record).
DEFAULT_OVERHEAD_SECONDS = 0.5
DEFAULT_SECONDS_PER_STEP = 2e-3
DEFAULT_SECONDS_PER_EVALUATION = 3e-3
DEFAULT_FLOPS_PER_SECOND = 35e9
MAX_RECORDS = 5000  # the newest records read from a folder; older ones add little to the fit


@dataclass(frozen=True)
class TimePoint:
    """One finished run: its steps, evaluations, work (training + evaluation FLOPs) and wall seconds."""

    steps: int
    evaluations: int
    flops: float
    seconds: float


@dataclass(frozen=True)
class TimeModel:
    overhead_seconds: float
    seconds_per_step: float
    seconds_per_evaluation: float
    seconds_per_flop: float
    calibrated: bool
    basis: str  # shown beside the factors: "calibrated on 12 records" or why not

    def seconds(self, steps: int, evaluations: int, flops: float) -> float:
        """Predicted wall seconds of a job of ``steps`` optimizer steps and ``evaluations`` evaluations
        doing ``flops`` (training + evaluation)."""
        return (self.overhead_seconds + self.seconds_per_step * steps + self.seconds_per_evaluation * evaluations
                + self.seconds_per_flop * flops)


def default_model(reason: str) -> TimeModel:
    return TimeModel(DEFAULT_OVERHEAD_SECONDS, DEFAULT_SECONDS_PER_STEP, DEFAULT_SECONDS_PER_EVALUATION,
                     1.0 / DEFAULT_FLOPS_PER_SECOND, False,
                     f"not calibrated ({reason}): seconds are a guess for an idle 2-core CPU, not this machine "
                     f"(defaults: {DEFAULT_OVERHEAD_SECONDS:g} s per job, {DEFAULT_SECONDS_PER_STEP * 1e3:g} ms per step, "
                     f"{DEFAULT_SECONDS_PER_EVALUATION * 1e3:g} ms per evaluation, {DEFAULT_FLOPS_PER_SECOND / 1e9:g} "
                     f"GFLOP/s); run a few jobs of this task here (their records under --records calibrate it)")


def fit(points: Iterable[TimePoint]) -> TimeModel:
    """Non-negative least squares of seconds on (1, steps, evaluations, FLOPs), or the defaults when there are too
    few points, their work spans less than 2x, or the fit prices neither steps nor FLOPs."""
    points = [p for p in points if p.flops > 0 and p.seconds > 0 and p.steps > 0]
    if len(points) < MIN_POINTS:
        return default_model(f"{len(points)} usable record(s), {MIN_POINTS} needed")
    flops = [p.flops for p in points]
    if max(flops) < 2 * min(flops):
        return default_model(f"{len(points)} records whose work spans less than 2x")
    import numpy as np
    from scipy.optimize import nnls

    columns = np.array([[1.0, p.steps, p.evaluations, p.flops] for p in points])
    seconds = np.array([p.seconds for p in points])
    scale = columns.max(axis=0)  # comparable columns: FLOPs are ~1e9 times steps
    # relative errors (each row divided by its seconds): a 50x proxy's time counts as much as a full run's,
    # since the planner's output is a ratio of the two
    coef, _ = nnls(columns / scale / seconds[:, None], np.ones(len(points)))
    overhead, per_step, per_eval, per_flop = (coef / scale).tolist()
    if per_step <= 0 and per_flop <= 0:
        return default_model(f"{len(points)} records give no positive time per step or FLOP")
    return TimeModel(overhead, per_step, per_eval, per_flop, True, f"calibrated on {len(points)} records")


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
            found.append(TimePoint(int(info["steps"]), int(info["evaluations"]),
                                   float(measured["flops"]) + float(info["eval_flops"]),
                                   float(measured["wall_seconds"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def calibrated(folder: str | Path, task: str, device_kind: str) -> TimeModel:
    """The time model for ``task`` on ``device_kind`` from the records under ``folder``."""
    return fit(record_points(folder, task, device_kind))
