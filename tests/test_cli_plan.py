"""``budgetsweep-plan``: the same overrides as budgetsweep, one table for a grid, own-loop configs,
nothing written, and bad input as one message naming the key with exit status 2."""
import json
import shlex
import subprocess

import pytest

from budgetsweep.cli import plan_main
from tests.conftest import BIN, REPO, doc_commands

TINY = ["task=digits", "model.hidden=4", "model.depth=1", "train.epochs=1"]
OWN_LOOP = str(REPO / "examples" / "own_loop" / "conf")


def _rows(capsys, argv):
    assert plan_main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_grid_gives_one_row_per_job(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = _rows(capsys, ["-m", *TINY, "reduction=full,data_subset", "optim.lr=1e-3,1e-2"])
    assert len(rows) == 4
    assert [r["overrides"] for r in rows][:2] == [["reduction=full", "optim.lr=0.001"],
                                                   ["reduction=full", "optim.lr=0.01"]]
    full, proxy = rows[0], rows[2]
    assert full["factors"] == {"examples": 1.0, "flops": 1.0, "time": 1.0}
    assert proxy["factors"]["examples"] == pytest.approx(proxy["examples"] / full["examples"])
    assert full["steps"] == 34 and full["batch"] == 32 and full["flops"] > 0 and full["memory_mb"] > 0
    assert not list(tmp_path.iterdir()), "the planner wrote files"


def test_own_loop_configs_plan_examples(capsys):
    rows = _rows(capsys, ["-cp", OWN_LOOP, "reduction=[data_subset,short_schedule]"])
    (row,) = rows
    # the example's 600 steps of 64, cut by 10% of the data and 20% of the steps
    assert row["steps"] == 12 and row["examples"] == 12 * 64 and row["flops"] is None
    assert row["factors"] == {"examples": pytest.approx(0.02)}


@pytest.mark.parametrize("argv, key", [
    # the same message as budgetsweep's (budgetsweep/options.py), listing the options
    (["task=nope"], "task=nope is not an option of config group 'task'; allowed: charlm, digits, teacher_student"),
    (["reduction=nope"], "reduction=nope is not an option of config group 'reduction'; allowed: batch_scaling, "
                         "curriculum, data_subset, distill, eval_subset, full, mixed_precision, model_scale, "
                         "progressive, quantized_eval, short_schedule, synthetic_data, transfer (conf/reduction/)"),
    (["-m", "task=digits", "reduction=full,short_schedule", "reduction.short_schedule.fraction=0.5"],
     "reduction.short_schedule.fraction=0.5 sets a parameter of reduction short_schedule, but "
     "reduction=full,short_schedule gives a job the reduction list full"),
    (["experiment=proxy50", "reduction=full"], "experiment=proxy50 sets parameters of reduction.data_subset"),
    (["task=teacher_student", "experiment=charlm_proxy50"], "experiment=charlm_proxy50 is a preset for task=charlm"),
    (["reduction=full,data_subset"], "reduction=full,data_subset is a sweep: add -m"),
    (["train.eval_budget_share=0"], "train.eval_budget_share=0"),
    (["optim.lrr=0.1"], "optim.lrr=0.1: 'optim' has no key 'lrr' (did you mean optim.lr?); allowed keys in optim: lr, "),
    (["reduction=data_subset", "reduction.data_subset.fraction=2"], "reduction.data_subset.fraction=2"),
    (["--units", "flops,watts"], "--units='flops,watts': unknown unit watts"),
    (["-cp", OWN_LOOP, "--units", "flops"], "--units=flops: this config has no `task`"),
])
def test_bad_input_is_one_message_naming_the_key(capsys, argv, key):
    assert plan_main(argv) == 2
    err = capsys.readouterr().err
    assert key in err and "Traceback" not in err and err.count("\n") == 1


def test_the_console_script_runs_the_readme_commands(tmp_path):
    """Every budgetsweep-plan line of the README and docs/ runs as written, from an empty folder, and writes
    nothing."""
    lines = [line for _, line in doc_commands("budgetsweep-plan ")]
    assert lines, "the docs show no budgetsweep-plan command"
    for line in lines:
        args = shlex.split(line.partition("#")[0].replace("examples/", f"{REPO}/examples/"))[1:]
        proc = subprocess.run([str(BIN / "budgetsweep-plan"), *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "x examples" in proc.stdout
    assert not list(tmp_path.iterdir())
