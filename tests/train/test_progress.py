"""Progress in log files (issue 17 point 5): a line at a steady interval off a terminal, objectives at
4 significant digits, nothing from auxiliary runs."""
import logging

import pytest

from budgetsweep.tasks import Digits
from budgetsweep.train import train
from budgetsweep.train.progress import Progress, seconds
from tests.reporters import RecordingReporter as Log
from tests.train.test_loop import digits_recipe


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_line_every_interval_with_objective_elapsed_and_eta(caplog):
    clock = Clock()
    meter = Progress(100, mode="log", every_s=30, label="job 3", objective="val_loss", clock=clock)
    with caplog.at_level(logging.INFO, logger="budgetsweep.train.progress"):
        for step in range(1, 101):
            clock.now = step * 1.0  # one second per step
            meter.update(step, {"val_loss": 0.131143257021904, "train_loss": 0.2} if step % 20 == 0 else None)
        meter.close()
    lines = [r.getMessage() for r in caplog.records]
    # steps 30, 60, 90 cross the interval, then the final line
    assert lines[0] == "job 3 30/100 steps (30%), val_loss=0.1311, elapsed 30s, ETA 1m10s"
    assert [line.split(" steps")[0] for line in lines] == ["job 3 30/100", "job 3 60/100", "job 3 90/100",
                                                          "job 3 100/100"]
    assert lines[-1] == "job 3 100/100 steps (100%), val_loss=0.1311, elapsed 1m40s"


def test_interval_zero_logs_only_the_end_and_off_logs_nothing(caplog):
    with caplog.at_level(logging.INFO, logger="budgetsweep.train.progress"):
        for mode, every in (("log", 0), ("off", 30)):
            clock = Clock()
            meter = Progress(10, mode=mode, every_s=every, clock=clock)
            for step in range(1, 11):
                clock.now = step * 100.0
                meter.update(step)
            meter.close()
    assert [r.getMessage() for r in caplog.records] == ["train 10/10 steps (100%), elapsed 16m40s"]


@pytest.mark.parametrize("kwargs, match", [({"every_s": -1}, "train.log_every_s=-1"),
                                           ({"mode": "loud"}, "mode='loud'")])
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Progress(10, **kwargs)


def test_durations_read_as_a_person_would():
    assert [seconds(s) for s in (0.4, 42, 185, 7620)] == ["0s", "42s", "3m05s", "2h07m"]


def test_the_loop_logs_progress_off_a_terminal(caplog):
    # pytest's captured stderr is no terminal: the loop's default (progress=None) logs lines
    with caplog.at_level(logging.INFO, logger="budgetsweep.train.progress"):
        train(digits_recipe(log_every_s=0), Digits(), Log(), label="job 7")
        train(digits_recipe(), Digits(), Log(), progress=False)  # an auxiliary run: silent
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("job 7 60/60 steps (100%), val_loss=")
    value = lines[0].split("val_loss=")[1].split(",")[0]
    assert len(value.replace("0.", "", 1).lstrip("0")) <= 4  # 4 significant digits


def test_a_run_stopped_early_still_logs_where_it_stopped(caplog):
    class StopAtSecondReport(Log):
        def report(self, step, metrics):
            super().report(step, metrics)
            if step >= 40:
                raise RuntimeError("pruned")

    with caplog.at_level(logging.INFO, logger="budgetsweep.train.progress"), pytest.raises(RuntimeError):
        train(digits_recipe(log_every_s=0), Digits(), StopAtSecondReport(), label="trial 4")
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("trial 4 40/60 steps (67%), val_loss=")
