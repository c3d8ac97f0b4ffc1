"""The issue's acceptance commands, as a user types them (slow: they train real models)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from budgetsweep.budget.ledger import Ledger
from tests.sweeper.conftest import app_command, examples_budget

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def budgetsweep(cwd, *args):
    proc = subprocess.run([str(BIN / "budgetsweep"), "-m", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    return proc


def only_sweep(cwd):
    (summary_path,) = Path(cwd, "outputs", "sweeps").glob("*/*/budget_summary.json")
    summary = json.loads(summary_path.read_text())
    storage = f"sqlite:///{Path(cwd) / 'outputs' / 'budgetsweep.db'}"
    ledger = Ledger(storage, summary["study_name"], unit=summary["unit"], limit=summary["limit"])
    return summary, optuna.load_study(study_name=summary["study_name"], storage=storage), ledger


def test_examples_budget_on_teacher_student(tmp_path):
    budgetsweep(tmp_path, "task=teacher_student", "hydra/sweeper=budget", "hydra.sweeper.budget.unit=examples",
                "hydra.sweeper.budget.limit=200000", "hydra.sweeper.n_trials=50",
                "optim.lr=tag(log, interval(1e-4, 1e-1))")
    summary, study, ledger = only_sweep(tmp_path)
    assert ledger.spent() == 4 * 40960 <= 200000 < 5 * 40960  # 4 trials fit; the 5th would not
    assert summary["stopped"].startswith("budget exhausted")


def test_gpu_hours_budget_on_digits_with_successive_halving(tmp_path):
    budgetsweep(tmp_path, "task=digits", "hydra/sweeper=budget", "hydra/sweeper/pruner=successive_halving",
                "hydra.sweeper.budget.unit=gpu_hours", "hydra.sweeper.budget.limit=0.01",
                "optim.lr=tag(log, interval(1e-4, 1e-1))", "reduction=[data_subset]",
                "reduction.data_subset.fraction=choice(0.05,0.1,0.25)")
    summary, study, ledger = only_sweep(tmp_path)
    assert 0 < ledger.spent() <= 0.01 and ledger.reserved() == 0.0
    # wall-clock costs: trials may be pruned or stop themselves on a busy machine; each is accounted
    assert all(r["predicted"] and r["actual"] for r in summary["trials"] if r["ledger"] == "committed")
    assert summary["stopped"].startswith(("budget exhausted", "n_trials reached"))


def test_joblib_batch_under_the_same_budget(tmp_path):
    budgetsweep(tmp_path, "hydra/sweeper=budget", "hydra/launcher=joblib", "hydra.sweeper.n_jobs=2",
                "task=teacher_student", "task.n_train=512", "train.epochs=2", "hydra.sweeper.budget.unit=examples",
                "hydra.sweeper.budget.limit=4000", "optim.lr=tag(log, interval(1e-4, 1e-1))")
    summary, study, ledger = only_sweep(tmp_path)
    assert ledger.spent() == 3 * 1024 and summary["n_charged"] == 3  # batches of two: 2, then 1 that fits


def test_two_sweepers_share_one_postgresql_study_and_budget(tmp_path, postgres_url):
    args = [*examples_budget(6000), f"hydra.sweeper.storage={postgres_url}", "hydra.sweeper.study_name=shared",
            "hydra.sweeper.n_trials=20", "hydra.sweeper.n_jobs=1", "sleep=0.05", "x=interval(-2, 2)"]
    procs = []
    for name in ("a", "b"):
        cmd, env = app_command(tmp_path / name, *args)
        (tmp_path / name).mkdir()
        procs.append(subprocess.Popen(cmd, cwd=tmp_path / name, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    ledger = Ledger(postgres_url, "shared", unit="examples", limit=6000)
    assert ledger.spent() == 6000.0 and ledger.reserved() == 0.0
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    ran = [t for t in study.trials if t.user_attrs.get("status") == "completed"]
    assert len(ran) == 6 and len({t.number for t in ran}) == 6
    dirs = sorted(int(p.name) for name in ("a", "b") for p in (tmp_path / name / "sweep").iterdir() if p.name.isdigit())
    assert dirs == sorted(t.number for t in ran)  # each job's directory is its trial's number
