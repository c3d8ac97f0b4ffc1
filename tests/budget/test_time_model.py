"""The time model: a line through (work, seconds) of records, or defaults that say so."""
import json

import pytest

from budgetsweep.budget.time_model import TimePoint, calibrated, fit


def test_a_line_through_the_points_is_the_model():
    model = fit([TimePoint(f, 0.3 + 2e-9 * f) for f in (1e8, 5e8, 2e9)])
    assert model.calibrated and "calibrated on 3 records" in model.basis
    assert model.overhead_seconds == pytest.approx(0.3) and model.seconds_per_flop == pytest.approx(2e-9)
    assert model.seconds(1e9) == pytest.approx(2.3)


@pytest.mark.parametrize("points, reason", [
    ([TimePoint(1e8, 1.0)] * 2, "2 usable record(s), 3 needed"),
    ([TimePoint(1e8, 1.0), TimePoint(1.5e8, 1.1), TimePoint(1.2e8, 1.0)], "spans less than 2x"),
    ([TimePoint(1e8, 2.0), TimePoint(5e8, 1.0), TimePoint(1e9, 0.5)], "no positive time per FLOP"),
])
def test_too_little_or_unphysical_evidence_falls_back_to_defaults(points, reason):
    model = fit(points)
    assert not model.calibrated and reason in model.basis and "defaults" in model.basis


def test_records_of_the_task_and_device_calibrate(tmp_path):
    def record(name, task, flops, seconds, status="completed", device="cpu", eval_flops=0.0):
        path = tmp_path / name / "record.json"
        path.parent.mkdir()
        info = {} if eval_flops is None else {"eval_flops": eval_flops}
        path.write_text(json.dumps({"status": status, "config": {"task": task}, "info": info, "cost": {
            "measured": {"flops": flops, "wall_seconds": seconds, "device_kind": device}}}))

    for i, f in enumerate((1e8, 4e8, 1e9)):
        record(f"ok{i}", "digits", f, 1.0 + f * 1e-9, eval_flops=0.0)
    record("other_task", "charlm", 1e9, 100.0)
    record("failed", "digits", 1e9, 100.0, status="failed")
    record("gpu", "digits", 1e9, 100.0, device="H200")
    record("old", "digits", 1e9, 100.0, eval_flops=None)  # written before evaluation was priced
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "record.json").write_text("{")
    model = calibrated(tmp_path, "digits", "cpu")
    assert model.calibrated and "3 records" in model.basis
    assert model.seconds(2e9) == pytest.approx(3.0)
    assert not calibrated(tmp_path / "missing", "digits", "cpu").calibrated
