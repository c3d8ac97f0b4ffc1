"""``logger=csv``: ``metrics.csv`` in the run folder, one row per report, a column per metric seen."""
from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path
from typing import Any, Mapping

from budgetsweep.loggers.base import MetricLogger, numeric
from budgetsweep.records import write_json_atomic, write_text_atomic


class CSVLogger(MetricLogger):
    """Rows are kept in memory and the file rewritten atomically at each report, so a column
    that appears late (a test metric) still gets a header and a crash leaves a readable file.
    ``filename``: relative to the run folder. Also writes ``summary.json`` beside it at the end."""

    name = "csv"

    def __init__(self, filename: str = "metrics.csv") -> None:
        if not isinstance(filename, str) or not filename or Path(filename).is_absolute():
            raise ValueError(f"logger.csv.filename={filename!r}: expected a relative file name")
        self.filename = filename
        self.rows: list[dict[str, float]] = []
        self.path: Path | None = None

    def start(self, run_dir: str, run_name: str, config: Mapping[str, Any]) -> None:
        self.path = Path(run_dir) / self.filename

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        self.rows.append({"step": step, **numeric(metrics)})
        self._write()

    def finish(self, status: str, summary: Mapping[str, Any]) -> None:
        if self.path is not None:
            write_json_atomic(self.path.with_name("summary.json"), {"status": status, **summary})

    def _write(self) -> None:
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        out = StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        write_text_atomic(self.path, out.getvalue())
