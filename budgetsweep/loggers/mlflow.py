"""``logger=mlflow``: an MLflow run per job through ``MlflowClient`` (no global active run, so
parallel jobs in one process do not mix). Default store: a local SQLite database,
``outputs/mlflow.db`` (MLflow 3 keeps its ``./mlruns`` file store in maintenance mode and refuses
it unless ``MLFLOW_ALLOW_FILE_STORE=true``); look at it with ``mlflow ui --backend-store-uri
sqlite:///outputs/mlflow.db``. Needs ``mlflow`` or ``mlflow-skinny`` (``budgetsweep[loggers]``)."""
from __future__ import annotations

import time
from typing import Any, Mapping

from budgetsweep.loggers.base import MetricLogger, numeric

# MLflow's own limits: a parameter value's length, and entries per log_batch call
_PARAM_CHARS, _BATCH = 6000, 100
_STATUS = {"completed": "FINISHED", "failed": "FAILED"}  # pruned / budget_stopped: KILLED


class MLflowLogger(MetricLogger):
    """``tracking_uri``: any MLflow store URI; ``experiment``: created when missing; ``tags``: added to the run."""

    name = "mlflow"

    def __init__(self, tracking_uri: str = "sqlite:///outputs/mlflow.db", experiment: str = "budgetsweep",
                 tags: Mapping[str, str] | None = None) -> None:
        for key, value in (("tracking_uri", tracking_uri), ("experiment", experiment)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"logger.mlflow.{key}={value!r}: expected a non-empty string")
        try:
            from mlflow import MlflowClient
        except ImportError as exc:
            raise ImportError("logger=mlflow needs MLflow: pip install 'budgetsweep[loggers]' "
                              "(or pip install mlflow-skinny)") from exc
        try:
            with _store_lock(tracking_uri):  # parallel jobs (joblib) would race to create a new store's tables
                self.client = MlflowClient(tracking_uri=tracking_uri)
        except Exception as exc:
            raise ValueError(f"logger.mlflow.tracking_uri={tracking_uri!r}: cannot open this store: "
                             f"{type(exc).__name__}: {exc}") from exc
        self.experiment, self.tags = experiment, dict(tags or {})
        self.run_id: str | None = None

    def start(self, run_dir: str, run_name: str, config: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        found = self.client.get_experiment_by_name(self.experiment)
        experiment_id = found.experiment_id if found else self._create_experiment()
        run = self.client.create_run(experiment_id, run_name=run_name,
                                     tags={"budgetsweep.run_dir": str(run_dir), **self.tags})
        self.run_id = run.info.run_id
        params = [Param(k, str(v)[:_PARAM_CHARS]) for k, v in config.items()]
        for i in range(0, len(params), _BATCH):
            self.client.log_batch(self.run_id, params=params[i:i + _BATCH])

    def _create_experiment(self) -> str:
        try:
            return self.client.create_experiment(self.experiment)
        except Exception:  # another job created it first
            return self.client.get_experiment_by_name(self.experiment).experiment_id

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        rows = [Metric(k, v, now, int(step)) for k, v in numeric(metrics).items()]
        for i in range(0, len(rows), _BATCH):
            self.client.log_batch(self.run_id, metrics=rows[i:i + _BATCH])

    def finish(self, status: str, summary: Mapping[str, Any]) -> None:
        if self.run_id is None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        rows = [Metric(f"summary.{k}", v, now, 0) for k, v in numeric(summary).items()]
        self.client.log_batch(self.run_id, metrics=rows,
                              tags=[_tag("budgetsweep.status", status)] + [_tag(f"summary.{k}", v)
                                                                         for k, v in summary.items()
                                                                         if not isinstance(v, (int, float))])
        self.client.set_terminated(self.run_id, _STATUS.get(status, "KILLED"))


def _store_lock(tracking_uri: str):
    """For a SQLite store (``sqlite:///relative.db``, ``sqlite:////absolute.db``): its folder made and
    an inter-process lock beside it (``<db>.lock``), held while MLflow creates or migrates its tables;
    for other stores, nothing."""
    import contextlib
    from pathlib import Path

    if not tracking_uri.startswith("sqlite:///"):
        return contextlib.nullcontext()
    from filelock import FileLock  # a dependency of torch

    path = Path(tracking_uri[len("sqlite:///"):])
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path) + ".lock")


def _tag(key: str, value: Any):
    from mlflow.entities import RunTag

    return RunTag(key, str(value)[:_PARAM_CHARS])
