"""Experiment loggers fed by every run (issue 17 point 3): csv, tensorboard, mlflow, wandb.

Select with the ``logger`` config group, several at once: ``budgetsweep logger=[csv,tensorboard]``.
An own loop gets them from its config's ``logger`` node (``{name: {_target_: ...}}``) through
``budgetsweep.run_context``.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from budgetsweep.loggers.base import MetricLogger, flatten, numeric
from budgetsweep.records import RunStatus

__all__ = ["Guarded", "MetricLogger", "build_loggers", "flatten", "numeric"]

log = logging.getLogger(__name__)


def build_loggers(node: Mapping[str, Any] | None) -> list[MetricLogger]:
    """The loggers a config's ``logger`` node names, ``{name: {_target_: ..., **kwargs}}``; none for
    None or {}. Bad settings and missing packages raise budgetsweep.plan.ConfigError (naming the
    entry) before the run starts, so the app exits 2 or, in a multirun, skips the job alone.
    Each logger comes wrapped so that a failure during the run costs a warning, never the run."""
    if not node:
        return []
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    from budgetsweep.plan import ConfigError

    loggers = []
    for name, spec in node.items():
        if not isinstance(spec, Mapping) or "_target_" not in spec:
            raise ConfigError(f"logger.{name}={spec!r}: expected a mapping with _target_ "
                              f"(a budgetsweep.loggers class, e.g. budgetsweep.loggers.csv.CSVLogger)")
        try:
            made = instantiate(spec, _convert_="all")
        except InstantiationException as exc:  # Hydra's wrapper: the logger's own message is the cause
            raise ConfigError(str(exc.__cause__ or exc)) from exc
        if not isinstance(made, MetricLogger):
            raise ConfigError(f"logger.{name}._target_={spec['_target_']!r} is not a budgetsweep.loggers.MetricLogger")
        loggers.append(Guarded(made))
    return loggers


class Guarded(MetricLogger):
    """A logger whose failure (a tracking server gone, a locked store) is logged once as a warning
    and turns it off for the rest of the run; the run, its metrics.jsonl and its record go on."""

    def __init__(self, inner: MetricLogger) -> None:
        self.inner, self.name, self.failed = inner, inner.name, False

    def start(self, run_dir: str, run_name: str, config: Mapping[str, Any]) -> None:
        self._call("start", run_dir, run_name, config)

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        self._call("log_metrics", step, metrics)

    def finish(self, status: str, summary: Mapping[str, Any]) -> None:
        self._call("finish", status, summary)

    def _call(self, method: str, *args: Any) -> None:
        if self.failed:
            return
        try:
            getattr(self.inner, method)(*args)
        except Exception as exc:  # noqa: BLE001 - any backend error: the record must not depend on it
            if isinstance(getattr(exc, "status", None), RunStatus):
                raise  # the run's own stop (StopRun: a deadline alarm that fired inside a backend call)
            self.failed = True
            log.warning("logger=%s failed in %s and is off for the rest of this run (record.json and "
                        "metrics.jsonl are unaffected): %s: %s", self.name, method, type(exc).__name__, exc)
