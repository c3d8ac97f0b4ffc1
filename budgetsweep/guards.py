"""Guards against degenerate proxies, and the ``learned`` verdict of a run.

A proxy can be cheap and still worthless: too few optimizer steps to learn anything, a warmup
that never ends, a truncated schedule whose learning rate is still high when the run stops (short
runs then favour high learning rates), a batch above the critical batch size (where the batch
scaling rules stop holding). The guards here are pure functions of the full recipe, the reduced
recipe and the settings (the ``guards`` config section); they return warnings, one sentence each,
which the plan carries, the run logs at its start and the record keeps in ``warnings``.

The ``learned`` verdict compares a run's objective with its task's trivial baseline (class prior,
unigram entropy, mean predictor): a run that does not beat it by ``guards.learned_margin`` learned
nothing a constant predictor would not know.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from budgetsweep.recipe import Recipe
from budgetsweep.validate import boolean, integer, number

# Measured (README "Guards", benchmarks/guard_min_steps.py): the full recipes cut to N steps with a
# compressed schedule. charlm's validation loss against its unigram entropy 3.253 nats/char: 3.40 at 10
# steps, 3.23 at 20, 3.34 at 30, 2.94 at 50, 2.58 at 100; digits' against the class prior 2.303: 2.15
# at 10, 1.87 at 20, 1.48 at 30, 0.77 at 50. Below 50 steps charlm does not reliably learn at all.
MIN_STEPS = 50

VERDICTS = ("learned", "not_learned", "unknown")


@dataclass(frozen=True)
class GuardSettings:
    """The ``guards`` config section.

    ``min_steps``: a run with fewer optimizer steps gets a warning (0 turns the guard off).
    ``noise_scale``: measure the gradient noise scale B_simple at run start (opt-in; it costs
    ``noise_scale_batches`` x (batch + small batch) examples, counted in the run's cost) and warn
    when the run's batch is above it. ``noise_scale_batches``: batches averaged over.
    ``learned_margin``: share of the baseline (a loss) or of the room above it (an accuracy) a run
    must beat its task's trivial baseline by to count as ``learned``.
    Raises ValueError naming the key, the value and what is allowed.
    """

    min_steps: int = MIN_STEPS
    noise_scale: bool = False
    noise_scale_batches: int = 8
    learned_margin: float = 0.02

    def __post_init__(self) -> None:
        integer("guards.min_steps", self.min_steps, 0)
        boolean("guards.noise_scale", self.noise_scale)
        integer("guards.noise_scale_batches", self.noise_scale_batches, 1)
        object.__setattr__(self, "learned_margin",
                           number("guards.learned_margin", self.learned_margin, 0.0, 1.0, low_open=False,
                                  high_open=True))

    @classmethod
    def from_mapping(cls, mapping: Any) -> "GuardSettings":
        """From a config section (None: the defaults); unknown keys name the allowed ones."""
        data = dict(mapping or {})
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown key(s) {['guards.' + k for k in unknown]}; allowed: "
                             f"{['guards.' + k for k in known]}")
        return cls(**data)


# -- guards on the recipe (before any compute) -------------------------------------------------
def too_few_steps(full: Recipe, proxy: Recipe, n_train: int | None, settings: GuardSettings) -> list[str]:
    """A run with fewer than ``settings.min_steps`` optimizer steps. Unknown steps (an own loop's
    epochs-based recipe before its data size is known) check nothing."""
    steps = _steps(proxy, n_train)
    if steps is None or settings.min_steps == 0 or steps >= settings.min_steps:
        return []
    of_full = _steps(full, n_train)
    where = f" (the full recipe takes {of_full})" if of_full is not None and of_full != steps else ""
    return [f"too few optimizer steps: the run takes {steps}{where}, fewer than guards.min_steps="
            f"{settings.min_steps}; such a proxy may not learn beyond its task's trivial baseline. Keep steps "
            f"(batch_scaling keep=steps, model_scale, data_subset keep=steps) rather than cutting them"]


def warmup_covers_run(full: Recipe, proxy: Recipe, n_train: int | None, settings: GuardSettings) -> list[str]:
    """The learning-rate warmup is as long as the run or longer: the run never trains at its learning rate."""
    steps, warmup = _steps(proxy, n_train), proxy.train.warmup_steps
    if steps is None or warmup == 0 or warmup < steps:
        return []
    return [f"warmup as long as the run: train.warmup_steps={warmup} and the run takes {steps} steps, so it "
            f"never reaches its learning rate; shorten the warmup or compress it with the schedule "
            f"(short_schedule mode=compress)"]


def truncated_schedule(full: Recipe, proxy: Recipe, n_train: int | None, settings: GuardSettings) -> list[str]:
    """The run stops before its learning-rate schedule ends (short_schedule mode=truncate): its learning
    rate is still high at the end, which favours high learning rates (DESIGN section 10)."""
    t = proxy.train
    if t.schedule == "constant" or t.run_fraction >= t.schedule_fraction - 1e-12:
        return []
    share = t.run_fraction / t.schedule_fraction
    end = ""
    if n_train is not None or t.steps is not None:
        from budgetsweep.train.schedules import lr_multiplier  # only here: it loads the training stack

        n = n_train or 1
        steps, length = proxy.run_steps(n), proxy.schedule_steps(n)
        at_end = lr_multiplier(steps - 1, schedule=t.schedule, length=length, warmup=t.warmup_steps,
                               cooldown_fraction=t.cooldown_fraction, min_ratio=t.min_lr_ratio)
        end = f"; its learning rate at the last step is {at_end:.2f} x the peak (the full run ends at {t.min_lr_ratio:g} x)"
    return [f"truncated schedule: the run stops after {share:.0%} of its {t.schedule} learning-rate schedule"
            f"{end}. Short runs with a high final learning rate favour high learning rates (a biased ranking); "
            f"use short_schedule mode=compress"]


RECIPE_GUARDS = (too_few_steps, warmup_covers_run, truncated_schedule)


def recipe_warnings(full: Recipe, proxy: Recipe, n_train: int | None,
                    settings: GuardSettings | None = None) -> tuple[str, ...]:
    """Every recipe guard's warnings for a run of ``proxy`` (reduced from ``full``); ``n_train`` the
    task's full training-set size (None when unknown)."""
    settings = settings or GuardSettings()
    return tuple(w for guard in RECIPE_GUARDS for w in guard(full, proxy, n_train, settings))


def _steps(recipe: Recipe, n_train: int | None) -> int | None:
    if recipe.train.steps is None and not n_train:
        return None
    return recipe.run_steps(n_train or 1)


# -- the critical batch size (a measurement at run start) ------------------------------------------
def critical_batch(batch_size: int, noise_scale: dict[str, Any]) -> list[str]:
    """Warn when ``batch_size`` is above the measured gradient noise scale B_simple (McCandlish et
    al. 2018), an estimate of the critical batch size: above it, a larger batch buys little and the
    batch-scaling learning-rate rules no longer hold. ``noise_scale`` is
    ``budgetsweep.train.noise_scale.gradient_noise_scale``'s result."""
    b_simple = noise_scale.get("b_simple")
    if b_simple is None or not math.isfinite(b_simple) or batch_size <= b_simple:
        return []
    return [f"batch above the critical batch size: train.batch_size={batch_size} > the measured gradient noise "
            f"scale B_simple={b_simple:.3g} (from batches of {noise_scale['small_batch']} and "
            f"{noise_scale['big_batch']} at the start); beyond it the batch-scaling rules do not hold"]


# -- the learned verdict ------------------------------------------------------------------------
def learned_verdict(value: float | None, direction: str, baseline: float | None, margin: float,
                    source: str | None = None) -> dict[str, Any]:
    """Did a run beat its task's trivial baseline?

    ``value``: the run's objective; ``baseline``: the trivial predictor's value of the same metric.
    A loss (``minimize``) must be below baseline x (1 - margin); an accuracy (``maximize``) above
    baseline + margin x (1 - baseline). Verdict ``unknown`` when either value is missing or not
    finite. Returns the record's ``learned`` entry: verdict, value, baseline, margin, source.
    """
    entry = {"verdict": "unknown", "value": value, "baseline": baseline, "margin": margin, "source": source}
    if value is None or baseline is None or not math.isfinite(value) or not math.isfinite(baseline):
        return entry
    if direction == "minimize":
        threshold = baseline * (1 - margin) if baseline > 0 else baseline - margin * abs(baseline)
        learned = value < threshold
    else:
        threshold = baseline + margin * (1 - baseline) if baseline < 1 else baseline + margin * abs(baseline)
        learned = value > threshold
    entry.update(verdict="learned" if learned else "not_learned", threshold=threshold)
    return entry
