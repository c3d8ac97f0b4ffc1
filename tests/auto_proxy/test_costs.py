"""Each rung's predicted cost per trial, from the planner, and candidates that cannot run."""
from __future__ import annotations

import pytest

from budgetsweep.auto_proxy.costs import rung_plans, unflagged
from budgetsweep.auto_proxy.phases import plan_phases
from budgetsweep.auto_proxy.settings import AutoProxyConfigError, AutoProxySettings

BASE = ["task=teacher_student", "task.n_train=512", "train.epochs=2", "train.batch_size=32", "guards.min_steps=20"]


def test_examples_per_trial_of_each_rung_and_the_flagged_ones(tmp_path):
    settings = AutoProxySettings(candidates=["small_batch", "proxy50"], calibrate={"configs": 3})
    full, candidates = rung_plans(BASE, settings, "examples", records=str(tmp_path))
    # full: 2 epochs of 512; small_batch keeps the 32 steps at batch 4: 1/8; proxy50: 10% of the data
    # (51 examples: 2 batches of 32 per epoch, 4 steps), then 20% of those steps: 1 step of 32
    assert (full.label, full.cost) == ("full", 1024.0)
    assert [(c.name, c.cost) for c in candidates] == [("small_batch", 128.0), ("proxy50", 32.0)]
    assert candidates[1].label.startswith("data_subset(fraction=0.1")
    kept, flagged = unflagged(candidates)
    assert [c.name for c in kept] == ["small_batch"]
    assert "too few optimizer steps" in flagged[0].warnings[0]
    plan = plan_phases(settings, 20 * 1024, "examples", full.rung_cost, [c.rung_cost for c in candidates])
    assert plan.calibration.cost == 3 * (2 * 1024 + 128 + 32)


@pytest.mark.parametrize("candidate, message", [
    ("nope", "auto_proxy.candidates[0] (nope): cannot run for this task: experiment=nope: no such option"),
    ({"reduction": ["data_subset"], "params": {"data_subset.fraction": 1.5}},
     "auto_proxy.candidates[0] (data_subset): cannot run for this task: reduction.data_subset.fraction=1.5"),
])
def test_a_candidate_that_cannot_run_is_named(tmp_path, candidate, message):
    with pytest.raises(AutoProxyConfigError) as err:
        rung_plans(BASE, AutoProxySettings(candidates=[candidate]), "examples", records=str(tmp_path))
    assert message in str(err.value)


@pytest.mark.slow  # composes charlm's preset and plans it (~20 s on a loaded 2-core machine)
def test_a_preset_that_switches_the_task_is_refused(tmp_path):
    with pytest.raises(AutoProxyConfigError, match=r"candidates\[0\] \(charlm_proxy50\): cannot run for this task: "
                                                   "it switches the task"):
        rung_plans([], AutoProxySettings(candidates=["charlm_proxy50"]), "examples", records=str(tmp_path))


def test_space_corners():
    from budgetsweep.auto_proxy.costs import space_corners

    assert space_corners({"data_subset.fraction": "tag(log, interval(0.05, 0.5))", "short_schedule.mode":
                          "choice(compress, truncate)"}) == [
        {"data_subset.fraction": 0.05, "short_schedule.mode": "compress"},
        {"data_subset.fraction": 0.05, "short_schedule.mode": "truncate"},
        {"data_subset.fraction": 0.5, "short_schedule.mode": "compress"},
        {"data_subset.fraction": 0.5, "short_schedule.mode": "truncate"}]
    assert space_corners({"x.y": "range(1, 5)"}) == [{"x.y": 1}, {"x.y": 4}]


def test_a_proxy_search_is_priced_at_the_costliest_corner_of_its_space(tmp_path):
    settings = AutoProxySettings(candidates=["small_batch"], proxy_search={
        "reduction": ["data_subset"], "params": {"data_subset.fraction": "interval(0.125, 0.5)"}, "trials": 3})
    full, plans = rung_plans(BASE, settings, "examples", records=str(tmp_path))
    search = plans[1:]
    # fraction 0.5: 256 examples (8 batches of 32) x 2 epochs = 512 examples, the costliest corner
    assert [(p.name, p.cost) for p in search] == [(f"proxy_search[{i}]", 512.0) for i in range(3)]
    assert search[0].overrides == ("reduction=[data_subset]", "reduction.data_subset.fraction=0.5")
