from datetime import datetime

import pytest

from budgetsweep.budget.ledger import Charge
from budgetsweep.budget.summary import build_summary, summary_table


def charge(trial, reserved, actual, state="committed"):
    return Charge(trial, state, reserved, actual, "full", None, None, datetime.now(), None)


def test_summary_totals_and_prediction_error_over_completed_trials():
    charges = [charge(0, 100.0, 90.0), charge(1, 100.0, 120.0), charge(2, 100.0, 30.0),
               charge(3, 50.0, None, "reserved")]
    trials = {0: {"status": "completed"}, 1: {"status": "completed"}, 2: {"status": "pruned"}, 3: {}}
    s = build_summary(study_name="s", storage="sqlite:///x", unit="examples", limit=400.0, tolerance=0.1, spent=240.0,
                      reserved=50.0, charges=charges, trials=trials, n_trials=10, stopped="budget exhausted")
    assert s["remaining"] == 110.0 and s["remaining_fraction"] == pytest.approx(0.275)
    assert s["prediction"]["n"] == 2
    assert s["prediction"]["mean_abs_error"] == pytest.approx(15.0)
    assert s["prediction"]["mean_abs_relative_error"] == pytest.approx(0.15)
    assert [r["error"] for r in s["trials"]] == [-10.0, 20.0, -70.0, None]
    table = summary_table(s)
    assert "spent 240, reserved 50, remaining 110 of 400 (27.5%)" in table
    assert "mean absolute 15 examples (15.0% of the prediction)" in table


def test_a_sweep_without_limit_says_nothing_was_predicted():
    charges = [charge(0, float("inf"), 2e-5), charge(1, float("inf"), 1e-5)]
    s = build_summary(study_name="s", storage="sqlite:///x", unit="gpu_hours", limit=None, tolerance=0.1,
                      spent=3e-5, reserved=0.0, charges=charges, trials={0: {"status": "completed"},
                                                                          1: {"status": "completed"}},
                      n_trials=2, stopped=None)
    table = summary_table(s)
    assert "no limit" in table and "no trial cost was predicted" in table
    assert "no completed trial" not in table  # both completed: the old line was wrong


def test_a_long_reduction_label_is_shown_whole_and_the_columns_stay_aligned():
    long = "data_subset(fraction=0.05)+short_schedule(fraction=0.2,mode=x)"
    assert len(long) >= 60
    charges = [Charge(0, "committed", 100.0, 90.0, long, None, None, datetime.now(), None),
               charge(1, 100.0, 120.0)]
    s = build_summary(study_name="s", storage="sqlite:///x", unit="examples", limit=400.0, tolerance=0.1, spent=210.0,
                      reserved=0.0, charges=charges, trials={0: {"status": "completed", "label": long},
                                                             1: {"status": "completed"}}, n_trials=2, stopped=None)
    lines = summary_table(s).splitlines()
    row = next(line for line in lines if long in line)
    assert row.split()[2] == long  # intact, not cut at 24 characters
    header, full_row = lines[1], next(line for line in lines if " full " in line)
    assert len(header) == len(row) == len(full_row)  # one column width for every row
