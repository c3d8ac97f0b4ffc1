"""Guards against degenerate proxies (each fires and does not fire), their settings, and the learned verdict."""
import math

import pytest

from budgetsweep.guards import (GuardSettings, critical_batch, learned_verdict, recipe_warnings, too_few_steps,
                                truncated_schedule, warmup_covers_run)
from budgetsweep.recipe import OptimSpec, Recipe, TrainSpec
from budgetsweep.reductions import BatchScaling, DataSubset, ShortSchedule

N = 1000  # training-set size: 2 epochs of batch 32 are 63 steps
FULL = Recipe(task={"_target_": "budgetsweep.tasks.digits.Digits"}, model={}, optim=OptimSpec(lr=0.01),
              train=TrainSpec(batch_size=32, epochs=2, warmup_steps=10, schedule="cosine"))
S = GuardSettings()


def test_too_few_steps_fires_below_the_threshold_and_names_it():
    proxy = ShortSchedule(fraction=0.2).apply(FULL)  # 13 steps
    [warning] = too_few_steps(FULL, proxy, N, S)
    assert "the run takes 13 (the full recipe takes 63), fewer than guards.min_steps=50" in warning
    assert too_few_steps(FULL, FULL, N, S) == []  # 63 steps
    assert too_few_steps(FULL, proxy, N, GuardSettings(min_steps=13)) == []
    assert too_few_steps(FULL, proxy, N, GuardSettings(min_steps=0)) == []  # off
    assert too_few_steps(FULL, proxy, None, S) == []  # epochs with no known size: steps unknown


def test_a_step_preserving_cost_cut_does_not_fire():
    proxy = BatchScaling(factor=0.125, keep="steps").apply(FULL)
    assert proxy.run_examples(N) * 8 <= FULL.run_examples(N)
    assert recipe_warnings(FULL, proxy, N, S) == ()


def test_warmup_as_long_as_the_run_fires():
    proxy = FULL.evolve(train={"warmup_steps": 63})
    [warning] = warmup_covers_run(FULL, proxy, N, S)
    assert "train.warmup_steps=63 covers all 63 steps of the run: the learning rate rises until the last step, " \
           "which alone reaches the peak, and never decays" in warning
    [longer] = warmup_covers_run(FULL, FULL.evolve(train={"warmup_steps": 126}), N, S)
    assert "train.warmup_steps=126 is longer than the run (63 steps): the learning rate never reaches its peak " \
           "(at the last step it is 0.5 x it)" in longer
    assert warmup_covers_run(FULL, FULL.evolve(train={"warmup_steps": 62}), N, S) == []
    # truncate keeps the full warmup while cutting the run: 10 warmup steps of a 7-step run
    truncated = ShortSchedule(fraction=0.1, mode="truncate").apply(FULL)
    assert warmup_covers_run(FULL, truncated, N, S) != []
    assert warmup_covers_run(FULL, ShortSchedule(fraction=0.1).apply(FULL), N, S) == []  # compressed too


def test_truncated_schedule_fires_with_the_learning_rate_left_at_the_end():
    proxy = ShortSchedule(fraction=0.5, mode="truncate").apply(FULL)
    [warning] = truncated_schedule(FULL, proxy, N, S)
    # cosine over 63 steps with 10 of warmup, stopped after 32 (step index 31): 0.5(1+cos(pi 21/53))
    expected = 0.5 * (1 + math.cos(math.pi * 21 / 53))
    assert f"stops after 50% of its cosine learning-rate schedule; its learning rate at the last step is " \
           f"{expected:.2f} x the peak" in warning
    assert truncated_schedule(FULL, ShortSchedule(fraction=0.5).apply(FULL), N, S) == []  # compress
    assert truncated_schedule(FULL, proxy.evolve(train={"schedule": "constant"}), N, S) == []
    assert truncated_schedule(FULL, FULL, N, S) == []


def test_critical_batch_fires_only_above_the_measured_noise_scale():
    measured = {"b_simple": 12.5, "small_batch": 8, "big_batch": 32}
    [warning] = critical_batch(32, measured)
    assert "train.batch_size=32 > the measured gradient noise scale B_simple=12.5" in warning
    assert critical_batch(12, measured) == []
    assert critical_batch(32, {**measured, "b_simple": None}) == []  # no estimate, no claim


@pytest.mark.parametrize("mapping,needle", [
    ({"min_steps": -1}, "guards.min_steps=-1 is not allowed; guards.min_steps must be an integer >= 0"),
    ({"min_steps": 2.5}, "guards.min_steps=2.5 is not allowed"),
    ({"noise_scale": "yes"}, "guards.noise_scale='yes' is not allowed; guards.noise_scale must be true or false"),
    ({"noise_scale_batches": 0}, "guards.noise_scale_batches=0 is not allowed"),
    ({"learned_margin": 1.5}, "guards.learned_margin=1.5 is not allowed; guards.learned_margin must be a number in [0.0, 1.0)"),
    ({"min_step": 3}, "unknown key(s) ['guards.min_step']; allowed: ['guards.min_steps'"),
])
def test_settings_name_the_key_the_value_and_what_is_allowed(mapping, needle):
    with pytest.raises(ValueError) as err:
        GuardSettings.from_mapping(mapping)
    assert needle in str(err.value)


@pytest.mark.parametrize("override,needle", [
    ("guards.min_steps=-5", "guards.min_steps=-5 is not allowed"),
    ("experiment=nope", "experiment=nope is not an option of config group 'experiment'; allowed: auto_proxy, charlm_proxy50, "
                        "mup_width, proxy50, small_batch"),
])
def test_bad_guard_setting_or_preset_is_exit_2_with_one_message(run_cli, tmp_path, override, needle):
    proc = run_cli([override], cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("record.json"))


@pytest.mark.parametrize("value,direction,baseline,verdict", [
    (0.3, "minimize", 2.30, "learned"),
    (2.29, "minimize", 2.30, "not_learned"),  # within the 2% margin: a constant predictor does as well
    (2.5, "minimize", 2.30, "not_learned"),
    (0.9, "maximize", 0.10, "learned"),
    (0.11, "maximize", 0.10, "not_learned"),
    (None, "minimize", 2.30, "unknown"),
    (0.3, "minimize", None, "unknown"),
    (float("nan"), "minimize", 2.30, "unknown"),
])
def test_learned_verdict(value, direction, baseline, verdict):
    entry = learned_verdict(value, direction, baseline, 0.02, "class prior")
    assert entry["verdict"] == verdict
    assert (entry["baseline"], entry["source"]) == (baseline, "class prior")
