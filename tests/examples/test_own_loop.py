"""The bring-your-own-loop example of docs/own_loops.md under Hydra's basic sweeper."""
import subprocess
import sys

from budgetsweep.records import read_record
from tests.conftest import REPO

SCRIPT = REPO / "examples" / "own_loop" / "train.py"
FAST = ["train.steps=100", "train.eval_every=20", "data.n_train=1000"]


def run_example(args, cwd):
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_example_multirun_proxy_and_full_with_a_crashing_job(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_example(["-m", "reduction=full,data_subset", "crash=false,true", f"hydra.sweep.dir={sweep}",
                        *FAST], tmp_path)
    assert proc.returncode == 0, proc.stderr
    recs = [read_record(p) for p in sorted(sweep.glob("*/record.json"))]
    assert len(recs) == 4
    by = {(r.reduction_label.split("(")[0], r.config.get("crash")): r for r in recs}
    assert by[("full", False)].status == "completed"
    assert by[("full", True)].status == "failed" and "crash requested" in by[("full", True)].error
    proxy, full = by[("data_subset", False)], by[("full", False)]
    assert proxy.status == "completed" and proxy.config_key == full.config_key
    assert proxy.recipe["data"]["fraction"] == 0.1


def test_report_compares_the_examples_proxy_and_full_runs(tmp_path):
    from budgetsweep.cli import report_main
    import pandas as pd

    sweep = tmp_path / "sweep"
    proc = run_example(["-m", "reduction=full,data_subset", "optim.lr=0.003,0.01,0.03", f"hydra.sweep.dir={sweep}",
                        *FAST], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert report_main([str(sweep), "--out", str(tmp_path / "report"), "--format", "md,csv"]) == 0
    row = pd.read_csv(tmp_path / "report" / "tables" / "fidelity.csv").iloc[0]
    assert row["configs"] == 3 and row["strategy"].startswith("data_subset")


def test_a_wrong_type_in_the_own_loop_is_exit_2_with_one_message(tmp_path):
    proc = run_example(["optim.lr=fast", f"hydra.run.dir={tmp_path / 'r'}", *FAST], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "optim.lr='fast' has the wrong type (str); optim.lr must be a number (float)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_wrong_type_in_an_own_loop_multirun_fails_that_job_alone(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_example(["-m", "optim.lr=fast,0.01", f"hydra.sweep.dir={sweep}", *FAST], tmp_path)
    assert proc.returncode == 0, proc.stderr
    recs = {r.config["optim.lr"]: r for r in map(read_record, sweep.glob("*/record.json"))}
    assert recs["fast"].status == "failed"
    assert "optim.lr='fast' has the wrong type (str); optim.lr must be a number (float)" in recs["fast"].error
    assert recs[0.01].status == "completed"
