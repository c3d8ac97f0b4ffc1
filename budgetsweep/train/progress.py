"""Training progress where the user looks: a tqdm bar on a terminal, log lines everywhere else.

A job under SLURM, nohup or a Hydra launcher writes to a file, where a bar is either hidden or a
wall of carriage returns. There, :class:`Progress` logs one line at a steady interval (and one at
the end): ``train 250/1010 steps (25%), val_loss=0.1311, elapsed 12s, ETA 36s``. Objectives are
shown at 4 significant digits.
"""
from __future__ import annotations

import logging
import math
import sys
import time
from typing import Callable, Mapping

from tqdm.auto import tqdm

log = logging.getLogger(__name__)


def seconds(value: float) -> str:
    """A duration as 42s, 3m05s or 2h07m."""
    value = max(0, int(round(value)))
    if value < 60:
        return f"{value}s"
    if value < 3600:
        return f"{value // 60}m{value % 60:02d}s"
    return f"{value // 3600}h{value % 3600 // 60:02d}m"


class Progress:
    """Progress of one training run of ``total`` optimizer steps.

    ``mode``: "auto" shows a tqdm bar on a terminal (``sys.stderr.isatty()``) and logs lines
    otherwise; "bar"; "log" (a line every ``every_s`` seconds, 0: only the final line); "off"
    (nothing: auxiliary runs such as a teacher's). ``label`` names the job in each line;
    ``objective`` is the metric shown (the latest reported value). ``clock`` is injectable so the
    interval is testable without sleeping. Raises ValueError for a negative interval.
    """

    MODES = ("auto", "bar", "log", "off")

    def __init__(self, total: int, *, mode: str = "auto", every_s: float = 30.0, label: str = "train",
                 objective: str | None = None, clock: Callable[[], float] = time.monotonic):
        if not (isinstance(every_s, (int, float)) and math.isfinite(every_s) and every_s >= 0):
            raise ValueError(f"train.log_every_s={every_s!r}: expected seconds >= 0 (0: only a final line)")
        if mode not in self.MODES:
            raise ValueError(f"progress mode={mode!r}: expected one of {self.MODES}")
        self.total, self.every_s, self.label, self.objective = total, float(every_s), label, objective
        self._clock = clock
        self._start = self._last_line = clock()
        self._step = 0
        self._metrics: Mapping[str, float] = {}
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "log"
        self.mode = mode
        self._bar = tqdm(total=total, desc=label, leave=False, dynamic_ncols=True) if mode == "bar" else None

    def update(self, step: int, metrics: Mapping[str, float] | None = None) -> None:
        """After optimizer step ``step`` (1-based); ``metrics`` when the run just evaluated."""
        if metrics:
            self._metrics = metrics
        if self._bar is not None:
            self._bar.update(step - self._step)
            if metrics and "train_loss" in metrics:
                self._bar.set_postfix(loss=f"{metrics['train_loss']:.4g}")
        elif self.mode == "log" and self.every_s > 0 and self._clock() - self._last_line >= self.every_s and step < self.total:
            log.info(self.line(step))
            self._last_line = self._clock()
        self._step = step

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.mode == "log" and self._step:
            log.info(self.line(self._step))

    def line(self, step: int) -> str:
        elapsed = self._clock() - self._start
        parts = [f"{self.label} {step}/{self.total} steps ({100 * step / max(1, self.total):.0f}%)"]
        name = self.objective if self.objective in self._metrics else None
        if name is None and "train_loss" in self._metrics:
            name = "train_loss"
        if name is not None:
            parts.append(f"{name}={self._metrics[name]:.4g}")
        parts.append(f"elapsed {seconds(elapsed)}")
        if 0 < step < self.total:
            parts.append(f"ETA {seconds(elapsed / step * (self.total - step))}")
        return ", ".join(parts)
