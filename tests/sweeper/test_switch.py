"""Switching from hydra-optuna-sweeper is one line, and what each kind of app is charged.

- An app written for hydra-optuna-sweeper (no budget settings) runs its n_trials, each trial's
  wall time measured and charged, and a summary written: the cap is opt-in.
- No record: time units are charged the measured wall time; units only the app can count are
  charged the reservation, never compounding.
- An own loop whose cost guess is too low recovers: a budget-stopped trial raises the next prediction.
"""
from __future__ import annotations

import subprocess

import pytest

from tests.sweeper.conftest import REPO, SweepResult, app_command, examples_budget


def run_module(cwd, module, *overrides, sweeper=None, check=True):
    args, env = app_command(cwd, *overrides, module=module)
    if sweeper is None:  # the app's own config picks the sweeper
        args = [a for a in args if not a.startswith("hydra/sweeper=")]
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"sweep failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_a_hydra_optuna_sweeper_app_switched_by_one_line_runs_its_20_trials(tmp_path):
    config = (REPO / "tests" / "apps" / "conf" / "sphere_app.yaml").read_text()
    assert "override hydra/sweeper: budget" in config and "budget:" not in config  # no budget settings
    proc = run_module(tmp_path, "tests.apps.sphere_app")
    r = SweepResult(tmp_path)
    assert len(r.study.trials) == 20 and r.job_dirs() == list(range(20))
    assert all(t.state.name == "COMPLETE" for t in r.study.trials)
    assert r.summary["limit"] is None and r.summary["remaining"] is None
    assert r.summary["stopped"] == "n_trials reached (20/20)" and r.summary["n_charged"] == 20
    for t in r.study.trials:  # each trial's wall time, measured by the sweeper (no record)
        assert t.user_attrs["cost_unit"] == "gpu_hours" and 0 < t.user_attrs["cost_actual"] < 0.01
        assert t.user_attrs["cost"]["measured"] and t.user_attrs["cost"]["charge"] == "the job's wall time (no record)"
        assert t.user_attrs["cost_predicted"] is None  # no limit: nothing reserved, nothing predicted
    assert r.summary["spent"] == pytest.approx(sum(t.user_attrs["cost_actual"] for t in r.study.trials))
    log = proc.stdout + proc.stderr
    assert "Budget: no limit, n_trials=20 bounds the sweep" in log and "Traceback" not in log
    assert r.summary["study_name"].startswith("sphere-")  # storage null: the study name carries the command's hash


def test_no_record_in_a_unit_only_the_app_can_count_is_charged_the_reservation_without_compounding(tmp_path):
    proc = run_module(tmp_path, "tests.apps.trivial_app", *examples_budget(1000, cost=10), "hydra.sweeper.n_trials=20",
                      "hydra.sweeper.n_jobs=4", "x=interval(0, 1)", sweeper="budget")
    r = SweepResult(tmp_path)
    assert r.ledger.spent() == 200.0 and [t.user_attrs["cost_predicted"] for t in r.study.trials] == [10.0] * 20
    assert all(not t.user_attrs["cost"]["measured"] for t in r.study.trials)
    assert "the sweeper cannot measure examples itself" in proc.stdout + proc.stderr  # told at the start


def test_no_record_in_gpu_hours_is_charged_the_measured_wall_time_and_predictions_do_not_compound(tmp_path):
    # default_trial_cost=10 device-hours; the old sweeper charged each trial its reservation and reserved
    # 1.25 x the median charge next: 20 trials were charged 40x default_trial_cost
    run_module(tmp_path, "tests.apps.trivial_app", "hydra.sweeper.budget.limit=1000",
               "hydra.sweeper.budget.default_trial_cost=10", "hydra.sweeper.n_trials=20", "hydra.sweeper.n_jobs=4",
               "x=interval(0, 1)", sweeper="budget")
    r = SweepResult(tmp_path)
    charges = r.ledger.charges()
    assert len(charges) == 20 and r.ledger.spent() < 0.1  # 20 trivial jobs take seconds, not 200 hours
    # predictions never rose above the first guess
    assert max(t.user_attrs["cost_predicted"] for t in r.study.trials) == 10.0
    for t in r.study.trials:
        assert t.user_attrs["cost"]["measured"] and t.user_attrs["cost_actual"] < 0.01


def test_an_own_loop_with_a_guess_2x_too_low_recovers_on_the_second_trial_and_warns_once(tmp_path):
    # cost_app: 64 steps x 100 examples = 6400 examples a trial; the guess is 3000
    proc = run_module(tmp_path, "tests.apps.cost_app", *examples_budget(10**6, cost=3000), "steps=64",
                      "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=1", "x=interval(-2, 2)", sweeper="budget")
    r = SweepResult(tmp_path)
    assert [t.user_attrs["status"] for t in r.study.trials] == ["budget_stopped", "completed", "completed"]
    assert r.study.trials[0].user_attrs["cost_actual"] == 3400.0  # past 3000 x 1.1, at a step boundary
    assert r.study.trials[1].user_attrs["cost_predicted"] == 6800.0
    assert r.study.best_trial.number in (1, 2)
    assert "were stopped at their reservation" not in proc.stdout + proc.stderr  # one stop: no warning yet


def test_repeated_budget_stops_give_one_warning_naming_default_trial_cost(tmp_path):
    proc = run_module(tmp_path, "tests.apps.cost_app", *examples_budget(10**6, cost=500), "steps=64",
                      "hydra.sweeper.n_trials=5", "hydra.sweeper.n_jobs=1", "x=interval(-2, 2)", sweeper="budget")
    r = SweepResult(tmp_path)
    statuses = [t.user_attrs["status"] for t in r.study.trials]
    assert statuses == ["budget_stopped"] * 3 + ["completed"] * 2
    log = proc.stdout + proc.stderr
    assert log.count("were stopped at their reservation") == 1
    assert "hydra.sweeper.budget.default_trial_cost=500.0 is too low" in log
