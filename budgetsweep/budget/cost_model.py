"""Predict a trial's cost before it runs; calibrate gpu_hours on the study's finished trials.

- ``examples`` and ``flops``: the plan's analytic work (examples x per-example FLOPs), exact.
- ``gpu_hours``: the plan's FLOPs x device-seconds per FLOP. Trials of one study may run at rungs
  of very different cost (DESIGN section 12), so the rate is calibrated per reduction label first
  (median of measured device-seconds / FLOPs of that label's completed trials: a ratio at one rung
  absorbs that rung's fixed overhead), then across labels (least squares seconds = a + b x FLOPs
  when three or more trials span a 2x range of FLOPs, pruned ones included, else the median ratio
  of completed trials), and before any trial completed from a deliberately slow default:
  ``assumed_overhead_seconds + flops / assumed_flops_per_second``, raised to what unfinished trials
  took. A safety margin is added on top, since a reservation that is too small stops the job.
- No plan (an app without a ``task``): the median actual cost of completed trials, else
  ``default_trial_cost``.
"""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from budgetsweep.budget.units import check_unit


class CostModelError(ValueError):
    """No prediction is possible; the message says which setting would make one."""


@dataclass(frozen=True)
class Work:
    """What a trial will do, from its plan."""

    label: str
    examples: float | None = None
    flops: float | None = None


@dataclass(frozen=True)
class Observation:
    """What a finished trial did: its charged cost and, when a record was read, its measured work."""

    label: str
    cost: float
    completed: bool = True
    flops: float = 0.0
    device_seconds: float = 0.0


@dataclass(frozen=True)
class Prediction:
    cost: float
    basis: str  # how it was made, shown in the summary: plan, calibrated:<label>, default, ...


class CostModel:
    def __init__(self, unit: str, *, safety_margin: float = 0.25, assumed_flops_per_second: float = 1e9,
                 assumed_overhead_seconds: float = 10.0, default_trial_cost: float | None = None,
                 min_fit_points: int = 3) -> None:
        self.unit = check_unit(unit)
        if safety_margin < 0:
            raise ValueError(f"safety_margin={safety_margin!r} is not allowed; it must be >= 0")
        if assumed_flops_per_second <= 0:
            raise ValueError(f"assumed_flops_per_second={assumed_flops_per_second!r}; it must be > 0")
        if default_trial_cost is not None and default_trial_cost <= 0:
            raise ValueError(f"default_trial_cost={default_trial_cost!r}; it must be > 0 or None")
        self.safety_margin = safety_margin
        self.assumed_flops_per_second = assumed_flops_per_second
        self.assumed_overhead_seconds = assumed_overhead_seconds
        self.default_trial_cost = default_trial_cost
        self.min_fit_points = min_fit_points

    def predict(self, work: Work | None, history: Sequence[Observation] = ()) -> Prediction:
        if work is not None and self.unit == "examples" and work.examples is not None:
            return Prediction(float(work.examples), "plan")
        if work is not None and self.unit == "flops" and work.flops is not None:
            return Prediction(float(work.flops), "plan")
        if work is not None and self.unit == "gpu_hours" and work.flops is not None:
            seconds, basis = self._device_seconds(work, history)
            return Prediction(seconds / 3600.0 * (1.0 + self.safety_margin), basis)
        return self._from_history(work.label if work is not None else None, history)

    # -- gpu_hours ----------------------------------------------------------------------
    def _device_seconds(self, work: Work, history: Sequence[Observation]) -> tuple[float, str]:
        flops = float(work.flops)
        points = [o for o in history if o.flops > 0 and o.device_seconds > 0]
        done = [o for o in points if o.completed]
        same = [o.device_seconds / o.flops for o in done if o.label == work.label]
        if same:
            return flops * statistics.median(same), f"calibrated:{work.label} (n={len(same)})"
        fit = self._affine_fit(points)
        if fit is not None:
            a, b = fit
            return a + b * flops, f"calibrated:all labels, fit (n={len(points)})"
        if done:
            rate = statistics.median(o.device_seconds / o.flops for o in done)
            return flops * rate, f"calibrated:all labels (n={len(done)})"
        default = self.assumed_overhead_seconds + flops / self.assumed_flops_per_second
        if points:
            # only stopped or pruned trials so far: their work was partial, so a rate per FLOP would
            # spread a full run's fixed overhead over part of its work; they do show that a trial
            # takes at least that long
            floor = statistics.median(o.device_seconds for o in points) + flops / self.assumed_flops_per_second
            return max(default, floor), f"default, floor from {len(points)} unfinished trials"
        return default, "default"

    def _affine_fit(self, points: Sequence[Observation]) -> tuple[float, float] | None:
        """Least squares seconds = a + b x flops; None unless it is well posed and physical."""
        if len(points) < self.min_fit_points:
            return None
        xs = [o.flops for o in points]
        ys = [o.device_seconds for o in points]
        if max(xs) < 2 * min(xs):
            return None
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
        a = my - b * mx
        if b <= 0 or a < 0:
            return None
        return a, b

    # -- no plan ------------------------------------------------------------------------
    def _from_history(self, label: str | None, history: Sequence[Observation]) -> Prediction:
        done = [o.cost for o in history if o.completed and o.cost > 0]
        same = [o.cost for o in history if o.completed and o.cost > 0 and o.label == label]
        margin = 1.0 + self.safety_margin if self.unit == "gpu_hours" else 1.0
        if same:
            return Prediction(statistics.median(same) * margin, f"history:{label} (n={len(same)})")
        if done:
            return Prediction(statistics.median(done) * margin, f"history (n={len(done)})")
        if self.default_trial_cost is not None:
            return Prediction(float(self.default_trial_cost), "default_trial_cost")
        raise CostModelError(
            f"cannot predict the cost of a trial in unit {self.unit!r}: the app's config has no plan "
            "(no `task` for budgetsweep.plan.plan_run) and no trial has completed yet; set "
            "hydra.sweeper.budget.default_trial_cost to a number > 0 (the cost of one trial in that unit)"
        )
