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
