"""hydra/sweeper=budget end to end: real Hydra, real launchers, real subprocesses, real SQLite.

Costs are in examples (exact and machine-independent): a cost_app trial processes
steps x examples_per_step = 10 x 100 = 1000 examples unless stopped early.
"""
from __future__ import annotations

import json
from datetime import datetime

import pytest
import yaml

from tests.sweeper.conftest import examples_budget

SPACE = ["x=interval(-2, 2)", "y=range(0, 3)"]


def test_budget_is_respected_exactly_and_the_sweep_stops_when_the_next_trial_does_not_fit(sweep, result):
    proc = sweep(*examples_budget(3500), "hydra.sweeper.n_trials=10", "hydra.sweeper.n_jobs=2", *SPACE)
    r = result()
    assert r.ledger.spent() == 3000.0 and r.ledger.reserved() == 0.0
    done = r.trials("completed")
    assert [t.number for t in done] == [0, 1, 2] and r.job_dirs() == [0, 1, 2]
    waiting = r.trials("not_launched")  # asked, did not fit, never ran: back in Optuna's queue, no run
    assert [(t.number, t.state.name) for t in waiting] == [(3, "WAITING")]
    log = proc.stdout + proc.stderr
    assert "Trials 2/10 done; budget spent 2,000 of 3,500 examples (42.9% remaining)" in log
    assert "Stopping: budget exhausted: trial 3 needs 1,000 examples and 500 examples remain" in log
    for t in done:
        assert t.user_attrs["cost"] == {"unit": "examples", "predicted": 1000.0, "actual": 1000.0,
                                        "basis": t.user_attrs["cost"]["basis"], "flops": 1e6, "examples": 1000.0,
                                        "device_seconds": pytest.approx(t.user_attrs["cost"]["device_seconds"]),
                                        "measured": True, "charge": "its record"}
        # flat, so optuna-dashboard can sort by them
        assert (t.user_attrs["cost_actual"], t.user_attrs["cost_predicted"], t.user_attrs["cost_unit"]) == (
            1000.0, 1000.0, "examples")
        assert t.user_attrs["record_path"] == str(r.sweep_dir / str(t.number) / "record.json")
        assert t.user_attrs["config_key"].startswith("x=") and t.user_attrs["reduction_label"] == "full"
        assert r.record(t.number)["trial"] == {"number": t.number}
    s = r.summary
    assert (s["spent"], s["reserved"], s["remaining"], s["limit"]) == (3000.0, 0.0, 500.0, 3500.0)
    assert [row["trial"] for row in s["trials"]] == [0, 1, 2]  # the unlaunched trial is no run
    assert r.study.user_attrs["budget_unit"] == "examples" and r.study.user_attrs["budget_limit"] == 3500.0
    assert r.study.user_attrs["budget_spent"] == 3000.0
    assert s["prediction"] == {"n": 3, "mean_abs_error": 0.0, "mean_abs_relative_error": 0.0, "mean_error": 0.0}
    assert s["stopped"].startswith("budget exhausted")
    assert "mean absolute 0 examples" in log
    best = yaml.safe_load((r.sweep_dir / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(r.study.best_value) and set(best["best_params"]) == {"x", "y"}


def test_a_pruned_job_stops_early_and_is_charged_its_partial_cost(sweep, result):
    sweep(*examples_budget(100000), "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=1", "objective=trial_number",
          "hydra/sweeper/pruner=median", "hydra.sweeper.pruner.n_startup_trials=2",
          "hydra.sweeper.pruner.n_warmup_steps=2", "hydra/sweeper/sampler=random", *SPACE)
    r = result()
    states = [t.state.name for t in r.study.trials]
    assert states == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED"]  # each later trial is worse
    for t in r.study.trials[2:]:
        record = r.record(t.number)
        assert record["status"] == "pruned" and t.user_attrs["status"] == "pruned"
        assert t.user_attrs["cost"]["actual"] == record["cost"]["measured"]["examples"] == 300.0  # steps 0..2
        assert t.last_step == 2
    assert r.ledger.spent() == 2 * 1000 + 2 * 300


def test_a_job_past_its_reservation_stops_itself_and_spend_stays_within_tolerance(sweep, result):
    # predicted 500 but the job would process 1000: it stops once past 500 x 1.1
    sweep(*examples_budget(1200, cost=500), "hydra.sweeper.budget.tolerance=0.1", "hydra.sweeper.n_trials=5",
          "hydra.sweeper.n_jobs=2", *SPACE)
    r = result()
    charged = [t for t in r.study.trials if t.user_attrs.get("status") == "budget_stopped"]
    assert len(charged) == 2 and all(t.state.name == "PRUNED" for t in charged)
    assert all(t.user_attrs["cost"]["actual"] == 600.0 for t in charged)
    assert r.ledger.spent() == 1200.0 <= 1200 + 0.1 * (2 * 500)  # limit + tolerance of the trials in flight


def test_jobs_in_flight_pass_the_limit_by_at_most_one_check_interval_each(sweep, result):
    # predicted 300 but a trial processes 1000, checking every 100 examples; tolerance 1.0 would let
    # each job run to 600. Three predictions fit (900); the ledger then holds each job's tolerance
    # only where the budget has room (100 more for trial 0, none for the others) and each job is told
    # what was held: the bound is limit + one check interval (100 examples) per job in flight, not
    # limit + tolerance x the reservations in flight (3 x 700 = 2100 before)
    sweep(*examples_budget(1000, cost=300), "hydra.sweeper.budget.tolerance=1.0", "hydra.sweeper.n_trials=6",
          "hydra.sweeper.n_jobs=3", *SPACE)
    r = result()
    charged = [c.actual for c in r.ledger.charges() if c.state == "committed"]
    assert charged == [500.0, 400.0, 400.0]  # each stopped at its first check past what the ledger held
    assert r.ledger.spent() <= 1000 + 3 * 100
    assert r.summary["stopped"].startswith("budget exhausted: trial 3 needs 1,000 examples")


def test_failed_jobs_and_jobs_without_records_are_charged(sweep, result):
    sweep(*examples_budget(10000, cost=1000), "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=1", "steps=5",
          "hydra.sweeper.max_failure_rate=1.0", "+modes={0:fail,1:raise,2:norecord}", *SPACE)
    r = result()
    assert [(t.state.name, t.user_attrs["status"]) for t in r.study.trials] == [
        ("FAIL", "failed"), ("FAIL", "job_failed"), ("COMPLETE", "no_record"), ("COMPLETE", "completed")]
    charged = [c.actual for c in r.ledger.charges()]
    assert charged == [500.0, 1000.0, 1000.0, 500.0]  # what a record measured; without one, the reservation


def test_max_failure_rate_stops_the_sweep_with_the_reason(sweep, result):
    proc = sweep(*examples_budget(10000), "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=1", "mode=fail",
                 *SPACE, check=False)
    assert proc.returncode != 0
    assert "trial 0 failed (failed on purpose)" in proc.stderr and "max_failure_rate=0.0" in proc.stderr
    r = result()
    assert [t.state.name for t in r.study.trials] == ["FAIL"] and r.ledger.spent() == 1000.0
    assert r.summary["stopped"].startswith("failure rate")


def test_rerunning_the_same_command_resumes_the_study(sweep, result, tmp_path):
    seed = "hydra.sweeper.sampler.seed=7"
    first = sweep(*examples_budget(100000), "hydra.sweeper.n_trials=3", seed, *SPACE)
    before = {n: (tmp_path / "sweep" / str(n) / "record.json").read_text() for n in (0, 1, 2)}
    second = sweep(*examples_budget(100000), "hydra.sweeper.n_trials=5", seed, *SPACE)
    r = result()
    name = r.summary["study_name"]
    assert all(f"Study name: {name}" in p.stderr + p.stdout for p in (first, second))
    assert len(r.study.trials) == 5 and r.job_dirs() == [0, 1, 2, 3, 4]  # finished trials count toward n_trials
    assert {n: r.sweep_dir.joinpath(str(n), "record.json").read_text() for n in (0, 1, 2)} == before
    assert r.ledger.spent() == 5000.0 and len(r.ledger.charges()) == 5
    assert "sampler reseeded with seed=10" in second.stderr + second.stdout  # 7 + 3 trials


def test_multi_objective_sweep_writes_a_pareto_front(sweep, result):
    sweep(*examples_budget(100000), "hydra.sweeper.n_trials=4", "objective=pair",
          "hydra.sweeper.direction=[minimize,maximize]", "hydra/sweeper/sampler=nsgaii",
          "hydra.sweeper.sampler.population_size=4", "hydra.sweeper.sampler.seed=0", *SPACE)
    r = result()
    front = yaml.safe_load((r.sweep_dir / "optimization_results.yaml").read_text())
    assert front["name"] == "budget" and front["solutions"]
    assert {tuple(s["values"]) for s in front["solutions"]} == {tuple(t.values) for t in r.study.best_trials}
    assert all(len(s["values"]) == 2 for s in front["solutions"])


def test_joblib_runs_a_batch_in_parallel_under_the_budget(sweep, result):
    sweep(*examples_budget(4500), "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2",
          "hydra.sweeper.n_trials=10", "sleep=0.05", *SPACE, timeout=300)
    r = result()
    assert r.ledger.spent() == 4000.0 and len(r.trials("completed")) == 4
    spans = []
    for number in (0, 1):
        rec = r.record(number)
        spans.append((datetime.fromisoformat(rec["started_at"]), datetime.fromisoformat(rec["ended_at"])))
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1  # the two jobs of the first batch overlapped in time
    assert r.record(0)["info"]["pid"] != r.record(1)["info"]["pid"]


@pytest.mark.slow
def test_a_grid_sweep_visits_the_grid_once(sweep, result):
    sweep(*examples_budget(100000), "hydra/sweeper/sampler=grid", "hydra.sweeper.n_trials=100",
          "x=choice(-1, 0, 1)", "y=range(0, 2)")
    r = result()
    assert sorted((t.params["x"], t.params["y"]) for t in r.study.trials) == [(-1, 0), (-1, 1), (0, 0), (0, 1),
                                                                              (1, 0), (1, 1)]
    assert r.summary["stopped"] == "grid exhausted (6/6 points launched)"


def test_rerunning_an_exhausted_grid_says_the_grid_is_exhausted_not_raise_n_trials(sweep, result):
    args = (*examples_budget(100000), "hydra/sweeper/sampler=grid", "hydra.sweeper.n_trials=100",
            "x=choice(-1, 1)", "y=range(0, 1)")
    sweep(*args)
    again = sweep(*args)
    log = again.stdout + again.stderr
    assert "the grid is exhausted, and raising hydra.sweeper.n_trials adds nothing" in log
    assert "raise hydra.sweeper.n_trials" not in log  # which would run nothing more
    assert len(result().study.trials) == 2  # the rerun added nothing


@pytest.mark.parametrize("override,message", [
    ("hydra.sweeper.budget.limit=0", "hydra.sweeper.budget.limit=0.0 is not allowed; it must be a finite number > 0"),
    pytest.param("hydra.sweeper.budget.limit=-2", "hydra.sweeper.budget.limit=-2.0 is not allowed",
                 marks=pytest.mark.slow),
    ("hydra.sweeper.budget.unit=hours",
     "hydra.sweeper.budget.unit='hours' is not a budget unit; allowed: gpu_hours, flops, examples"),
    ("+hydra.sweeper.params.z='tag(log, interval(0, 1))'",
     "hydra.sweeper.params.z='tag(log, interval(0, 1))' is not a valid distribution"),
    pytest.param("+hydra.sweeper.params.z='range(1,'", "hydra.sweeper.params.z='range(1,' does not parse",
                 marks=pytest.mark.slow),
    ("hydra.sweeper.storage=sqlite:////no/such/dir/x.db",
     "hydra.sweeper.storage='sqlite:////no/such/dir/x.db' cannot be opened"),
    pytest.param("hydra.sweeper.storage=nonsense", "hydra.sweeper.storage='nonsense' cannot be opened",
                 marks=pytest.mark.slow),
    ("hydra.sweeper.budget.default_trial_cost=null", "set hydra.sweeper.budget.default_trial_cost"),
    pytest.param("hydra.sweeper.direction=up",
                 "hydra.sweeper.direction='up' is not allowed; allowed: minimize, maximize", marks=pytest.mark.slow),
])
def test_bad_input_is_a_clear_error_before_any_job_runs(sweep, tmp_path, override, message):
    proc = sweep(*examples_budget(1000), *SPACE, override, check=False)
    assert proc.returncode == 2, proc.stderr  # settings the sweeper's constructor checks too (not Hydra's exit 1)
    assert message in proc.stderr and "Error in call to target" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("record.json"))


def test_storage_password_is_masked_in_logs_records_and_result_files(sweep, result, tmp_path, postgres_url):
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    password = url.password
    with_env = url.render_as_string(hide_password=False).replace(f":{password}@", ":${oc.env:BS_TEST_PG_PW}@")
    proc = sweep(*examples_budget(2000), f"hydra.sweeper.storage={with_env}", "hydra.sweeper.study_name=masked",
                 "hydra.sweeper.n_trials=2", *SPACE, env={"BS_TEST_PG_PW": password})
    r = result(storage=postgres_url)
    assert len(r.trials("completed")) == 2 and r.ledger.spent() == 2000.0
    assert password not in proc.stdout + proc.stderr
    assert f"Storage: {url.render_as_string(hide_password=True)}" in proc.stdout + proc.stderr
    leaks = [p for p in tmp_path.rglob("*") if p.is_file() and password in p.read_text(errors="ignore")]
    assert leaks == []
    assert json.loads((tmp_path / "sweep" / "budget_summary.json").read_text())["storage"].count("***") == 1


@pytest.mark.slow
def test_submitit_local_launcher_runs_trials_under_the_budget(sweep, result):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="hydra-submitit-launcher is not installed")
    sweep(*examples_budget(2500), "hydra/launcher=submitit_local", "hydra.sweeper.n_trials=4", *SPACE, timeout=600)
    r = result()
    assert r.ledger.spent() == 2000.0 and len(r.trials("completed")) == 2
