"""A sweep killed with SIGKILL in the middle of a trial resumes with nothing lost or charged twice."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import json
import time

import pytest

from tests.sweeper.conftest import SweepResult, app_command, examples_budget, run_app

ARGS = [*examples_budget(100000), "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=1", "sleep=0.2",
        "x=interval(-2, 2)", "y=range(0, 3)"]


def ledger_states(db):
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            return [row[0] for row in conn.execute("SELECT state FROM budgetsweep_charges ORDER BY trial_number")]
    except sqlite3.OperationalError:  # not created yet, or busy
        return []


def kill_during_trial_2(tmp_path, args):
    args, env = app_command(tmp_path, *args)
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = tmp_path / "outputs" / "budgetsweep.db"
    deadline = time.monotonic() + 120
    started = tmp_path / "sweep" / "2" / ".hydra"
    while ledger_states(db) != ["committed", "committed", "reserved"] or not started.exists():
        # two trials done, the third reserved and its job started (10 steps x 0.2 s)
        assert proc.poll() is None and time.monotonic() < deadline, "the sweep ended before it could be killed"
        time.sleep(0.05)
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_a_sweep_killed_mid_trial_resumes_with_nothing_lost_or_charged_twice(tmp_path):
    kill_during_trial_2(tmp_path, ARGS)
    first = {n: (tmp_path / "sweep" / str(n) / "record.json").read_text() for n in (0, 1)}
    assert not (tmp_path / "sweep" / "2" / "record.json").exists()

    resumed = run_app(tmp_path, *ARGS)
    r = SweepResult(tmp_path)
    trials = r.study.trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]
    assert trials[2].user_attrs["status"] == "no_record" and trials[2].user_attrs["note"] == "recovered"
    charges = {c.trial: c for c in r.ledger.charges()}
    assert sorted(charges) == [0, 1, 2, 3] and {c.state for c in charges.values()} == {"committed"}
    # no record: charged what was held for it (its prediction and the tolerance the ledger had room for)
    assert charges[2].actual == charges[2].reserved == 1100.0
    assert [charges[n].actual for n in (0, 1, 3)] == [1000.0] * 3  # measured, each charged once
    assert r.ledger.spent() == 4100.0 and r.ledger.reserved() == 0.0
    assert {n: (r.sweep_dir / str(n) / "record.json").read_text() for n in (0, 1)} == first
    assert r.job_dirs() == [0, 1, 2, 3]
    assert "trial 2 was left running by a sweeper that is gone" in resumed.stdout + resumed.stderr


def test_after_recovery_no_trial_record_or_summary_says_running_and_the_log_says_what_was_charged(tmp_path):
    # the job writes a `running` record first, as budgetsweep's app does; SIGKILL leaves it so
    args = [*ARGS, "running_record=true"]
    kill_during_trial_2(tmp_path, args)
    assert json.loads((tmp_path / "sweep" / "2" / "record.json").read_text())["status"] == "running"
    resumed = run_app(tmp_path, *args)
    r = SweepResult(tmp_path)
    killed = r.study.trials[2]
    assert killed.state.name == "FAIL" and killed.user_attrs["status"] == "failed"
    record = json.loads((tmp_path / "sweep" / "2" / "record.json").read_text())
    assert record["status"] == "failed" and "sweeper died" in record["error"] and record["ended_at"]
    row = next(row for row in r.summary["trials"] if row["trial"] == 2)
    assert row["status"] == "failed" and row["actual"] == 1100.0
    log = resumed.stdout + resumed.stderr
    assert "running" not in [t.user_attrs.get("status") for t in r.study.trials]
    assert "charged 1,100 examples (its reservation (its record still says running)); status failed" in log
