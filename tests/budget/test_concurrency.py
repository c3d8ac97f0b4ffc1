"""Several sweepers on one study, one contract suite over SQLite and PostgreSQL (the fixture's server):
opening a new database together, n_trials as the study's total, grid points taken once."""
from __future__ import annotations

import multiprocessing
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from budgetsweep.budget.ledger import NO_SLOT, RESERVED_OK, Ledger

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def fresh_url(request, tmp_path):
    """A factory of URLs of new, empty databases on each backend."""
    if request.param == "sqlite":
        return lambda: f"sqlite:///{tmp_path / uuid.uuid4().hex}.db"
    base = request.getfixturevalue("postgres_url")
    admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")

    def new():
        name = f"race_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        return make_url(base).set(database=name).render_as_string(hide_password=False)

    return new


def _open_together(url, barrier, queue):
    import optuna

    from budgetsweep.budget.storage import open_optuna_storage

    try:
        barrier.wait(timeout=60)
        storage = open_optuna_storage(url)
        optuna.create_study(storage=storage, study_name="s", load_if_exists=True)
        Ledger(url, "s", unit="examples", limit=100)
        queue.put("ok")
    except BaseException as exc:  # report, never hang the test
        queue.put(f"{type(exc).__name__}: {exc}")


def test_sweepers_opening_a_new_database_together_all_start(fresh_url):
    ctx = multiprocessing.get_context("spawn")
    failures = []
    for _ in range(4):
        url, n = fresh_url(), 4
        barrier, queue = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=_open_together, args=(url, barrier, queue)) for _ in range(n)]
        for p in procs:
            p.start()
        results = [queue.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        failures += [r for r in results if r != "ok"]
    assert failures == []


def test_a_really_bad_url_keeps_its_clear_message(tmp_path):
    from budgetsweep.budget.storage import open_optuna_storage

    with pytest.raises(ValueError, match="hydra.sweeper.storage='postgresql\\+psycopg2://u:\\*\\*\\*@127.0.0.1:1/x' "
                                         "cannot be opened"):
        open_optuna_storage("postgresql+psycopg2://u:secret@127.0.0.1:1/x")


def _take_slots(url, name, barrier, queue, start):
    ledger = Ledger(url, name, unit="examples", limit=10**9)
    barrier.wait(timeout=60)
    got = [n for n in range(start, start + 20) if ledger.try_reserve(n, 1.0, max_trials=10) == RESERVED_OK]
    queue.put(got)


def test_n_trials_is_the_study_total_taken_atomically_by_every_process(fresh_url):
    url, name = fresh_url(), "slots"
    Ledger(url, name, unit="examples", limit=10**9)
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_take_slots, args=(url, name, barrier, queue, 100 * i)) for i in range(3)]
    for p in procs:
        p.start()
    taken = [n for _ in procs for n in queue.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
    assert len(taken) == 10 and Ledger(url, name, unit="examples", limit=10**9).launched() == 10
    ledger = Ledger(url, name, unit="examples", limit=10**9)
    assert ledger.try_reserve(999, 1.0, max_trials=10) == NO_SLOT
    ledger.release(taken[0])  # a released trial gives its slot back
    assert ledger.try_reserve(999, 1.0, max_trials=10) == RESERVED_OK


def _claim(url, name, barrier, queue, start):
    ledger = Ledger(url, name, unit="examples", limit=10)
    barrier.wait(timeout=60)
    queue.put([(key, ledger.claim(key, start + i)) for i, key in enumerate(f"grid:{g}" for g in range(12))])


def test_each_claim_is_taken_once_across_processes(fresh_url):
    url, name = fresh_url(), "grid"
    Ledger(url, name, unit="examples", limit=10)
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(url, name, barrier, queue, 100 * i)) for i in range(3)]
    for p in procs:
        p.start()
    won = [key for _ in procs for key, ok in queue.get(timeout=120) if ok]
    for p in procs:
        p.join(timeout=60)
    assert sorted(won) == sorted(f"grid:{g}" for g in range(12))  # each point once
    ledger = Ledger(url, name, unit="examples", limit=10)
    owner = ledger.claims()["grid:3"]
    assert ledger.claim("grid:3", owner) and not ledger.claim("grid:3", owner + 1)  # the holder keeps it
