"""SIGTERM (a SLURM time limit, preemption) and SIGINT finalise a run's record: failed, the signal
named, cost and metrics kept; the previous signal handlers come back after the run."""
import json
import signal
import subprocess
import sys
import textwrap

import pytest

from budgetsweep.records import read_record

LOOP = textwrap.dedent("""
    import sys, time
    from omegaconf import OmegaConf
    import budgetsweep

    cfg = OmegaConf.create({"optim": {"lr": 0.01}, "train": {"batch_size": 8, "steps": 10**6, "epochs": None}})
    with budgetsweep.run_context(cfg, run_dir=sys.argv[1], overrides=[]) as run:
        for step in range(run.steps()):
            run.add_cost(examples=8)
            run.report(step + 1, val_loss=1.0 / (step + 1))
            if step == 4:
                print("ready", flush=True)
            time.sleep(0.01)
""")


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, -signal.SIGINT),
                                      (signal.SIGHUP, 128 + signal.SIGHUP)])
def test_a_signal_finalises_the_record(tmp_path, sig, code):
    script = tmp_path / "loop.py"
    script.write_text(LOOP)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "run")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    rec = read_record(tmp_path / "run")
    assert rec.status == "failed" and f"interrupted by {sig.name}" in rec.error and rec.ended_at
    assert rec.cost.measured.examples >= 40 and rec.metrics["val_loss"] <= 0.2
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(steps) * 8 == rec.cost.measured.examples


def test_previous_handlers_come_back(tmp_path):
    from tests.test_run_context import ctx, user_cfg

    def mine(signum, frame):
        pass

    before = signal.signal(signal.SIGTERM, mine)
    try:
        with ctx(user_cfg(), tmp_path) as run:
            assert signal.getsignal(signal.SIGTERM) is not mine
            run.report(0, val_loss=1.0)
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_signal_while_the_record_is_written_does_not_cut_it_short(tmp_path):
    from tests.test_run_context import ctx, user_cfg

    run = ctx(user_cfg(), tmp_path)
    with pytest.raises(SystemExit) as stop:
        with run:
            run.add_cost(examples=64)
            run.report(1, val_loss=0.5)
            run._finalising = True  # as __exit__ sets it first; the handler installed by the run fires now
            signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)
    assert stop.value.code == 128 + signal.SIGTERM
    rec = read_record(tmp_path / "run")
    assert rec.status == "completed" and rec.cost.measured.examples == 64 and rec.ended_at


def test_an_ignored_signal_stays_ignored(tmp_path):
    """Under nohup SIGHUP is ignored: the run must not start dying on a closed terminal."""
    from tests.test_run_context import ctx, user_cfg

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with ctx(user_cfg(), tmp_path) as run:
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # the others are handled
            run.report(0, val_loss=1.0)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)
