"""Experiment loggers (issue 17 point 3): each backend, written by a real run and read back with
the backend's own reader (csv module, TensorBoard's EventAccumulator, MLflow's client, the W&B
offline run file)."""
import csv
import json

import pytest

import budgetsweep
from budgetsweep.loggers import build_loggers
from budgetsweep.loggers.csv import CSVLogger
from budgetsweep.records import read_metrics
from tests.loggers.wandb_offline import history_and_summary
from tests.test_run_context import user_cfg

STEPS = ["task=digits", "train.epochs=null", "train.steps=40", "train.eval_every=10", "train.eval_budget_share=1"]


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    """One run with all four loggers (their start-up is the slow part)."""
    from tests.conftest import cli

    where = tmp_path_factory.mktemp("logged")
    cli([*STEPS, "logger=[csv,tensorboard,mlflow,wandb]", f"hydra.run.dir={where / 'run'}"], cwd=where)
    run = where / "run"
    return run, json.loads((run / "record.json").read_text()), read_metrics(run)


def test_csv_has_the_rows_of_metrics_jsonl_and_a_summary(logged_run):
    run, record, rows = logged_run
    with open(run / "metrics.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in table] == [r["step"] for r in rows] == [10, 20, 30, 40]
    assert [float(r["val_loss"]) for r in table] == pytest.approx([r["val_loss"] for r in rows], rel=1e-12)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["objective_value"] == pytest.approx(record["objective"]["value"])
    assert summary["examples"] == record["cost"]["measured"]["examples"] == 40 * 32


def test_tensorboard_events_hold_each_metric_at_its_step(logged_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, record, rows = logged_run
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"tensors": 0, "scalars": 0})
    events.Reload()
    val = events.Scalars("val_loss")
    assert [e.step for e in val] == [10, 20, 30, 40]
    assert [e.value for e in val] == pytest.approx([r["val_loss"] for r in rows], rel=1e-6)  # float32
    assert events.Scalars("summary/test_accuracy")[0].value == pytest.approx(record["metrics"]["test_accuracy"])
    assert {"config/text_summary", "summary/text_summary"} <= set(events.Tags()["tensors"])


def test_mlflow_run_has_params_metric_history_and_status(logged_run, monkeypatch):
    from mlflow import MlflowClient

    run, record, rows = logged_run
    client = MlflowClient(tracking_uri=f"sqlite:///{run.parent / 'outputs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("budgetsweep")
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.status == "FINISHED" and found.data.tags["budgetsweep.status"] == "completed"
    assert found.data.params["recipe.optim.lr"] == str(record["recipe"]["optim"]["lr"])
    assert found.data.params["overrides"] == " ".join(record["overrides"])
    history = client.get_metric_history(found.info.run_id, "val_loss")
    assert [(m.step, m.value) for m in history] == [(r["step"], pytest.approx(r["val_loss"])) for r in rows]
    assert found.data.metrics["summary.examples"] == 40 * 32


def test_wandb_offline_run_holds_history_and_summary(logged_run):
    run, record, rows = logged_run
    (path,) = run.glob("wandb/offline-run-*/run-*.wandb")
    history, summary = history_and_summary(path)
    assert [h["_step"] for h in history] == [10, 20, 30, 40]
    assert [h["val_loss"] for h in history] == pytest.approx([r["val_loss"] for r in rows])
    assert summary["status"] == "completed" and summary["learned"] == record["learned"]["verdict"]


def test_an_own_loop_feeds_the_loggers_of_its_config(tmp_path):
    cfg = user_cfg()
    cfg.logger = {"csv": {"_target_": "budgetsweep.loggers.csv.CSVLogger"}}
    with budgetsweep.run_context(cfg, run_dir=tmp_path / "run", overrides=[]) as run:
        for step in (1, 2):
            run.add_cost(examples=64)
            run.report(step, val_loss=1.0 / step)
        run.report(3, val_loss=0.25, val_accuracy=0.9)  # a column that appears late
    with open(tmp_path / "run" / "metrics.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [r["val_accuracy"] for r in table] == ["", "", "0.9"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["examples"] == 128


def test_bad_logger_entries_are_named():
    with pytest.raises(ValueError, match="logger.x="):
        build_loggers({"x": {"filename": "a.csv"}})
    with pytest.raises(ValueError, match="logger.csv.filename='/abs.csv'"):
        CSVLogger("/abs.csv")
    with pytest.raises(ValueError, match="is not a budgetsweep.loggers.MetricLogger"):
        build_loggers({"x": {"_target_": "collections.OrderedDict"}})
