import math

import pytest

from budgetsweep.budget.settings import BudgetSettings


def test_defaults_need_only_a_limit():
    s = BudgetSettings(limit=1.0)
    assert s.unit == "gpu_hours" and s.tolerance == 0.1 and s.max_skipped == 10


@pytest.mark.parametrize("kwargs,message", [
    ({"limit": 0}, "hydra.sweeper.budget.limit=0 is not allowed; it must be a finite number > 0"),
    ({"limit": -3.5}, "hydra.sweeper.budget.limit=-3.5 is not allowed"),
    ({"limit": math.inf}, "hydra.sweeper.budget.limit=inf is not allowed; it must be a finite number > 0 (or null)"),
    ({"limit": 1, "unit": "hours"}, "hydra.sweeper.budget.unit='hours' is not a budget unit; allowed: gpu_hours"),
    ({"limit": 1, "tolerance": -0.1},
     "hydra.sweeper.budget.tolerance=-0.1 is not allowed; it must be a finite number >= 0"),
    ({"limit": 1, "default_trial_cost": 0}, "hydra.sweeper.budget.default_trial_cost=0 is not allowed"),
    ({"limit": 1, "max_skipped": -1}, "hydra.sweeper.budget.max_skipped=-1 is not allowed"),
    ({"limit": 1, "stale_after_seconds": 10}, "hydra.sweeper.budget.stale_after_seconds=10 is not allowed"),
])
def test_bad_budget_names_key_value_and_allowed(kwargs, message):
    with pytest.raises(ValueError) as err:
        BudgetSettings(**kwargs)
    assert message in str(err.value)


def test_unknown_setting_is_named():
    with pytest.raises(ValueError, match="hydra.sweeper.budget.limt is not a budget setting; allowed: .*limit"):
        BudgetSettings.from_mapping({"limt": 1})


def test_no_limit_is_no_cap_not_an_error():
    s = BudgetSettings()  # an app written for hydra-optuna-sweeper sets no budget
    assert s.limit is None and not s.capped and s.default_trial_cost is None
    assert BudgetSettings(limit=2.0).capped
