"""The sweep's opening lines and its warnings about the settings."""
import logging
import math

from budgetsweep.budget.settings import BudgetSettings
from budgetsweep.budget.start_log import log_start


class TPESampler:
    pass


def lines(caplog, settings, **kw):
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hydra_plugins.budgetsweep_sweeper._impl"):
        log_start(study_name="s", url="postgresql://u:secret@h/db", sampler=TPESampler(), pruner=None,
                  directions=("minimize",), settings=settings, n_trials=20, **kw)
    return [(r.levelname, r.getMessage()) for r in caplog.records]


def test_a_capped_sweep_names_its_budget_and_hides_the_password(caplog):
    out = lines(caplog, BudgetSettings(limit=1000.0, unit="examples", tolerance=0.1), planned=True,
                limit_changed_from=None)
    assert ("INFO", "Storage: postgresql://u:***@h/db") in out
    assert ("INFO", "Sampler: TPESampler") in out and ("INFO", "Directions: ['minimize']") in out
    assert ("INFO", "Budget: 1,000 examples, tolerance 0.1") in out
    assert not [m for level, m in out if level == "WARNING"]


def test_an_unmeasurable_unit_and_a_changed_limit_are_warned(caplog):
    out = lines(caplog, BudgetSettings(limit=500.0, unit="examples", default_trial_cost=10.0), planned=False,
                limit_changed_from=math.inf)
    warnings = [m for level, m in out if level == "WARNING"]
    assert warnings[0].startswith("hydra.sweeper.budget.unit=examples: the sweeper cannot measure examples itself")
    assert warnings[1] == "Budget limit of study 's' changed from no limit to 500 examples"


def test_without_a_limit_n_trials_bounds_the_sweep(caplog):
    out = lines(caplog, BudgetSettings(unit="gpu_hours"), planned=False, limit_changed_from=None)
    assert ("INFO", "Budget: no limit, n_trials=20 bounds the sweep; costs are measured in gpu_hours "
                    "(set hydra.sweeper.budget.limit to cap it)") in out
    assert not [m for level, m in out if level == "WARNING"]
