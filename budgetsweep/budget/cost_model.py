"""Predict a trial's cost before it runs; calibrate gpu_hours on the study's finished trials.

- ``examples`` and ``flops``: the plan's analytic work (examples x per-example FLOPs), exact.
- ``gpu_hours``: the plan's FLOPs (training and evaluation: ``Work.eval_flops``, records'
  ``info.eval_flops``) x device-seconds per FLOP. Trials of one study may run at rungs
  of very different cost (DESIGN section 12), so it is calibrated per reduction label first, from
  that label's completed and budget-stopped trials (a stopped trial's seconds over the work it did
  are as good a measurement as a completed one's): seconds = a + b x FLOPs, the slope b shared by
  every label (one device; least squares within labels once a label's trials span 2x of work, as a
  search over model width does) and the intercept a the label's own fixed cost. A pure ratio
  seconds / FLOPs learned on small models charges their fixed cost per FLOP and predicted a wide
  model 12x too slow, so trials that fit were refused; without a slope the ratio is trusted only up
  to ``RATIO_REACH`` x the work it was measured on, and work beyond is priced at no more than
  ``assumed_flops_per_second``. Then across labels (least squares seconds = a + b x FLOPs
  when three or more trials span a 2x range of FLOPs, pruned ones included, else the median ratio
  of completed trials), and before any trial completed from a deliberately slow default:
  ``assumed_overhead_seconds + flops / assumed_flops_per_second``, raised to what unfinished trials
  took.
- No plan (an app without a ``task``): from the *measured* costs of earlier trials, else
  ``default_trial_cost``. A cost the sweeper only assumed (a job without a record, charged its
  reservation) is never learned from, so predictions cannot compound. A ``budget_stopped`` trial is
  a censored observation: its true cost is above what it spent. With no completed trial yet the
  next prediction is twice the largest such cost (so a guess k times too low recovers after about
  log2(k) stopped trials); afterwards no prediction is below the largest stopped cost x
  (1 + safety_margin). Such predictions carry a ``floor`` (the smallest plausible cost: the
  largest stopped cost, or what completed trials cost), down to which the sweeper may cut a
  reservation that does not fit rather than stop with budget left.
- ``gpu_hours`` predictions are never below the median measured start-up (job start to the run's
  start) x (1 + safety_margin); a measured start-up replaces ``assumed_overhead_seconds``.

Margins come from the measured spread: with three or more measurements (costs, or rates per FLOP)
the prediction is the one-sided 90% upper prediction bound of a log-normal fit (Student t,
``scipy.stats.t``), never below the median; with fewer, the largest x (1 + safety_margin). Time
is noisy, so ``gpu_hours`` predictions are also at least the median x (1 + safety_margin).
"""
from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from budgetsweep.budget.units import Unit, check_unit


@functools.lru_cache(maxsize=None)
def _t90(dof: int) -> float:
    """Student t's 90% quantile (``scipy.stats.t``), cached: one ppf per degree of freedom."""
    from scipy.stats import t  # only once there is a spread to measure

    return float(t.ppf(0.9, dof))


# beyond this many times the largest work a rung's seconds per FLOP was measured on, that ratio (which
# carries the rung's fixed cost) is not trusted to price the extra work
RATIO_REACH = 2.0


class CostModelError(ValueError):
    """No prediction is possible; the message says which setting would make one."""


@dataclass(frozen=True)
class Work:
    """What a trial will do, from its plan."""

    label: str
    examples: float | None = None
    flops: float | None = None  # training FLOPs: the flops unit's charge
    eval_flops: float = 0.0  # evaluation's forward passes: device time, not the flops unit


@dataclass(frozen=True)
class Observation:
    """What a finished trial did: its charged cost and, when a record was read, its measured work.

    ``measured``: the cost was measured (a record, or the job's wall time), not assumed (a job
    without a record in a unit the sweeper cannot measure is charged its reservation).
    ``censored``: the trial was stopped at its reservation (``budget_stopped``): its true cost is
    above ``cost``."""

    label: str
    cost: float
    completed: bool = True
    flops: float = 0.0
    device_seconds: float = 0.0
    measured: bool = True
    censored: bool = False
    startup_seconds: float = 0.0  # job start to the run's start (imports, data): part of every trial's time


@dataclass(frozen=True)
class Prediction:
    """``cost``: what to reserve. ``floor``: the smallest reservation that is still plausible (set
    after budget-stopped trials only: just their largest cost, which the true cost is above); the
    sweeper may cut a reservation that does not fit down to what is left, but never below it."""

    cost: float
    basis: str  # how it was made, shown in the summary: plan, calibrated:<label>, default, ...
    floor: float | None = None


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

    def upper(self, values: Sequence[float], *, noisy: bool) -> tuple[float, str]:
        """A reservation for one more draw of ``values`` (all > 0): the one-sided 90% upper
        prediction bound of a log-normal fit, exp(m + t(0.9, n-1) s sqrt(1 + 1/n)) with m, s the
        mean and sd of log values (never below the median); under three values (no spread worth
        the name): the largest x (1 + safety_margin), or the value itself when two exact ones agree.
        ``noisy`` (time): also at least median x (1 + safety_margin). Returns (value, margin text)."""
        values = [float(v) for v in values]
        n = len(values)
        median = statistics.median(values)
        if n < 3:  # too few to measure a spread: the largest, with the configured margin
            if n == 2 and values[0] == values[1] and not noisy:
                return values[0], "two equal measurements"
            return max(values) * (1.0 + self.safety_margin), f"+{self.safety_margin:.0%} (n < 3)"
        logs = [math.log(v) for v in values]
        spread = statistics.stdev(logs)
        bound = math.exp(statistics.fmean(logs) + _t90(n - 1) * spread * math.sqrt(1.0 + 1.0 / n))
        floor = median * (1.0 + self.safety_margin) if noisy else median
        value = max(bound, floor)
        return value, f"+{value / median - 1.0:.0%} over the median (log sd {spread:.2f})"

    def predict(self, work: Work | None, history: Sequence[Observation] = ()) -> Prediction:
        if work is not None and self.unit == Unit.EXAMPLES and work.examples is not None:
            return Prediction(float(work.examples), "plan")
        if work is not None and self.unit == Unit.FLOPS and work.flops is not None:
            return Prediction(float(work.flops), "plan")
        if work is not None and self.unit == Unit.GPU_HOURS and work.flops is not None:
            seconds, basis = self._device_seconds(work, history)
            startup = self._startup(history)
            if startup > seconds:  # a trial costs at least its start-up, whatever its work
                seconds, basis = startup, f"{basis}, raised to the measured start-up"
            return Prediction(seconds / 3600.0, basis)
        prediction = self._from_history(work.label if work is not None else None, history)
        startup = self._startup(history) / 3600.0 if self.unit == Unit.GPU_HOURS else 0.0
        if startup > prediction.cost:
            return Prediction(startup, f"{prediction.basis}, raised to the measured start-up", prediction.floor)
        return prediction

    def _startup(self, history: Sequence[Observation]) -> float:
        """Seconds every trial spends before its run starts: the median measured start-up x
        (1 + safety_margin); 0 before any was measured."""
        measured = [o.startup_seconds for o in history if o.startup_seconds > 0]
        return statistics.median(measured) * (1.0 + self.safety_margin) if measured else 0.0

    # -- gpu_hours ----------------------------------------------------------------------
    def _device_seconds(self, work: Work, history: Sequence[Observation]) -> tuple[float, str]:
        flops = float(work.flops) + float(work.eval_flops)  # observations' flops count evaluation too
        margin = 1.0 + self.safety_margin
        points = [o for o in history if o.flops > 0 and o.device_seconds > 0]
        done = [o for o in points if o.completed]
        measured = [o for o in points if o.completed or o.censored]
        same = [o for o in measured if o.label == work.label]
        if same:
            return self._per_label(flops, work.label, same, self._slope([o for o in measured if o.completed]))
        fit = self._affine_fit(points)
        if fit is not None:
            a, b = fit
            return (a + b * flops) * margin, f"calibrated:all labels, fit (n={len(points)})"
        if done:
            rate = statistics.median(o.device_seconds / o.flops for o in done)
            return flops * rate * margin, f"calibrated:all labels (n={len(done)})"
        return self._default_seconds(flops, points, history)

    def _per_label(self, flops: float, label: str, same: Sequence[Observation],
                   slope: float | None) -> tuple[float, str]:
        """Device seconds of ``flops`` of work at rung ``label`` from that rung's measured trials ``same``:
        seconds = a + b x FLOPs, with ``slope`` b shared by every rung (one device) and the rung's own
        intercept a (its steps' fixed cost: optimizer, Python, kernel launches), times the spread of the
        measurements around the line. A pure ratio (seconds / FLOPs) charges a small model's fixed cost per
        FLOP, so a wide model would be predicted many times too slow and refused as not fitting.

        Without a slope (the rung's trials span less than 2x of work) the ratio is used near the work it
        was measured on (within ``RATIO_REACH`` x): far less work is predicted as long as the least
        measured (its time may be all fixed cost), and beyond ``RATIO_REACH`` x the most, the extra work
        is priced at no more than ``1 / assumed_flops_per_second``, the configured (slow) throughput."""
        whole = [o for o in same if o.completed]
        if slope is not None and whole:
            # completed trials did all their work: the line and its spread; a trial stopped early (often in
            # its set-up, before most of the fixed cost) would drag both down
            a = max(0.0, statistics.median(o.device_seconds - slope * o.flops for o in whole))
            spread, how = self.upper([o.device_seconds / (a + slope * o.flops) for o in whole], noisy=True)
            return ((a + slope * flops) * spread,
                    f"calibrated:{label} (n={len(whole)}, {a:.3g} s + FLOPs / {1.0 / slope:.3g} FLOP/s, {how})")
        # a trial stopped in its set-up did few FLOPs in much time: its ratio would price every trial as all
        # fixed cost, so completed trials give the ratio once there are any
        same = whole or same
        rate, how = self.upper([o.device_seconds / o.flops for o in same], noisy=True)
        reach, low = max(o.flops for o in same), min(o.flops for o in same)
        if flops * RATIO_REACH < low:  # far less work than any measured: as long as the least (maybe all fixed cost)
            return low * rate, f"calibrated:{label} (n={len(same)}, {how}), at least its least work's time"
        if flops <= RATIO_REACH * reach:
            return flops * rate, f"calibrated:{label} (n={len(same)}, {how})"
        capped = min(rate, (1.0 + self.safety_margin) / self.assumed_flops_per_second)
        seconds = reach * rate + (flops - reach) * capped
        return seconds, (f"calibrated:{label} (n={len(same)}, {how}) up to {reach:.3g} FLOPs, beyond at "
                         f"{1.0 / capped:.3g} FLOP/s (assumed_flops_per_second with the margin)")

    def _slope(self, points: Sequence[Observation]) -> float | None:
        """Device seconds per FLOP shared by every rung: least squares of seconds on FLOPs within each
        label (each label's means removed, so rungs of different fixed cost do not bias it); None unless
        ``min_fit_points`` points are given, one label spans 2x of work, and the slope is positive."""
        if len(points) < self.min_fit_points:
            return None
        by_label: dict[str, list[Observation]] = {}
        for o in points:
            by_label.setdefault(o.label, []).append(o)
        sxy = sxx = 0.0
        spans = False
        for group in by_label.values():
            xs = [o.flops for o in group]
            spans = spans or max(xs) >= 2 * min(xs)
            mx, my = statistics.fmean(xs), statistics.fmean(o.device_seconds for o in group)
            sxy += sum((o.flops - mx) * (o.device_seconds - my) for o in group)
            sxx += sum((x - mx) ** 2 for x in xs)
        if not spans or sxx <= 0 or sxy <= 0:
            return None
        return sxy / sxx

    def _default_seconds(self, flops: float, points: Sequence[Observation],
                         history: Sequence[Observation] = ()) -> tuple[float, str]:
        margin = 1.0 + self.safety_margin
        startup = self._startup(history)  # measured, it replaces the assumed overhead
        overhead = startup / (1.0 + self.safety_margin) if startup else self.assumed_overhead_seconds
        default = overhead + flops / self.assumed_flops_per_second
        if points:
            # only stopped or pruned trials so far: their work was partial, so a rate per FLOP would
            # spread a full run's fixed overhead over part of its work; they do show that a trial
            # takes at least that long
            floor = statistics.median(o.device_seconds for o in points) + flops / self.assumed_flops_per_second
            return max(default, floor) * margin, f"default, floor from {len(points)} unfinished trials"
        return default * margin, "default"

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
        measured = [o for o in history if o.measured and o.cost > 0 and (o.completed or o.censored)]
        same = [o for o in measured if o.label == label]
        pool, where = (same, f"history:{label}") if any(o.completed for o in same) else (measured, "history")
        done = [o.cost for o in pool if o.completed]
        stopped = [o.cost for o in measured if o.censored]
        noisy = self.unit == Unit.GPU_HOURS
        if done:
            cost, how = self.upper(done, noisy=noisy)
            basis = f"{where} (n={len(done)}, {how})"
            if stopped and max(stopped) * (1.0 + self.safety_margin) > cost:
                # what completed trials cost stays plausible (a stop may have paid a one-off start-up)
                return Prediction(max(stopped) * (1.0 + self.safety_margin),
                                  f"{where} (n={len(done)}), raised above {len(stopped)} budget-stopped trials",
                                  floor=cost)
            return Prediction(cost, basis)
        if stopped:  # only censored observations: the true cost is above all of them; search upwards
            return Prediction(2.0 * max(stopped), f"2 x the largest of {len(stopped)} budget-stopped trials",
                              floor=max(stopped))
        if self.default_trial_cost is not None:
            return Prediction(float(self.default_trial_cost), "default_trial_cost")
        raise CostModelError(
            f"cannot predict the cost of a trial in unit {self.unit!r}: the app's config has no plan "
            "(no `task` for budgetsweep.plan.plan_run) and no trial has completed yet; set "
            "hydra.sweeper.budget.default_trial_cost to a number > 0 (the cost of one trial in that unit)"
        )
