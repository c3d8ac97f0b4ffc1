"""Studies never merge silently; unlaunched trials are no runs; a finished study says how to run more."""
from __future__ import annotations

import pytest

from tests.sweeper.conftest import SweepResult, examples_budget, run_app


def test_two_commands_with_the_same_study_name_and_default_storage_get_two_studies(tmp_path):
    # a study_name copied from a hydra-optuna-sweeper config; storage null (the shared outputs/budgetsweep.db)
    common = [*examples_budget(10**6), "hydra.sweeper.study_name=sphere", "hydra.sweeper.n_trials=3"]
    run_app(tmp_path, *common, "x=interval(-2, 2)", "y=range(0, 3)")
    a = SweepResult(tmp_path)
    run_app(tmp_path, *common, "x=interval(5, 6)", "y=1")  # another search space and a fixed override
    b = SweepResult(tmp_path)
    assert a.summary["study_name"] != b.summary["study_name"]
    assert a.summary["study_name"].startswith("sphere-") and b.summary["study_name"].startswith("sphere-")
    assert len(a.study.trials) == 3 and len(b.study.trials) == 3  # the second did not count the first's trials
    assert all(5 <= t.params["x"] <= 6 for t in b.study.trials)  # nor report its best parameters
    again = run_app(tmp_path, *common, "x=interval(-2, 2)", "y=range(0, 3)")  # the same command resumes
    assert SweepResult(tmp_path).summary["study_name"] == a.summary["study_name"]
    log = again.stdout + again.stderr
    assert "already has 3 launched trials of n_trials=3; nothing to run. To run more, raise " \
           "hydra.sweeper.n_trials above 3" in log


def test_a_study_shared_on_purpose_with_another_search_space_is_a_clear_error_before_any_trial(tmp_path):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    common = [*examples_budget(10**6), f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=shared",
              "hydra.sweeper.n_trials=2"]
    (tmp_path / "a").mkdir()
    run_app(tmp_path / "a", *common, "x=interval(-2, 2)", "y=range(0, 3)")
    (tmp_path / "b").mkdir()
    proc = run_app(tmp_path / "b", *common, "x=interval(-2, 2)", "y=choice(a, b)", check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "hydra.sweeper.study_name='shared'" in proc.stderr and "was created by another command" in proc.stderr
    assert "parameter y: IntDistribution(" in proc.stderr and "CategoricalDistribution(" in proc.stderr
    assert "parameter x" not in proc.stderr  # only what differs
    assert not list((tmp_path / "b").rglob("record.json"))


def test_rerunning_an_exhausted_study_adds_no_trial_and_unlaunched_trials_are_no_runs(tmp_path):
    args = [*examples_budget(2500), "hydra.sweeper.n_trials=10", "hydra.sweeper.n_jobs=1", "x=interval(-2, 2)"]
    run_app(tmp_path, *args)
    first = SweepResult(tmp_path)
    assert [t.state.name for t in first.study.trials] == ["COMPLETE", "COMPLETE", "WAITING"]
    for _ in range(2):
        again = run_app(tmp_path, *args)
        assert "Stopping: budget exhausted: trial 2 needs 1,000 examples" in again.stdout + again.stderr
        assert "To run more, raise hydra.sweeper.budget.limit" in again.stdout + again.stderr
    r = SweepResult(tmp_path)
    assert [t.state.name for t in r.study.trials] == ["COMPLETE", "COMPLETE", "WAITING"]  # nothing added
    assert [row["trial"] for row in r.summary["trials"]] == [0, 1] and r.summary["n_charged"] == 2
    assert "FAIL" not in [t.state.name for t in r.study.trials]
    # with more budget the waiting trial runs, with the parameters it was asked with
    waiting_x = r.study.trials[2].params["x"]
    run_app(tmp_path, *examples_budget(3000), "hydra.sweeper.n_trials=10", "hydra.sweeper.n_jobs=1",
            "x=interval(-2, 2)")
    r = SweepResult(tmp_path)
    assert r.study.trials[2].state.name == "COMPLETE" and r.study.trials[2].params["x"] == waiting_x
