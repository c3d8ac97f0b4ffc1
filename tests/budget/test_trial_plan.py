"""The planning step, without a sweep: predictions, the cheapest configuration, job directories."""
import pytest
from omegaconf import OmegaConf

from budgetsweep.budget.cost_model import CostModel, Observation
from budgetsweep.budget.trial_plan import NO_PREDICTION, PlannedTrial, TrialPlanner, contiguous


class FakeTrial:  # only its number is read
    def __init__(self, number):
        self.number = number


class Plan:
    def __init__(self, examples):
        self.reduction_label, self.config_key, self.examples, self.flops = f"rung{examples}", "k", examples, None


class Loader:  # Hydra's config loader's one method the planner uses
    def load_sweep_config(self, config, overrides):
        return OmegaConf.merge(config, OmegaConf.from_dotlist(overrides))


def planner(tmp_path, *, capped=True, subdir="${hydra.job.num}", plan_run=None):
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path), "subdir": subdir},
                                         "job": {"num": 0, "id": 0}}})
    return TrialPlanner(config=config, config_loader=Loader(), plan_run=plan_run,
                        cost_model=CostModel("examples", default_trial_cost=100.0), capped=capped, unit="examples")


def test_a_planned_trial_is_predicted_from_its_plan_and_its_job_dir_is_its_number(tmp_path):
    p = planner(tmp_path, plan_run=lambda cfg, overrides, count_flops: Plan(int(cfg.n)))
    big, small = PlannedTrial(FakeTrial(3), ["n=800"]), PlannedTrial(FakeTrial(4), ["n=200"])
    p.plan(big, [])
    p.plan(small, [])
    assert (big.prediction.cost, big.label, big.job_dir) == (800.0, "rung800", str(tmp_path / "3"))
    assert p.cheapest([]) == 200.0  # the least work seen so far decides skip or stop


def test_without_a_limit_nothing_is_predicted_or_planned(tmp_path):
    p = planner(tmp_path, capped=False, plan_run=lambda *a, **k: pytest.fail("planned without a limit"))
    item = PlannedTrial(FakeTrial(0), [])
    p.plan(item, [])
    assert (item.prediction.cost, item.prediction.basis, item.work) == (0.0, NO_PREDICTION, None)


def test_a_config_that_cannot_be_planned_fails_the_trial_not_the_sweep(tmp_path):
    def bad(cfg, overrides, count_flops):
        raise ValueError("train.steps=-1 is not allowed")

    item = PlannedTrial(FakeTrial(0), [])
    planner(tmp_path, plan_run=bad).plan(item, [])
    assert item.error == "ValueError: train.steps=-1 is not allowed" and item.prediction is None


def test_without_a_plan_the_prediction_comes_from_history(tmp_path):
    p = planner(tmp_path)
    assert p.predict(None, []).cost == 100.0
    assert p.predict(None, [Observation("default", 40.0), Observation("default", 40.0)]).cost == 40.0


def test_consecutive_numbers_launch_together():
    items = [PlannedTrial(FakeTrial(n), []) for n in (2, 3, 5, 6, 7, 9)]
    assert [[i.number for i in g] for g in contiguous(items)] == [[2, 3], [5, 6, 7], [9]]
