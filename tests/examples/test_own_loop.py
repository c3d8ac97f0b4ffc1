"""The README's bring-your-own-loop example under Hydra's basic sweeper."""
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
