"""The Lightning callback (issue 17 point 4), through examples/lightning/train.py with the real
package on CPU: the reduced recipe reaches the Trainer, cost is metered, metrics reach the record
and the trial, and a budget stop ends the run as budget_stopped."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lightning")

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "lightning" / "train.py"
FAST = ["train.steps=60", "train.eval_every=20", "train.warmup_steps=5"]


def _run(args, cwd):
    proc = subprocess.run([sys.executable, str(EXAMPLE), *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("reduction, steps", [([], 60), (["reduction=[data_subset,short_schedule]",
                                                         "reduction.data_subset.fraction=0.5",
                                                         "reduction.short_schedule.fraction=0.5"], 15)])
def test_the_trainer_runs_the_reduced_recipe_and_the_record_has_its_cost(tmp_path, reduction, steps):
    _run([*FAST, *reduction, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["status"] == "completed"
    # data_subset keeps epochs (half the data: half the steps), short_schedule halves them again
    assert record["info"]["steps"] == steps
    assert record["cost"]["measured"]["examples"] == record["info"]["planned_examples"] == steps * 32
    rows = _rows(tmp_path / "run")
    every = record["recipe"]["train"]["eval_every"]  # the reduced recipe's interval (20, or 5 when compressed)
    assert [r["step"] for r in rows] == list(range(every, steps + 1, every))
    assert record["objective"]["value"] == pytest.approx(rows[-1]["val_loss"])
    assert 0 < record["objective"]["value"] < 2.3  # learned beyond chance (ln 10 = 2.30)


def test_a_budget_sweep_stops_the_trainer_at_its_reservation(tmp_path):
    # a guess of 640 examples against a true 1,920: the first trial stops at its reservation
    _run(["-m", *FAST, "hydra/sweeper=budget", "hydra.sweeper.budget.unit=examples",
          "hydra.sweeper.budget.limit=100000", "hydra.sweeper.budget.default_trial_cost=640",
          "hydra.sweeper.n_trials=1", "hydra.sweeper.budget.safety_margin=0"], tmp_path)
    (path,) = tmp_path.glob("outputs/sweeps/lightning/*/0/record.json")
    record = json.loads(path.read_text())
    assert record["status"] == "budget_stopped"
    reservation = record["cost"]["predicted"]["value"]
    # the job stops once it passes its reservation and the sweeper's 10% tolerance: within one batch of it
    assert reservation * 1.1 < record["cost"]["measured"]["examples"] <= reservation * 1.1 + 32 < 1920
    import optuna

    (study,) = optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}")
    trial = optuna.load_study(study_name=study.study_name,
                              storage=f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}").trials[0]
    assert sorted(trial.intermediate_values) == [r["step"] for r in _rows(path.parent)]  # reported for pruning


def test_the_final_model_is_validated_and_bf16_counts_as_honoured(tmp_path):
    # 60 steps, a validation every 25: Lightning alone validates at 25 and 50 and records step 50's objective
    _run(["train.steps=60", "train.eval_every=25", "train.warmup_steps=5", "reduction=[mixed_precision]",
          "reduction.mixed_precision.dtype=bf16", f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    rows = _rows(tmp_path / "run")
    assert [r["step"] for r in rows] == [25, 50, 60]
    assert record["info"]["steps"] == 60 and record["objective"]["value"] == pytest.approx(rows[-1]["val_loss"])
    assert record["recipe"]["train"]["precision"] == "bf16"
    assert "unhonoured_reductions" not in record["info"]  # the callback gave the Trainer bf16-mixed


def test_fp16_on_cpu_fails_as_the_built_in_trainer_does(tmp_path):
    # Lightning would warn and run bf16-mixed while the record says fp16
    proc = subprocess.run([sys.executable, str(EXAMPLE), *FAST, "reduction=[mixed_precision]",
                           "reduction.mixed_precision.dtype=fp16", f"hydra.run.dir={tmp_path / 'run'}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["status"] == "failed" and "train.precision='fp16' needs a CUDA device" in record["error"]
    assert not (tmp_path / "run" / "metrics.jsonl").read_text()  # nothing trained
