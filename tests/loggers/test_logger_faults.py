"""Loggers that cannot work (issue 17 point 3, tried as a user would): a bad setting is bad input
(exit 2, one message; a multirun skips that job alone), parallel jobs share one new MLflow SQLite
store, and a backend that fails during a run costs a warning, never the run or its record."""
import json
import logging
import multiprocessing
import socket

import pytest

import budgetsweep
from budgetsweep.loggers import MetricLogger, build_loggers
from budgetsweep.plan import ConfigError
from budgetsweep.records import read_metrics
from tests.test_run_context import user_cfg

MLFLOW = "budgetsweep.loggers.mlflow.MLflowLogger"
WANDB = "budgetsweep.loggers.wandb.WandbLogger"


@pytest.mark.parametrize("name, spec, match", [
    ("wandb", {"_target_": WANDB, "mode": "ofline"}, r"^logger.wandb.mode='ofline': expected one of \('offline'"),
    ("mlflow", {"_target_": MLFLOW, "tracking_uri": "sqlite:///{tmp}/a_file/mlflow.db"},
     r"^logger.mlflow.tracking_uri='sqlite:///.*/a_file/mlflow.db': cannot open this store: FileExistsError"),
])
def test_a_bad_setting_is_a_config_error_naming_the_key(tmp_path, name, spec, match):
    (tmp_path / "a_file").write_text("")
    spec = {k: v.format(tmp=tmp_path) for k, v in spec.items()}
    with pytest.raises(ConfigError, match=match):  # the app answers a ConfigError with exit 2
        build_loggers({name: spec})


def test_a_missing_backend_package_is_a_config_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "wandb", None)  # what `import wandb` meets where it is not installed
    with pytest.raises(ConfigError, match=r"logger=wandb needs wandb: pip install 'budgetsweep\[loggers\]'"):
        build_loggers({"wandb": {"_target_": WANDB}})


def test_a_bad_logger_setting_skips_its_job_and_the_multirun_goes_on(tmp_path):
    from tests.conftest import cli

    cli(["-m", "task=digits", "train.epochs=null", "train.steps=10", "logger=csv",
         "logger.csv.filename=/abs.csv,rows.csv", f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path)
    bad, good = (json.loads((tmp_path / "sweep" / str(n) / "record.json").read_text()) for n in (0, 1))
    assert bad["status"] == "failed" and "logger.csv.filename='/abs.csv'" in bad["error"]
    assert good["status"] == "completed" and (tmp_path / "sweep" / "1" / "rows.csv").exists()


def _log_one_run(uri, name, barrier):
    import mlflow  # noqa: F401 - imported before the barrier, so the processes open the store together

    barrier.wait(timeout=120)
    (logger,) = build_loggers({"mlflow": {"_target_": MLFLOW, "tracking_uri": uri}})
    logger.start(".", name, {"lr": 0.1})
    logger.log_metrics(1, {"val_loss": 0.5})
    logger.finish("completed", {"objective_value": 0.5})


def test_parallel_jobs_share_one_new_mlflow_sqlite_store(tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}"
    spawn = multiprocessing.get_context("spawn")  # as joblib's loky workers: fresh processes
    barrier = spawn.Barrier(3)
    jobs = [spawn.Process(target=_log_one_run, args=(uri, f"job{n}", barrier)) for n in range(3)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=300)
    assert [job.exitcode for job in jobs] == [0, 0, 0]  # none lost the race to create the tables
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("budgetsweep").experiment_id])
    assert sorted((r.info.run_name, r.info.status, r.data.metrics["val_loss"]) for r in runs) == [
        (f"job{n}", "FINISHED", 0.5) for n in range(3)]


def test_a_tracking_server_that_is_down_costs_a_warning_not_the_run(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # refused at once instead of minutes of retries
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = user_cfg()
    cfg.logger = {"mlflow": {"_target_": MLFLOW, "tracking_uri": f"http://127.0.0.1:{port}"},
                  "csv": {"_target_": "budgetsweep.loggers.csv.CSVLogger"}}
    with caplog.at_level(logging.WARNING, logger="budgetsweep.loggers"):
        with budgetsweep.run_context(cfg, run_dir=tmp_path / "run", overrides=[]) as run:
            for step in (1, 2):
                run.add_cost(examples=64)
                run.report(step, val_loss=1.0 / step)
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["status"] == "completed" and record["objective"]["value"] == 0.5
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [1, 2]
    assert (tmp_path / "run" / "metrics.csv").read_text().count("\n") == 3  # the other logger still logs
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith("logger=mlflow failed in start and is off for the rest of this run")


class StoppedInside(MetricLogger):
    """A backend call during which the run's budget deadline fires (its alarm raises in whatever runs)."""

    def log_metrics(self, step, metrics):
        from budgetsweep.run_context import BudgetStopped

        raise BudgetStopped("deadline")


def test_a_stop_raised_inside_a_logger_still_stops_the_run(tmp_path):
    cfg = user_cfg()
    cfg.logger = {"stops": {"_target_": f"{__name__}.StoppedInside"}}
    with budgetsweep.run_context(cfg, run_dir=tmp_path / "run", overrides=[]) as run:
        run.add_cost(examples=64)
        run.report(1, val_loss=1.0)
        run.report(2, val_loss=0.5)  # not reached
    assert json.loads((tmp_path / "run" / "record.json").read_text())["status"] == "budget_stopped"
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [1]


def test_an_own_loops_bad_logger_setting_skips_its_job_and_the_multirun_goes_on(tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    shutil.copytree(Path(__file__).resolve().parents[2] / "examples", tmp_path / "examples")
    proc = subprocess.run([sys.executable, "examples/own_loop/train.py", "-m", "+logger=wandb",
                           "logger.wandb.mode=ofline", "seed=0,1", "train.steps=20"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in tmp_path.glob("outputs/sweeps/own_loop/*/*/record.json")]
    assert len(records) == 2 and all(r["status"] == "failed" and "logger.wandb.mode" in r["error"] for r in records)
