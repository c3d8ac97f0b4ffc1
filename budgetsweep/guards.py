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

# Measured (docs/guards.md; the default recipes cut to N steps, benchmarks/guard_min_steps.py): a run
# that has barely moved is 0.2-3% below its baseline (digits 1-5 steps: 0.996-0.969 x the class prior;
# charlm 20 steps: 0.994 x the unigram entropy), one that learns 6.5% or more (digits 10 compressed
# steps 0.935, charlm 50 steps 0.903; the built-in full recipes and presets 0.06-0.89). A 5% margin
# separates the two on both tasks; 2% passed a 1-step digits run.
LEARNED_MARGIN = 0.05

# Measured (docs/guards.md, benchmarks/guard_min_steps.py): the full recipes cut to N steps with a
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
    ``noise_scale_batches`` x batch examples, counted in the run's cost) and warn when the run's batch
    is above it. ``noise_scale_batches``: batches averaged over (default 32: on digits at batch 32,
    B_simple over seeds 0-4 spans 97-131 with 32, 83-145 with 16, 91-181 with 8).
    ``learned_margin``: share of the baseline (a loss) or of the room above it (an accuracy) a run
    must beat its task's trivial baseline by to count as ``learned``.
    Raises ValueError naming the key, the value and what is allowed.
    """

    min_steps: int = MIN_STEPS
    noise_scale: bool = False
    noise_scale_batches: int = 32
    learned_margin: float = LEARNED_MARGIN

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
    if warmup == steps:
        what = (f"train.warmup_steps={warmup} covers all {steps} steps of the run: the learning rate rises "
                f"until the last step, which alone reaches the peak, and never decays")
    else:
        what = (f"train.warmup_steps={warmup} is longer than the run ({steps} steps): the learning rate never "
                f"reaches its peak (at the last step it is {steps / warmup:.2g} x it) and never decays")
    return [f"warmup as long as the run: {what}; shorten the warmup or compress it with the schedule "
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


# -- evaluation's share of the run (after train.eval_budget_share bounded it) -------------------------
def evaluation_share(train_examples: int, evaluations: int, n_val: int, n_test: int) -> float:
    """Evaluation's share of a run's compute in forward passes of one example (``Recipe.bounded_eval_every``'s
    unit): a training example costs 1 / ``FORWARD_SHARE`` (3), an evaluated one 1; with a task's constant
    FLOPs per example this is also its share of the run's FLOPs."""
    from budgetsweep.recipe import FORWARD_SHARE

    evaluated = evaluations * n_val + n_test
    total = train_examples / FORWARD_SHARE + evaluated
    return evaluated / total if total > 0 else 0.0


def evaluation_over_bound(proxy: Recipe, train_examples: int, evaluations: int, n_val: int, n_val_split: int,
                          n_test: int) -> list[str]:
    """Evaluation above ``train.eval_budget_share`` of the run even after the interval was raised: the
    passes the objective needs (the last validation pass, a test pass where the task has a test split)
    cost more than the share. The advice is one that works: a ``reduction.eval_subset.fraction`` small
    enough where validation examples are the excess, else (a test pass alone above the share, which
    eval_subset leaves whole) a longer run, a larger share or a smaller test split.
    ``n_val``: validation examples one evaluation covers (after eval_subset); ``n_val_split``: the
    task's whole validation split."""
    from budgetsweep.recipe import FORWARD_SHARE

    bound = proxy.train.eval_budget_share
    share = evaluation_share(train_examples, evaluations, n_val, n_test)
    if bound >= 1 or share <= bound + 1e-9:
        return []
    what = f"{evaluations} validation pass{'es' if evaluations != 1 else ''} over {n_val} examples"
    if n_test:
        what += f" and a test pass over {n_test}"
    head = (f"evaluation is {share:.0%} of this run's compute ({what}; a forward pass per example), above "
            f"train.eval_budget_share={bound:g}, although the run already evaluates as rarely as it can")
    allowed = bound / (1 - bound) * train_examples / FORWARD_SHARE  # forward passes evaluation may take
    per_pass = math.floor((allowed - n_test) / evaluations) if evaluations else 0
    subset = "eval_subset" in proxy.extra
    if per_pass >= 1 and n_val_split > 0:
        fraction = math.floor(per_pass / n_val_split * 1000) / 1000
        if fraction > 0:
            how = "set reduction.eval_subset.fraction" if subset else "add reduction=eval_subset with fraction"
            return [f"{head}: {how} <= {fraction:g} (at most {per_pass} of the {n_val_split} validation examples "
                    f"per pass; a noisier objective), or train longer"]
    test = f"the test pass alone ({n_test} examples) is above the share, and " if n_test >= allowed else ""
    smaller = ", or make the task's test split smaller" if n_test else ""
    return [f"{head}: {test}evaluating fewer validation examples (eval_subset) cannot bring it under; train "
            f"longer or raise train.eval_budget_share{smaller}"]


# -- the critical batch size (a measurement at run start) ------------------------------------------
def critical_batch(batch_size: int, noise_scale: dict[str, Any]) -> list[str]:
    """Warn when ``batch_size`` is above the measured gradient noise scale B_simple (McCandlish et
    al. 2018), an estimate of the critical batch size: above it, a larger batch buys little and the
    batch-scaling learning-rate rules no longer hold; and warn when it could not be estimated (its
    ``problem``, e.g. a |G|^2 estimate that is not positive), saying what to do. ``noise_scale`` is
    ``budgetsweep.train.noise_scale.gradient_noise_scale``'s result."""
    b_simple = noise_scale.get("b_simple")
    if b_simple is None or not math.isfinite(b_simple):
        if noise_scale.get("problem") is None:
            return []
        return [f"critical batch size not estimated: {noise_scale['problem']}, so the batch (train.batch_size="
                f"{batch_size}) was not checked against it; raise guards.noise_scale_batches (now "
                f"{noise_scale['batches']}; the estimate's noise falls with the examples measured, "
                f"{noise_scale['examples']} here) or measure at a larger batch"]
    if batch_size <= b_simple:
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
