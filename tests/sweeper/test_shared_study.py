"""Several sweepers on one study (issue 11, point 5), on SQLite and on PostgreSQL (the fixture's server):
n_trials is the study's total over all processes, and a shared grid visits each point once."""
from __future__ import annotations

import subprocess
import uuid

import optuna
import pytest

from budgetsweep.budget.ledger import Ledger
from tests.sweeper.conftest import app_command, examples_budget

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def shared(request, tmp_path):
    """(storage URL, study name) both sweepers are pointed at on purpose."""
    name = f"shared-{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}", name
    return request.getfixturevalue("postgres_url"), name


def together(tmp_path, *args, n=2):
    procs = []
    for i in range(n):
        cwd = tmp_path / f"s{i}"
        cwd.mkdir()
        cmd, env = app_command(cwd, *args)
        procs.append(subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
    outs = [p.communicate(timeout=600)[0] for p in procs]
    # the whole tail of each failing sweeper's output (pytest would cut a list of outputs short)
    failed = [f"sweeper {i} exited {p.returncode}:\n{out[-4000:]}" for i, (p, out) in enumerate(zip(procs, outs))
              if p.returncode != 0]
    assert not failed, "\n\n".join(failed)
    return outs


def test_n_trials_is_the_study_total_over_sweepers_started_together(tmp_path, shared):
    url, name = shared
    together(tmp_path, *examples_budget(10**6), f"hydra.sweeper.storage={url}", f"hydra.sweeper.study_name={name}",
             "hydra.sweeper.n_trials=6", "hydra.sweeper.n_jobs=2", "x=interval(-2, 2)")
    study = optuna.load_study(study_name=name, storage=url)
    ran = [t for t in study.trials if t.state.is_finished()]
    assert len(ran) == 6 and Ledger(url, name, unit="examples", limit=10**6).spent() == 6000.0
    assert all(t.state.name in ("COMPLETE", "WAITING") for t in study.trials)


def test_a_grid_shared_by_sweepers_visits_each_point_once(tmp_path, shared):
    url, name = shared
    together(tmp_path, *examples_budget(10**6), f"hydra.sweeper.storage={url}", f"hydra.sweeper.study_name={name}",
             "hydra/sweeper/sampler=grid", "hydra.sweeper.n_trials=100", "hydra.sweeper.n_jobs=2",
             "x=choice(-1, 0, 1)", "y=range(0, 2)")
    study = optuna.load_study(study_name=name, storage=url)
    ran = sorted((t.params["x"], t.params["y"]) for t in study.trials if t.state.name == "COMPLETE")
    assert ran == [(-1, 0), (-1, 1), (0, 0), (0, 1), (1, 0), (1, 1)]
