"""Every budgetsweep-report command and the Python example of the report docs run as written."""
from __future__ import annotations

import shlex
import shutil

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import create_trial

from budgetsweep.cli import report_main
from tests.conftest import doc_blocks, doc_commands


def commands() -> list[str]:
    """Every budgetsweep-report command of the README and docs/ (the quick start's among them)."""
    return sorted({line for _, line in doc_commands("budgetsweep-report ")})


@pytest.fixture(scope="module")
def study_db(tmp_path_factory):
    """A SQLite study "demo" of six full-scale trials, built once (creating a storage is slow)."""
    path = tmp_path_factory.mktemp("db") / "study.db"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=f"sqlite:///{path}", study_name="demo")
    for i in range(6):
        study.add_trial(create_trial(value=float(i), params={"lr": 0.1 * (i + 1)},
                                     distributions={"lr": FloatDistribution(0.01, 1.0)},
                                     user_attrs={"config_key": f"s{i}", "reduction_label": "full"}))
    return path


@pytest.fixture
def workspace(tmp_path, monkeypatch, write_run, make_record, study_dirs, study_db, fast_figures):
    """The folders the docs name, with synthetic runs, as the current directory (figures not
    rasterised: test_report.py checks real PNGs)."""
    proxy_dir, full_dir, _ = study_dirs
    sweeps = tmp_path / "outputs" / "sweeps"
    sweeps.mkdir(parents=True)
    proxy_dir.rename(sweeps / "proxy")
    full_dir.rename(sweeps / "full")
    for i in range(6):
        write_run(sweeps / "grid", make_record(f"g{i}", "full", 0, float(i)))
        write_run(sweeps / "grid", make_record(f"g{i}", "data_subset(fraction=0.1)", 0, float(i) + 1, factor=0.1))
    for task, sign in (("digits", 1.0), ("moons", -1.0)):  # for --by task: two tasks in one folder
        for i in range(12):
            config = {"task": task, "optim.lr": 0.001 * (i + 1)}
            write_run(sweeps / "tasks", make_record(f"{task}{i}", "full", 0, float(i), config=config))
            write_run(sweeps / "tasks", make_record(f"{task}{i}", "data_subset(fraction=0.1)", 0, sign * i,
                                                    factor=0.1, config=config))
    shutil.copyfile(study_db, tmp_path / "outputs" / "study.db")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_docs_have_commands():
    assert commands(), "no budgetsweep-report command in the docs"


@pytest.mark.parametrize("line", commands())
def test_documented_command_runs(line, workspace, capsys):
    command, _, comment = line.partition("#")
    code = report_main(shlex.split(command)[1:] + ["--resamples", "100"])
    err = capsys.readouterr().err
    if "fails cleanly" in comment:
        assert code == 2 and "Traceback" not in err and err.startswith("budgetsweep-report: error:")
    else:
        assert code == 0, err
        assert list(workspace.rglob("report.*"))


def test_documented_python_example_runs(workspace, capsys):
    (code,) = [b for _, _, b in doc_blocks("python", ["docs/report.md"]) if "budgetsweep.analysis" in b][:1]
    exec(compile(code, "docs/report.md", "exec"), {})
    assert "Recommended proxy" in capsys.readouterr().out
    assert (workspace / "report" / "report.html").exists()
