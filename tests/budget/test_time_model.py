"""The time model: a line through (work, seconds) of records, or defaults that say so."""
import json

import pytest

from budgetsweep.budget.time_model import TimePoint, calibrated, fit


def test_overhead_per_step_per_evaluation_and_per_flop_are_fitted():
    truth = lambda steps, evals, flops: 0.3 + 1e-3 * steps + 5e-3 * evals + 2e-9 * flops  # noqa: E731
    work = ((10, 1, 1e8), (100, 10, 5e8), (1000, 11, 2e9), (50, 2, 2e9), (300, 30, 1e9))
    model = fit([TimePoint(s, e, f, truth(s, e, f)) for s, e, f in work])
    assert model.calibrated and "calibrated on 5 records" in model.basis
    assert model.overhead_seconds == pytest.approx(0.3) and model.seconds_per_step == pytest.approx(1e-3)
    assert model.seconds_per_evaluation == pytest.approx(5e-3) and model.seconds_per_flop == pytest.approx(2e-9)
    assert model.seconds(20, 3, 1e9) == pytest.approx(truth(20, 3, 1e9))


@pytest.mark.parametrize("points, reason", [
    ([TimePoint(10, 1, 1e8, 1.0)] * 2, "2 usable record(s), 3 needed"),
    ([TimePoint(10, 1, 1e8, 1.0), TimePoint(15, 1, 1.5e8, 1.1), TimePoint(12, 1, 1.2e8, 1.0)], "spans less than 2x"),
    ([TimePoint(10, 1, 1e8, 2.0), TimePoint(50, 1, 5e8, 2.0), TimePoint(100, 1, 1e9, 2.0)],
     "no positive time per step or FLOP"),
])
def test_too_little_or_unphysical_evidence_falls_back_to_defaults(points, reason):
    model = fit(points)
    assert not model.calibrated and reason in model.basis and "defaults" in model.basis


def test_records_of_the_task_and_device_calibrate(tmp_path):
    def record(name, task, flops, seconds, status="completed", device="cpu", eval_flops=0.0):
        path = tmp_path / name / "record.json"
        path.parent.mkdir()
        info = {"steps": round(flops / 1e7), "evaluations": 1}
        if eval_flops is not None:
            info["eval_flops"] = eval_flops
        path.write_text(json.dumps({"status": status, "config": {"task": task}, "info": info, "cost": {
            "measured": {"flops": flops, "wall_seconds": seconds, "device_kind": device}}}))

    for i, f in enumerate((1e8, 4e8, 1e9)):
        record(f"ok{i}", "digits", f, 1.0 + f * 1e-9, eval_flops=0.0)  # 1 s + 1 ns per FLOP
    record("other_task", "charlm", 1e9, 100.0)
    record("failed", "digits", 1e9, 100.0, status="failed")
    record("gpu", "digits", 1e9, 100.0, device="H200")
    record("old", "digits", 1e9, 100.0, eval_flops=None)  # written before evaluation was priced
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "record.json").write_text("{")
    model = calibrated(tmp_path, "digits", "cpu")
    assert model.calibrated and "3 records" in model.basis
    assert model.seconds(200, 1, 2e9) == pytest.approx(3.0, rel=1e-6)
    assert not calibrated(tmp_path / "missing", "digits", "cpu").calibrated


def test_uncalibrated_defaults_are_plausible_on_a_small_cpu():
    """The full recipes on an idle 2-core CPU: charlm about 180 s (6.52e12 training FLOPs, 613 steps, one
    evaluation under the default bound), digits about 2 s (4.48e9 FLOPs, 1,010 steps, 11 evaluations); the
    former defaults predicted 3,490 s for charlm."""
    from budgetsweep.budget.time_model import default_model

    model = default_model("test")
    assert 120 < model.seconds(613, 1, 6.52e12 + 5.7e10) < 270
    assert 1 < model.seconds(1010, 11, 4.48e9 + 2e8) < 4
    assert "not calibrated (test): seconds are a guess" in model.basis
