"""From a job's return and its record to an Optuna state and a charge."""
import math

import pytest
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from budgetsweep.budget import outcome
from budgetsweep.records import Cost, MeasuredCost, Objective, RunRecord, write_record


def job(tmp_path, value=1.5, status=JobStatus.COMPLETED):
    ret = JobReturn()
    ret.hydra_cfg = OmegaConf.create({"hydra": {"runtime": {"output_dir": str(tmp_path)}}})
    ret.status = status
    ret.return_value = value
    return ret


def record(tmp_path, status="completed", examples=700, value=1.5):
    write_record(tmp_path, RunRecord(
        status=status, config_key="k", config={}, overrides=[], recipe={}, full_recipe={}, reductions=[],
        reduction_label="data_subset(fraction=0.1)", seed=0, objective=Objective("val_loss", "minimize", value),
        cost=Cost(measured=MeasuredCost(wall_seconds=2.0, examples=examples, flops=7e8))))


def read(ret, n=1):
    return outcome.from_job(ret, n_objectives=n, unit="examples", reservation=1000.0)


def test_completed_record_gives_complete_with_the_return_value_and_measured_cost(tmp_path):
    record(tmp_path)
    got = read(job(tmp_path))
    assert (got.state, got.values, got.actual, got.status) == ("COMPLETE", [1.5], 700.0, "completed")
    assert got.label == "data_subset(fraction=0.1)" and got.config_key == "k"
    assert got.record_path == str((tmp_path / "record.json").resolve())
    assert got.work == {"flops": 7e8, "examples": 700.0, "device_seconds": 2.0} and got.measured


@pytest.mark.parametrize("status,state", [("pruned", "PRUNED"), ("budget_stopped", "PRUNED"), ("failed", "FAIL")])
def test_record_status_decides_the_state_and_partial_cost_is_charged(tmp_path, status, state):
    record(tmp_path, status=status, examples=300)
    got = read(job(tmp_path, value=math.nan))
    assert (got.state, got.actual) == (state, 300.0)


def test_no_record_is_charged_the_reservation(tmp_path):
    got = read(job(tmp_path, value=0.5))
    assert (got.state, got.actual, got.status) == ("COMPLETE", 1000.0, "no_record")
    failed = read(job(tmp_path, value=RuntimeError("boom"), status=JobStatus.FAILED))
    assert (failed.state, failed.actual, failed.status) == ("FAIL", 1000.0, "job_failed")
    assert "boom" in failed.error


def test_a_record_left_running_is_charged_at_least_the_reservation(tmp_path):
    record(tmp_path, status="running", examples=5)
    got = outcome.from_record_only(str(tmp_path), n_objectives=1, unit="examples", reservation=1000.0)
    assert (got.state, got.actual) == ("FAIL", 1000.0)
    assert got.error.endswith("record status 'running'")  # the value a user reads, not the enum's repr


def test_multi_objective_values_and_bad_return_values(tmp_path):
    record(tmp_path)
    assert read(job(tmp_path, value=(1.0, 2.0)), n=2).values == [1.0, 2.0]
    assert read(job(tmp_path, value=(1.0,)), n=2).state == "FAIL"
    assert read(job(tmp_path, value="abc")).state == "FAIL"


def test_recovered_completed_record_keeps_its_result(tmp_path):
    record(tmp_path, value=0.25)
    got = outcome.from_record_only(str(tmp_path), n_objectives=1, unit="examples", reservation=1000.0)
    assert (got.state, got.values, got.actual) == ("COMPLETE", [0.25], 700.0)
    none = outcome.from_record_only(str(tmp_path / "missing"), n_objectives=1, unit="examples", reservation=10.0)
    assert (none.state, none.actual) == ("FAIL", 10.0)


def test_a_record_that_metered_nothing_in_the_unit_is_charged_its_reservation(tmp_path):
    # a job that failed with UnmeteredCost (it counted examples, the budget is in flops) left 0 flops
    write_record(tmp_path, RunRecord(
        status="failed", config_key="k", config={}, overrides=[], recipe={}, full_recipe={}, reductions=[],
        reduction_label="full", seed=0, objective=Objective("val_loss", "minimize", None),
        cost=Cost(measured=MeasuredCost(wall_seconds=2.0, examples=640, flops=0.0)), error="UnmeteredCost: ..."))
    got = outcome.from_job(job(tmp_path, value=math.nan), n_objectives=1, unit="flops", reservation=1e9)
    assert (got.state, got.actual, got.measured) == ("FAIL", 1e9, False)
    assert got.charge_basis == "its reservation (its record metered no flops)"


def test_gpu_hours_are_charged_the_jobs_whole_wall_time_from_its_start(tmp_path):
    # the record's clock ends at its last write; the job timer's covers the job from start to end
    record(tmp_path, status="budget_stopped", examples=300)
    (tmp_path / "budgetsweep_job.json").write_text('{"wall_seconds": 7.2}')
    got = outcome.from_job(job(tmp_path, value=math.nan), n_objectives=1, unit="gpu_hours", reservation=0.001)
    assert got.actual == pytest.approx(7.2 / 3600) and got.work["device_seconds"] == pytest.approx(7.2)
    assert got.charge_basis == "the job's wall time (its record's devices)"
