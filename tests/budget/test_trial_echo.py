"""The trial's identity override is kept out of the launchers' echo (issue 17 point 5)."""
import json
import logging

from budgetsweep.budget.trial_echo import HideTrialOverride

TRIAL = ("++budgetsweep.trial={number:2,study_name:'digits-2036242648',storage:'sqlite:////tmp/o/budgetsweep.db',"
         "unit:examples,reservation:4040.0,tolerance:0.1}")


def test_the_filter_removes_only_the_trial_override():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "\t#%d : %s", (2, f"optim.lr=0.01 {TRIAL} seed=1"),
                               None)
    assert HideTrialOverride().filter(record) is True
    assert record.getMessage() == "\t#2 : optim.lr=0.01 seed=1"
    other = logging.LogRecord("x", logging.INFO, __file__, 1, "Launching %d jobs locally", (1,), None)
    HideTrialOverride().filter(other)
    assert other.getMessage() == "Launching 1 jobs locally"


def test_a_budget_sweep_echoes_the_users_overrides_and_the_job_still_gets_its_trial(tmp_path, run_cli):
    proc = run_cli(["-m", "task=teacher_student", "hydra/sweeper=budget", "hydra.sweeper.n_trials=2",
                    "train.epochs=null", "train.steps=5", "optim.lr=choice(0.01,0.02)"], cwd=tmp_path)
    out = proc.stdout + proc.stderr
    launched = [line for line in out.splitlines() if "#0 : " in line or "#1 : " in line]
    assert len(launched) == 2 and all("optim.lr=0.0" in line for line in launched)
    assert "budgetsweep.trial" not in out
    records = [json.loads(p.read_text()) for p in tmp_path.glob("outputs/sweeps/*/*/*/record.json")]
    assert len(records) == 2 and all(r["trial"]["number"] in (0, 1) for r in records)
