"""Filling a batch with reserved trials and keeping the ones not launched, on a real ledger (SQLite),
without Hydra or Optuna (the book, planner and settler are small stand-ins recording their calls)."""
import pytest

from budgetsweep.budget.cost_model import Prediction
from budgetsweep.budget.decision import Action
from budgetsweep.budget.ledger import Ledger
from budgetsweep.budget.reservations import Reservations
from budgetsweep.budget.settings import BudgetSettings
from budgetsweep.budget.trial_plan import PlannedTrial


class FakeTrial:
    def __init__(self, number):
        self.number = number


class Book:  # TrialBook's writes, recorded
    def __init__(self):
        self.calls = []

    def write_status(self, trial, status, *, note=None, error=None):
        self.calls.append(("status", trial.number, status))

    def write_owner(self, trial, owner):
        self.calls.append(("owner", trial.number, owner))

    def wait(self, number, why):
        self.calls.append(("wait", number, why))


class Planner:  # predictions are the trial's cost as given; the cheapest seen is fixed
    def __init__(self, cheapest):
        self.cheapest_cost = cheapest

    def predict(self, work, history):
        return Prediction(work, "given")

    def cheapest(self, history):
        return self.cheapest_cost


class Settler:
    def __init__(self):
        self.history, self.told = [], []

    def tell(self, number, state):
        self.told.append((number, state))


def asker(costs, error_at=()):
    numbers = iter(range(len(costs)))

    def ask():
        n = next(numbers, None)
        if n is None:
            return None
        item = PlannedTrial(FakeTrial(n), [f"x={n}"], work=costs[n], prediction=Prediction(costs[n], "given"))
        item.error = "ConfigError: bad" if n in error_at else None
        return item
    return ask


def reservations(tmp_path, *, limit=100.0, n_jobs=2, n_trials=10, cheapest=1.0, max_skipped=10):
    settings = BudgetSettings(limit=limit, unit="examples", tolerance=0.0, max_skipped=max_skipped)
    ledger = Ledger(f"sqlite:///{tmp_path / 'db.sqlite'}", "s", unit="examples", limit=limit)
    book, settler = Book(), Settler()
    held = Reservations(ledger=ledger, book=book, planner=Planner(cheapest), settler=settler, settings=settings,
                        owner="me", n_trials=n_trials, n_jobs=n_jobs)
    return held, ledger, book, settler


def test_a_batch_fills_up_to_n_jobs_with_reserved_trials(tmp_path):
    held, ledger, _, _ = reservations(tmp_path)
    fill = held.fill(5, asker([30.0, 30.0, 30.0]))
    assert [i.number for i in fill.batch] == [0, 1] and fill.action is None
    assert ledger.remaining() == pytest.approx(40.0)


def test_a_trial_that_does_not_fit_beside_the_batch_waits_for_it_and_is_predicted_again(tmp_path):
    held, ledger, book, _ = reservations(tmp_path)
    ask = asker([60.0, 60.0])
    fill = held.fill(5, ask)
    assert [i.number for i in fill.batch] == [0] and fill.action == Action.WAIT and fill.refused.number == 1
    assert held.carry is fill.refused and ("owner", 1, "me") in book.calls
    ledger.commit(0, 10.0)  # the batch is charged: now it fits
    again = held.fill(5, ask)
    assert [i.number for i in again.batch] == [1]


def test_a_trial_too_big_with_a_cheaper_one_seen_is_skipped_and_requeued_at_the_end(tmp_path):
    held, _, book, _ = reservations(tmp_path, n_jobs=1, cheapest=5.0)
    fill = held.fill(1, asker([500.0]))
    assert fill.action == Action.SKIP and fill.batch == []
    held.skip(fill.refused)
    assert held.skipped == 1 and held.carry is None and ("status", 0, "not_launched") in book.calls
    held.requeue()
    assert ("wait", 0, "its reservation does not fit the budget") in book.calls and held.parked == []


def test_nothing_cheaper_fits_with_nothing_in_flight_stops(tmp_path):
    held, _, _, _ = reservations(tmp_path, n_jobs=1, cheapest=500.0)
    fill = held.fill(1, asker([500.0]))
    assert fill.action == Action.STOP and fill.refused.number == 0
    held.requeue()  # the refused trial was carried: it goes back to the queue too
    assert held.carry is None


def test_a_trial_whose_config_cannot_run_fails_unlaunched_and_holds_no_slot(tmp_path):
    held, ledger, book, settler = reservations(tmp_path, n_jobs=2, n_trials=3)
    fill = held.fill(2, asker([10.0, 10.0], error_at=(0,)))
    assert [i.number for i in fill.failed] == [0] and [i.number for i in fill.batch] == [1]
    assert settler.told == [(0, "FAIL")] and ("status", 0, "invalid_config") in book.calls
    assert held.invalid == 1 and held.slots_left(ledger.launched()) == 1


def test_a_prediction_with_a_floor_is_cut_to_the_budget_left(tmp_path):
    held, ledger, _, _ = reservations(tmp_path, n_jobs=1, limit=100.0)
    item = PlannedTrial(FakeTrial(0), [], prediction=Prediction(150.0, "censored", floor=80.0))
    assert held.reserve(item) == "reserved"
    assert item.prediction.cost == pytest.approx(100.0) and item.prediction.basis.endswith("cut to the budget left")


def test_a_grid_with_no_point_left_ends_the_batch_as_full(tmp_path):
    held, _, _, _ = reservations(tmp_path)
    assert held.fill(5, lambda: None).action == Action.FULL
