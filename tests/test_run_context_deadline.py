"""In gpu_hours a run is stopped at its reservation's deadline even inside one long step, on the
clock that starts with the job (TimedTask), so start-up counts."""
import signal
import time

import budgetsweep
from budgetsweep.budget import job_timer
from budgetsweep.records import read_record
from tests.test_run_context import user_cfg


def hours_cfg(tmp_path, reservation_s):
    cfg = user_cfg()
    cfg.budgetsweep = {"trial": {"number": 0, "study_name": "s", "storage": f"sqlite:///{tmp_path / 's.db'}",
                                 "unit": "gpu_hours", "reservation": reservation_s / 3600, "tolerance": 0.0}}
    return cfg


def test_a_step_longer_than_the_reservation_is_stopped_at_the_deadline(tmp_path):
    finished = []
    with budgetsweep.run_context(hours_cfg(tmp_path, 0.3), run_dir=tmp_path / "run", overrides=[]):
        for _ in range(40):  # one "step" of 4 s with no check in it
            time.sleep(0.1)
        finished.append(True)
    record = read_record(tmp_path / "run")
    assert record.status == "budget_stopped" and not finished
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL  # the timer and its handler are gone


def test_the_clock_starts_with_the_job_so_start_up_is_paid_for(tmp_path):
    cfg = hours_cfg(tmp_path, 0.2)
    seen = {}

    def task(cfg):  # start-up past the whole reservation before the run begins
        time.sleep(0.3)
        with budgetsweep.run_context(cfg, run_dir=tmp_path / "run", overrides=[]) as run:
            seen["entered"] = True
            for _ in range(20):
                time.sleep(0.05)
            seen["ran"] = True
        return run

    job_timer._job_start = time.perf_counter()  # as TimedTask sets it when the job starts
    try:
        task(cfg)
    finally:
        job_timer._job_start = None
    record = read_record(tmp_path / "run")
    assert record.status == "budget_stopped" and seen == {"entered": True}
    assert record.info["startup_seconds"] >= 0.3 and record.cost.measured.wall_seconds >= 0.3


def test_a_deadline_already_past_on_entry_stops_the_run_inside_its_with_block(tmp_path, monkeypatch):
    """A start-up past the whole reservation arms an immediate timer in __enter__; if it fires before
    __enter__ returns (a loaded machine), the stop must wait for the with block, or the exception
    escapes __enter__ and the record stays 'running'. The first timer is made to fire at once."""
    real, fired = signal.setitimer, []

    def fire_at_once(which, seconds, *interval):
        if not fired:
            fired.append(seconds)
            signal.raise_signal(signal.SIGALRM)  # delivered while __enter__ is still running
            return (0.0, 0.0)
        return real(which, seconds, *interval)

    monkeypatch.setattr(signal, "setitimer", fire_at_once)
    entered = []
    job_timer._job_start = time.perf_counter() - 1.0  # start-up already past the 0.2 s reservation
    try:
        with budgetsweep.run_context(hours_cfg(tmp_path, 0.2), run_dir=tmp_path / "run", overrides=[]):
            entered.append(True)
            for _ in range(20):
                time.sleep(0.05)
    finally:
        job_timer._job_start = None
    record = read_record(tmp_path / "run")
    assert fired and entered and record.status == "budget_stopped"


def _raise_budget_stop():
    from budgetsweep.run_context import BudgetStopped

    raise BudgetStopped("the deadline passed while the model was built")


def test_a_stop_wrapped_by_hydra_instantiate_ends_budget_stopped_not_failed(tmp_path):
    # under load the deadline can fire inside hydra.utils.instantiate, which re-raises it wrapped
    from hydra.utils import instantiate

    with budgetsweep.run_context(hours_cfg(tmp_path, 60), run_dir=tmp_path / "run", overrides=[]):
        instantiate({"_target_": "tests.test_run_context_deadline._raise_budget_stop"})
    record = read_record(tmp_path / "run")
    assert record.status == "budget_stopped" and record.error is None
