"""``logger=wandb``: a Weights & Biases run per job, offline by default (the files stay in
``<run dir>/wandb/``; ``wandb sync`` uploads them later). Needs ``wandb`` (``budgetsweep[loggers]``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from budgetsweep.loggers.base import MetricLogger, numeric

MODES = ("offline", "online", "disabled")


class WandbLogger(MetricLogger):
    """``project``, ``entity``, ``group``, ``tags``: as ``wandb.init``; ``mode``: one of MODES."""

    name = "wandb"

    def __init__(self, project: str = "budgetsweep", mode: str = "offline", entity: str | None = None,
                 group: str | None = None, tags: list[str] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"logger.wandb.mode={mode!r}: expected one of {MODES}")
        if not isinstance(project, str) or not project:
            raise ValueError(f"logger.wandb.project={project!r}: expected a non-empty string")
        try:
            import wandb
        except ImportError as exc:
            raise ImportError("logger=wandb needs wandb: pip install 'budgetsweep[loggers]' (or pip install wandb)") \
                from exc
        self._wandb = wandb
        self.options = {"project": project, "mode": mode, "entity": entity, "group": group,
                        "tags": list(tags) if tags else None}
        self.run = None

    def start(self, run_dir: str, run_name: str, config: Mapping[str, Any]) -> None:
        settings = self._wandb.Settings(silent=True, console="off")  # the job's own log already has its output
        self.run = self._wandb.init(dir=str(Path(run_dir)), name=run_name, config=dict(config), settings=settings,
                                    reinit="create_new", **{k: v for k, v in self.options.items() if v is not None})

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        self.run.log(numeric(metrics), step=int(step))

    def finish(self, status: str, summary: Mapping[str, Any]) -> None:
        if self.run is None:
            return
        self.run.summary.update({"status": status, **summary})
        self.run.finish(exit_code=0 if status != "failed" else 1)
