"""``logger=tensorboard``: TensorBoard event files in ``<run dir>/tensorboard`` (PyTorch's SummaryWriter).

Needs the ``tensorboard`` package (``pip install 'budgetsweep[loggers]'``)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from budgetsweep.loggers.base import MetricLogger, numeric


class TensorBoardLogger(MetricLogger):
    """Scalars per metric at their step; the configuration and summary as text (tab TEXT), the
    summary's numbers also as ``summary/<name>`` scalars at the last step. ``subdir``: relative to the run folder."""

    name = "tensorboard"

    def __init__(self, subdir: str = "tensorboard") -> None:
        if not isinstance(subdir, str) or not subdir or Path(subdir).is_absolute():
            raise ValueError(f"logger.tensorboard.subdir={subdir!r}: expected a relative folder name")
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # torch raises ImportError without the tensorboard package
            raise ImportError("logger=tensorboard needs the tensorboard package: "
                              "pip install 'budgetsweep[loggers]' (or pip install tensorboard)") from exc
        self._writer_class = SummaryWriter
        self.subdir = subdir
        self.writer = None
        self.last_step = 0

    def start(self, run_dir: str, run_name: str, config: Mapping[str, Any]) -> None:
        self.writer = self._writer_class(log_dir=str(Path(run_dir) / self.subdir))
        self.writer.add_text("config", _as_markdown(config), 0)

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        for key, value in numeric(metrics).items():
            self.writer.add_scalar(key, value, step)
        self.last_step = max(self.last_step, step)
        self.writer.flush()

    def finish(self, status: str, summary: Mapping[str, Any]) -> None:
        if self.writer is None:
            return
        self.writer.add_text("summary", _as_markdown({"status": status, **summary}), self.last_step)
        for key, value in numeric(summary).items():
            self.writer.add_scalar(f"summary/{key}", value, self.last_step)
        self.writer.close()


def _as_markdown(values: Mapping[str, Any]) -> str:
    """A two-column Markdown table, which TensorBoard's text tab renders."""
    rows = "\n".join(f"| {k} | {json.dumps(v, default=str)} |" for k, v in values.items())
    return f"| key | value |\n|---|---|\n{rows}"
