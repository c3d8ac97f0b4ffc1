import pytest

from budgetsweep.budget.cost_model import CostModel, CostModelError, Observation, Work


def test_examples_and_flops_come_from_the_plan_exactly():
    work = Work("full", examples=40960, flops=1.5e11)
    assert CostModel("examples").predict(work).cost == 40960.0
    assert CostModel("flops").predict(work) .cost == 1.5e11
    assert CostModel("examples").predict(work).basis == "plan"


def test_gpu_hours_before_calibration_is_the_documented_conservative_default():
    model = CostModel("gpu_hours", safety_margin=0.25, assumed_flops_per_second=1e9, assumed_overhead_seconds=5.0)
    p = model.predict(Work("full", flops=2e10))
    assert p.basis == "default"
    assert p.cost == pytest.approx((5.0 + 20.0) / 3600 * 1.25)


def test_gpu_hours_calibrates_per_label_then_across_labels():
    model = CostModel("gpu_hours", safety_margin=0.0)
    history = [Observation("small", 0.0, flops=1e9, device_seconds=2.0),
               Observation("small", 0.0, flops=1e9, device_seconds=4.0),
               Observation("small", 0.0, flops=1e9, device_seconds=3.0)]
    same = model.predict(Work("small", flops=2e9), history)
    assert same.cost == pytest.approx(2e9 * 3e-9 / 3600) and same.basis.startswith("calibrated:small")
    other = model.predict(Work("big", flops=1e10), history)
    assert other.basis.startswith("calibrated:all labels") and other.cost == pytest.approx(1e10 * 3e-9 / 3600)


def test_across_labels_an_affine_fit_separates_fixed_overhead():
    model = CostModel("gpu_hours", safety_margin=0.0)
    history = [Observation(f"r{i}", 0.0, flops=f, device_seconds=2.0 + f * 1e-9) for i, f in
               enumerate([1e9, 2e9, 4e9, 8e9])]
    p = model.predict(Work("full", flops=1e10), history)
    assert "fit" in p.basis
    assert p.cost == pytest.approx((2.0 + 10.0) / 3600)


def test_without_a_plan_history_then_default_then_a_clear_error():
    model = CostModel("examples", default_trial_cost=1000)
    assert model.predict(None).cost == 1000.0
    history = [Observation("default", 700.0), Observation("default", 900.0),
               Observation("default", 20.0, completed=False)]
    assert model.predict(None, history).cost == 800.0  # median of completed trials only
    with pytest.raises(CostModelError, match="hydra.sweeper.budget.default_trial_cost"):
        CostModel("examples").predict(None)


def test_unfinished_trials_raise_the_default_instead_of_calibrating_a_rate():
    model = CostModel("gpu_hours", safety_margin=0.0, assumed_overhead_seconds=2.0, assumed_flops_per_second=1e9)
    stopped = [Observation("a", 0.0, completed=False, flops=1e6, device_seconds=8.0)]  # partial work
    p = model.predict(Work("a", flops=1e9), stopped)
    assert p.cost == pytest.approx((8.0 + 1.0) / 3600) and p.basis.startswith("default, floor")
