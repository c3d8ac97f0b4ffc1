"""Sweeps of the tiny test app (tests/apps/cost_app.py) as real subprocesses, and what they leave."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from budgetsweep.budget.ledger import Ledger
from tests.budget.postgres import postgres_url  # noqa: F401  (a session fixture)

REPO = Path(__file__).resolve().parents[2]


def app_command(cwd, *overrides, module="tests.apps.cost_app", sweeper="budget", env=None):
    """(argv, env) of ``python -m <module> -m hydra/sweeper=<sweeper> ...`` with the sweep directory
    at ``cwd/sweep`` (an override may move it); ``cwd/outputs`` holds the default storage."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "HYDRA_FULL_ERROR": "0", **(env or {})}
    args = [sys.executable, "-m", module, "-m", f"hydra/sweeper={sweeper}", f"hydra.sweep.dir={Path(cwd) / 'sweep'}",
            *overrides]
    return args, full_env


def run_app(cwd, *overrides, module="tests.apps.cost_app", sweeper="budget", check=True, timeout=180, env=None):
    args, full_env = app_command(cwd, *overrides, module=module, sweeper=sweeper, env=env)
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"sweep failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def examples_budget(limit, cost=1000, **extra):
    """Overrides for an exact budget in examples; cost_app's default trial is 10 x 100 examples."""
    out = ["hydra.sweeper.budget.unit=examples", f"hydra.sweeper.budget.limit={limit}",
           f"hydra.sweeper.budget.default_trial_cost={cost}"]
    return out + [f"{k}={v}" for k, v in extra.items()]


class SweepResult:
    def __init__(self, cwd, storage=None):
        self.cwd = Path(cwd)
        self.sweep_dir = self.cwd / "sweep"
        self.summary = json.loads((self.sweep_dir / "budget_summary.json").read_text())
        self.storage = storage or f"sqlite:///{self.cwd / 'outputs' / 'budgetsweep.db'}"
        self.study = optuna.load_study(study_name=self.summary["study_name"], storage=self.storage)
        self.ledger = Ledger(self.storage, self.summary["study_name"], unit=self.summary["unit"],
                             limit=self.summary["limit"], tolerance=self.summary["tolerance"])

    def trials(self, status=None):
        return [t for t in self.study.trials if status is None or t.user_attrs.get("status") == status]

    def record(self, number):
        return json.loads((self.sweep_dir / str(number) / "record.json").read_text())

    def job_dirs(self):
        return sorted(int(p.name) for p in self.sweep_dir.iterdir() if p.is_dir() and p.name.isdigit())


@pytest.fixture
def sweep(tmp_path):
    def _sweep(*overrides, **kw):
        return run_app(tmp_path, *overrides, **kw)

    return _sweep


@pytest.fixture
def result(tmp_path):
    return lambda storage=None: SweepResult(tmp_path, storage)
