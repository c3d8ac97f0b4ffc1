"""The settling step, without a sweep: one charge, the trial's attributes, an observation, Optuna's state."""
import json

import optuna
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from budgetsweep.budget.cost_model import Prediction
from budgetsweep.budget.ledger import Ledger
from budgetsweep.budget.settings import BudgetSettings
from budgetsweep.budget.settle import TrialSettler
from budgetsweep.budget.trial_attrs import TrialBook
from budgetsweep.budget.trial_plan import PlannedTrial
from budgetsweep.records import Cost, MeasuredCost, Objective, RunRecord, write_record


def settler(tmp_path, unit="gpu_hours"):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=url, study_name="s")
    settings = BudgetSettings.from_mapping({"unit": unit, "limit": 1.0, "default_trial_cost": 0.01})
    ledger = Ledger(url, "s", unit=unit, limit=1.0)
    return TrialSettler(study=study, book=TrialBook(study._storage, "s"), ledger=ledger, settings=settings,
                        directions=["minimize"], planned=False), study, ledger


def test_a_budget_stopped_job_is_charged_its_whole_wall_time_and_learnt_from_as_censored(tmp_path):
    s, study, ledger = settler(tmp_path)
    item = PlannedTrial(study.ask(), [], prediction=Prediction(0.001, "default_trial_cost"), job_dir=str(tmp_path))
    ledger.reserve(item.number, 0.001)
    write_record(tmp_path, RunRecord(
        status="budget_stopped", config_key="k", config={}, overrides=[], recipe={}, full_recipe={}, reductions=[],
        reduction_label="full", seed=0, objective=Objective("val_loss", "minimize", None),
        cost=Cost(measured=MeasuredCost(wall_seconds=3.0)), info={"startup_seconds": 1.5}))
    (tmp_path / "budgetsweep_job.json").write_text(json.dumps({"wall_seconds": 3.6}))
    ret = JobReturn()
    ret.hydra_cfg = OmegaConf.create({"hydra": {"runtime": {"output_dir": str(tmp_path)}}})
    ret.status, ret.return_value = JobStatus.COMPLETED, float("nan")
    result = s.settle(item, ret)
    assert result.actual == ledger.spent() == 3.6 / 3600
    obs = s.history[-1]
    assert obs.censored and obs.startup_seconds == 1.5 and s.stopped_trials == [item.number]
    frozen = study.trials[0]
    assert frozen.state.name == "PRUNED" and frozen.user_attrs["status"] == "budget_stopped"
    assert frozen.user_attrs["cost"]["startup_seconds"] == 1.5
    assert s.load_history()[0].startup_seconds == 1.5  # read back from the trial the same way
