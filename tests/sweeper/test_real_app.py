"""The budget sweeper on budgetsweep's own app: the plan predicts each trial, the record confirms it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from budgetsweep.budget.ledger import Ledger

BIN = Path(sys.executable).parent
TINY = ["task=teacher_student", "task.n_train=256", "task.n_val=64", "task.n_test=64", "train.epochs=1",
        "train.batch_size=64", "train.warmup_steps=0", "train.eval_every=2"]


def budgetsweep(cwd, *args, timeout=300):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    proc = subprocess.run([str(BIN / "budgetsweep"), "-m", "hydra/sweeper=budget", f"hydra.sweep.dir={cwd}/sweep",
                           *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    return proc


def open_results(cwd):
    summary = json.loads((Path(cwd) / "sweep" / "budget_summary.json").read_text())
    storage = f"sqlite:///{Path(cwd) / 'outputs' / 'budgetsweep.db'}"
    study = optuna.load_study(study_name=summary["study_name"], storage=storage)
    ledger = Ledger(storage, summary["study_name"], unit=summary["unit"], limit=summary["limit"])
    return summary, study, ledger


def test_examples_budget_on_the_real_app_is_predicted_exactly_and_never_overspent(tmp_path):
    proc = budgetsweep(tmp_path, *TINY, "hydra.sweeper.budget.unit=examples", "hydra.sweeper.budget.limit=600",
                       "hydra.sweeper.n_trials=10", "hydra.sweeper.n_jobs=1", "optim.lr=tag(log, interval(1e-4, 1e-1))")
    summary, study, ledger = open_results(tmp_path)
    done = [t for t in study.trials if t.user_attrs.get("status") == "completed"]
    assert len(done) == 2 and ledger.spent() == 512.0  # 2 x (4 steps x 64 examples); a 3rd does not fit
    for t in done:
        record = json.loads(Path(t.user_attrs["record_path"]).read_text())
        assert record["cost"]["predicted"] == {"unit": "examples", "value": 256.0}
        assert record["cost"]["measured"]["examples"] == 256 and record["trial"]["number"] == t.number
        assert t.user_attrs["cost"]["basis"] == "plan" and t.user_attrs["config_key"] == record["config_key"]
        assert t.user_attrs["reduction_label"] == record["reduction_label"] == "full"
        assert t.intermediate_values  # the run context reported the objective to the trial
    assert summary["prediction"]["mean_abs_error"] == 0.0
    assert "Stopping: budget exhausted" in proc.stderr + proc.stdout


@pytest.mark.slow
def test_gpu_hours_budget_with_rungs_and_successive_halving(tmp_path):
    budgetsweep(tmp_path, *TINY, "task.n_train=1024", "train.epochs=3", "hydra/sweeper/pruner=successive_halving",
                "hydra.sweeper.budget.unit=gpu_hours", "hydra.sweeper.budget.limit=0.003",
                "hydra.sweeper.budget.assumed_overhead_seconds=1", "optim.lr=tag(log, interval(1e-4, 1e-1))",
                "reduction=[data_subset]", "reduction.data_subset.fraction=choice(0.25,0.5,1.0)")
    summary, study, ledger = open_results(tmp_path)
    finished = [t for t in study.trials if t.user_attrs.get("status") not in (None, "not_launched")]
    assert finished and ledger.spent() <= 0.003 + summary["tolerance"] * max(
        c.reserved for c in ledger.charges() if c.reserved)
    labels = {t.user_attrs["reduction_label"] for t in finished}
    assert all(label.startswith("data_subset") for label in labels)
    bases = [t.user_attrs["cost"]["basis"] for t in finished]
    assert bases[0] == "default" and any(b.startswith("calibrated") for b in bases[1:])


def test_several_directions_on_the_one_objective_app_is_exit_2_before_any_trial(tmp_path):
    # a config switched from hydra-optuna-sweeper with direction: [minimize, maximize] once ran every trial, each
    # failing on its single value, and ended in a RuntimeError traceback
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    proc = subprocess.run([str(BIN / "budgetsweep"), "-m", "hydra/sweeper=budget", f"hydra.sweep.dir={tmp_path}/sweep",
                           *TINY, "hydra.sweeper.direction=[minimize,maximize]", "hydra.sweeper.n_trials=2",
                           "optim.lr=tag(log, interval(1e-4, 1e-1))"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert ("hydra.sweeper.direction=['minimize', 'maximize'] lists 2 objectives; budgetsweep's training app returns "
            "one (task.objective=val_loss): give one direction (minimize or maximize)") in proc.stderr
    assert not any((tmp_path / "sweep").glob("[0-9]*"))
