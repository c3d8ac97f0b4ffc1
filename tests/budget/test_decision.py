"""The launch / wait / skip / stop decision, without Hydra or Optuna."""
import math

import pytest

from budgetsweep.budget.decision import Action, LedgerState, decide
from budgetsweep.budget.ledger import NO_BUDGET, NO_SLOT, RESERVED_OK
from budgetsweep.budget.settings import BudgetSettings

SETTINGS = BudgetSettings(limit=100.0, unit="examples", max_skipped=2)


@pytest.mark.parametrize("state, cheapest, skipped, expected", [
    (LedgerState(RESERVED_OK, 50.0), 10.0, 0, Action.LAUNCH),
    (LedgerState(RESERVED_OK, 0.0), 10.0, 2, Action.LAUNCH),  # the ledger's yes is final
    (LedgerState(NO_SLOT, 50.0), 10.0, 0, Action.FULL),
    (LedgerState(NO_SLOT, 50.0, in_flight=3), 10.0, 0, Action.FULL),
    (LedgerState(NO_BUDGET, 5.0, in_flight=1), 1.0, 0, Action.WAIT),  # the batch may free budget
    (LedgerState(NO_BUDGET, 5.0, in_flight=1), 99.0, 2, Action.WAIT),
    (LedgerState(NO_BUDGET, 5.0), 5.0, 0, Action.SKIP),  # a cheaper config seen so far fits exactly
    (LedgerState(NO_BUDGET, 5.0), 1.0, 1, Action.SKIP),
    (LedgerState(NO_BUDGET, 5.0), 1.0, 2, Action.STOP),  # max_skipped reached
    (LedgerState(NO_BUDGET, 5.0), 5.5, 0, Action.STOP),  # nothing seen fits
    (LedgerState(NO_BUDGET, 0.0), 0.0, 0, Action.SKIP),
])
def test_decide(state, cheapest, skipped, expected):
    assert decide(state, cheapest, skipped, SETTINGS) is expected


def test_no_skips_allowed_stops_at_the_first_refusal():
    settings = BudgetSettings(limit=100.0, unit="examples", max_skipped=0)
    assert decide(LedgerState(NO_BUDGET, 50.0), 1.0, 0, settings) is Action.STOP


def test_a_skip_sequence_ends_after_max_skipped():
    actions = [decide(LedgerState(NO_BUDGET, 5.0), 1.0, skipped, SETTINGS) for skipped in range(4)]
    assert actions == [Action.SKIP, Action.SKIP, Action.STOP, Action.STOP]


@pytest.mark.parametrize("kwargs, message", [
    ({"answer": "maybe", "remaining": 1.0}, "answer='maybe' is not a ledger answer"),
    ({"answer": NO_BUDGET, "remaining": 1.0, "in_flight": -1}, "in_flight=-1"),
])
def test_ledger_state_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LedgerState(**kwargs)


def test_actions_are_their_strings():
    assert Action.STOP == "stop" and math.isinf(LedgerState(RESERVED_OK, math.inf).remaining)


def test_a_stop_with_a_large_share_unspent_names_the_prediction_and_what_remains():
    from budgetsweep.budget.decision import unspent_warning

    # the reported sweep: wide models predicted 12x too slow while completed trials cost far less than what remained
    text = unspent_warning(number=76, predicted=0.0066, basis="calibrated:full (n=12)", remaining=0.0052,
                           limit=0.02, completed=[0.0002, 0.0003, 0.0004], unit="gpu_hours")
    assert text.startswith("The sweep stopped with 26% of the budget unspent (0.0052 of 0.02 gpu_hours): trial 76 "
                           "was predicted to cost 0.0066 gpu_hours (calibrated:full (n=12)), more than remains; "
                           "completed trials cost 0.0003 gpu_hours (median of 3)")
    # the budget spent to one trial's grain (exact examples: 500 left, trials cost 1,000): no warning
    assert unspent_warning(number=3, predicted=1000, basis="plan", remaining=500, limit=3500,
                           completed=[1000, 1000, 1000], unit="examples") is None
    assert unspent_warning(number=3, predicted=1000, basis="plan", remaining=50, limit=3500,
                           completed=[10], unit="examples") is None  # under 10% left
    assert "unspent" in unspent_warning(number=0, predicted=9.0, basis="default", remaining=5.0, limit=5.0,
                                        completed=[], unit="examples")
