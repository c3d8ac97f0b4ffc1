"""The one own-loop call sequence, run as written: the docs' snippet itself (docs/own_loops.md) and
examples/own_loop/train.py, with a config counting train.steps and one counting train.epochs, with and
without data_subset. Each run's examples and learning-rate trace must be the recipe's (the lengths
below are worked out by hand from the documented rules, not from the code under test)."""
import subprocess
import sys

import pytest

from budgetsweep.records import read_metrics, read_record
from budgetsweep.train.schedules import lr_multiplier
from tests.conftest import REPO, doc_blocks

SNIPPET_CONF = """defaults:
  - reduction: full
  - _self_
seed: 0
data: {n_train: 1000}
optim: {name: adamw, lr: 0.01}
train: {batch_size: 50, steps: null, epochs: null, schedule: cosine, warmup_steps: 10, eval_every: 1}
"""


def readme_snippet() -> str:
    """The whole script of docs/own_loops.md (its first Python block)."""
    (_, _, code), *_ = doc_blocks("python", ["docs/own_loops.md"])
    return code


def multirun(script, cwd, args):
    sweep = cwd / "sweep"
    proc = subprocess.run([sys.executable, str(script), "-m", "reduction=full,data_subset",
                           f"hydra.sweep.dir={sweep}", *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    runs = {}
    for path in sorted(sweep.glob("*/record.json")):
        rec = read_record(path)
        assert rec.status == "completed", rec.error
        runs[rec.reduction_label.split("(")[0]] = (rec, [row["lr"] for row in read_metrics(path.parent)])
    return runs


def expected_lrs(lr, steps, warmup, length=None):
    return [lr * lr_multiplier(s, schedule="cosine", length=length or steps, warmup=warmup) for s in range(steps)]


def check(runs, lr, batch, full, proxy):
    """full/proxy: (steps, warmup) expected for the full run and for data_subset (fraction 0.1)."""
    for label, (steps, warmup) in (("full", full), ("data_subset", proxy)):
        rec, lrs = runs[label]
        assert lrs == pytest.approx(expected_lrs(lr, steps, warmup)), label
        assert rec.cost.measured.examples == rec.info["planned_examples"] == steps * batch, label


@pytest.mark.parametrize("length", [["train.steps=40"], ["train.epochs=2"]], ids=["steps", "epochs"])
def test_readme_snippet_follows_the_recipe_schedule(tmp_path, length):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text(SNIPPET_CONF)
    (tmp_path / "train.py").write_text(readme_snippet())
    runs = multirun(tmp_path / "train.py", tmp_path, length)
    # 1000 examples, batch 50: 40 steps (2 epochs), warmup 10; data_subset keeps 100 examples:
    # 2 epochs = 4 steps, or 0.1 x 40 steps = 4, warmup 0.1 x 10 = 1
    check(runs, 0.01, 50, full=(40, 10), proxy=(4, 1))


@pytest.mark.parametrize("length", [["train.steps=100"], ["train.steps=null", "train.epochs=6.4"]],
                         ids=["steps", "epochs"])
def test_example_follows_the_recipe_schedule(tmp_path, length):
    runs = multirun(REPO / "examples" / "own_loop" / "train.py", tmp_path,
                    ["data.n_train=1000", "train.eval_every=1", *length])
    # 1000 examples, batch 64: 100 steps (6.4 epochs), warmup 30; data_subset keeps 100 examples:
    # 6.4 epochs = 10 steps, or 0.1 x 100 steps = 10, warmup 3
    check(runs, 0.01, 64, full=(100, 30), proxy=(10, 3))


def test_calls_that_would_change_the_schedule_are_errors(tmp_path):
    from tests.test_run_context import user_cfg

    import budgetsweep

    cfg = user_cfg("data_subset", **{"train.steps": None, "train.epochs": 2})
    run = budgetsweep.run_context(cfg, run_dir=tmp_path, overrides=[])
    with pytest.raises(ValueError, match=r"run.subset_indices\(len\(train_set\)\)"):
        run.steps()
    with pytest.raises(ValueError, match=r"run.subset_indices\(len\(train_set\)\)"):
        run.lr_at(0)
    keep = run.subset_indices(1000)
    with pytest.raises(ValueError, match="FULL training set's size"):
        run.steps(len(keep))  # the subset's size: the schedule would shrink twice
    assert run.steps() == run.steps(1000) == 4  # ceil(2 x 100 / 64)


def test_readme_snippet_is_reproducible_from_its_seed(tmp_path):
    """Same seed, same objective: `seed` must control the model's initialisation too."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text(SNIPPET_CONF)
    (tmp_path / "train.py").write_text(readme_snippet())
    values = []
    for name in ("a", "b"):
        proc = subprocess.run([sys.executable, "train.py", "train.steps=5", f"hydra.run.dir={name}"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        values.append(read_record(tmp_path / name).objective.value)
    assert values[0] == values[1]
