"""The ledger contract, one suite over every backend (SQLite, and PostgreSQL started by a fixture)."""
from __future__ import annotations

import math
import multiprocessing
import random

import pytest

from budgetsweep.budget.ledger import COMMITTED, RELEASED, RESERVED, Ledger, LedgerError


def open_ledger(url, name, limit=100.0, unit="examples", **kw):
    return Ledger(url, name, unit=unit, limit=limit, **kw)


def test_reserve_holds_budget_until_commit(storage_url, study_name):
    ledger = open_ledger(storage_url, study_name)
    assert ledger.reserve(0, 40)
    assert ledger.reserve(1, 40)
    assert (ledger.spent(), ledger.reserved(), ledger.remaining()) == (0.0, 80.0, 20.0)
    assert ledger.commit(0, 30) == 30.0
    assert (ledger.spent(), ledger.reserved(), ledger.remaining()) == (30.0, 40.0, 30.0)


def test_reserve_refuses_what_does_not_fit_and_records_nothing(storage_url, study_name):
    ledger = open_ledger(storage_url, study_name)
    assert ledger.reserve(0, 60)
    assert not ledger.reserve(1, 41)
    assert ledger.charge(1) is None
    assert ledger.reserve(1, 40)  # an exact fit is allowed: spent + reserved + predicted == limit
    assert ledger.remaining() == 0.0
    assert not ledger.reserve(2, 1e-9)


def test_commit_is_idempotent_but_never_charges_twice(storage_url, study_name):
    ledger = open_ledger(storage_url, study_name)
    ledger.reserve(0, 50)
    ledger.commit(0, 45)
    ledger.commit(0, 45)  # a resumed sweep meeting a trial it already charged
    assert ledger.spent() == 45.0
    with pytest.raises(LedgerError, match="already charged"):
        ledger.commit(0, 10)


def test_commit_without_reservation_still_charges(storage_url, study_name):
    ledger = open_ledger(storage_url, study_name)
    ledger.commit(7, 12)
    assert ledger.spent() == 12.0 and ledger.charge(7).state == COMMITTED and ledger.charge(7).reserved is None


def test_release_returns_the_reservation(storage_url, study_name):
    ledger = open_ledger(storage_url, study_name)
    ledger.reserve(0, 70)
    ledger.release(0)
    ledger.release(0)  # idempotent
    assert ledger.charge(0).state == RELEASED and ledger.remaining() == 100.0
    with pytest.raises(LedgerError, match="released"):
        ledger.commit(0, 5)
    ledger.reserve(1, 10)
    ledger.commit(1, 10)
    with pytest.raises(LedgerError, match="cannot be released"):
        ledger.release(1)
    with pytest.raises(LedgerError, match="no reservation"):
        ledger.release(99)


def test_a_trial_is_reserved_once(storage_url, study_name):
    ledger = open_ledger(storage_url, study_name)
    ledger.reserve(0, 10)
    with pytest.raises(LedgerError, match="already has a charge"):
        ledger.reserve(0, 10)


@pytest.mark.parametrize("amount", [-1, math.nan, math.inf, "x"])
def test_bad_amounts_are_rejected(storage_url, study_name, amount):
    ledger = open_ledger(storage_url, study_name)
    with pytest.raises(LedgerError, match="finite number >= 0"):
        ledger.reserve(0, amount)
    with pytest.raises(LedgerError, match="finite number >= 0"):
        ledger.commit(0, amount)


def test_unit_is_fixed_per_study_and_limit_may_change(storage_url, study_name):
    first = open_ledger(storage_url, study_name, limit=100)
    first.reserve(0, 10)
    first.commit(0, 10)
    with pytest.raises(LedgerError, match=r"hydra.sweeper.budget.unit='flops'.*'examples'"):
        open_ledger(storage_url, study_name, unit="flops")
    again = open_ledger(storage_url, study_name, limit=250)
    assert again.limit_changed_from == 100.0
    assert again.spent() == 10.0 and again.remaining() == 240.0
    assert open_ledger(storage_url, study_name, limit=250).limit_changed_from is None


def test_books_survive_reopening_and_studies_are_separate(storage_url, study_name):
    ledger = open_ledger(storage_url, study_name)
    ledger.reserve(0, 30)
    ledger.reserve(1, 20)
    ledger.commit(1, 15)
    other = open_ledger(storage_url, study_name + "-other")
    assert other.totals() == (0.0, 0.0)
    reopened = open_ledger(storage_url, study_name)
    assert reopened.totals() == (15.0, 30.0)
    assert [(c.trial, c.state) for c in reopened.charges()] == [(0, RESERVED), (1, COMMITTED)]


def test_heartbeat_touches_only_this_owners_open_reservations(storage_url, study_name):
    mine = open_ledger(storage_url, study_name, owner="host:1:a")
    theirs = open_ledger(storage_url, study_name, owner="host:2:b")
    mine.reserve(0, 10)
    theirs.reserve(1, 10)
    mine.reserve(2, 10)
    mine.commit(2, 10)
    assert mine.heartbeat() == 1
    assert {c.trial for c in mine.open_reservations()} == {0, 1}


@pytest.mark.parametrize("bad", [{"limit": 0}, {"limit": -5}, {"unit": "hours"}])
def test_bad_budget_is_a_clear_error(storage_url, study_name, bad):
    kwargs = {"limit": 100.0, "unit": "examples", **bad}
    with pytest.raises(ValueError, match="limit|unit"):
        Ledger(storage_url, study_name, **kwargs)


# -- concurrency: four processes at once ------------------------------------------------------------
LIMIT = 1000.0


def _hammer(url, study, worker, barrier, out):
    ledger = Ledger(url, study, unit="examples", limit=LIMIT, owner=f"worker-{worker}")
    rng = random.Random(worker)
    barrier.wait()
    granted, worst = [], 0.0
    for i in range(60):
        number = worker * 1000 + i
        cost = float(rng.randint(5, 60))
        if ledger.reserve(number, cost):
            granted.append(cost)
            if rng.random() < 0.3:  # some trials finish cheaper, which frees budget for others
                ledger.commit(number, cost * rng.choice([0.5, 1.0]))
        spent, held = ledger.totals()
        worst = max(worst, spent + held)
    out.put((worker, granted, worst))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.slow])])
def race_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    return request.getfixturevalue("postgres_url")


def test_four_processes_reserving_at_once_never_overspend(race_url, study_name):
    storage_url = race_url
    Ledger(storage_url, study_name, unit="examples", limit=LIMIT)  # tables exist before the race
    ctx = multiprocessing.get_context("fork")  # real processes; fork only skips re-importing
    barrier, out = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(storage_url, study_name, w, barrier, out)) for w in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    ledger = Ledger(storage_url, study_name, unit="examples", limit=LIMIT)
    spent, held = ledger.totals()
    assert spent + held <= LIMIT
    assert all(worst <= LIMIT for _, _, worst in results)
    assert sum(len(g) for _, g, _ in results) == len(ledger.charges())
    assert LIMIT - (spent + held) < 60  # the race filled the budget: what is left fits no more big trial


def test_top_up_holds_only_what_the_budget_has_room_for(storage_url, study_name):
    ledger = open_ledger(storage_url, study_name)
    assert ledger.reserve(0, 40) and ledger.reserve(1, 40)
    assert ledger.top_up(0, 15) == 15.0  # room for all of it
    assert ledger.top_up(1, 15) == 5.0  # only 5 left: no job may be allowed more than is held
    assert (ledger.reserved(), ledger.remaining()) == (100.0, 0.0)
    ledger.commit(0, 30)
    with pytest.raises(LedgerError, match="holds no reservation to top up"):
        ledger.top_up(0, 1)


def test_read_charges_sees_the_books_and_writes_nothing(storage_url, study_name):
    from sqlalchemy import create_engine, inspect

    from budgetsweep.budget.ledger import read_charges

    if storage_url.startswith("sqlite"):  # a storage the budget sweeper never used: no tables, none created
        assert read_charges(storage_url, study_name) == []
        assert not inspect(create_engine(storage_url)).has_table("budgetsweep_charges")
    ledger = open_ledger(storage_url, study_name)
    ledger.reserve(0, 40)
    ledger.reserve(1, 30)
    ledger.commit(0, 35)
    assert read_charges(storage_url, study_name) == ledger.charges()
    assert [(c.trial, c.state, c.actual) for c in read_charges(storage_url, study_name)] == [
        (0, COMMITTED, 35.0), (1, RESERVED, None)]
    assert read_charges(storage_url, study_name + "-other") == []
