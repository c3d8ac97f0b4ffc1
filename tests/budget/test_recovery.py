"""Recovery of a dead sweeper's trials as a ledger operation: real SQLite ledger, real Optuna study."""
from __future__ import annotations

import socket

import optuna
import pytest

from budgetsweep.budget import recovery
from budgetsweep.budget.ledger import COMMITTED, RESERVED, Ledger
from budgetsweep.budget.owner import current_owner
from budgetsweep.budget.trial_attrs import OWNER

DEAD = f"{socket.gethostname()}:999999999:deadbeef"  # this host, a pid that cannot exist


@pytest.fixture
def study_and_ledgers(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=url, study_name="s")
    dead = Ledger(url, "s", unit="examples", limit=100.0, owner=DEAD)
    alive = Ledger(url, "s", unit="examples", limit=100.0, owner=current_owner())
    yield study, dead, alive
    dead.dispose()
    alive.dispose()


def test_recover_charges_stale_reservations_and_sorts_the_trials(study_and_ledgers):
    study, dead, alive = study_and_ledgers
    trials = [study.ask() for _ in range(6)]
    dead.reserve(0, 40.0)  # its sweeper died while the job ran: charged at the reservation
    alive.reserve(1, 10.0)  # held by a live sweeper: left alone
    dead.reserve(2, 5.0)
    dead.commit(2, 4.0)  # charged, but Optuna was never told
    dead.reserve(3, 5.0)
    dead.release(3)  # released: it never ran
    trials[4].set_user_attr(OWNER, DEAD)  # asked by a dead sweeper, never reserved
    trials[5].set_user_attr(OWNER, current_owner())  # asked by a live one

    found = recovery.recover(alive, study.get_trials(deepcopy=False), stale_after_seconds=3600,
                             n_objectives=1, unit="examples")

    assert [(o.number, o.reserved, o.outcome.actual) for o in found.finish] == [(0, 40.0, 40.0), (2, 5.0, 5.0)]
    assert found.finish[0].outcome.measured is False  # no record: the reservation, assumed
    assert found.requeue == [(3, "its reservation was released"), (4, "asked by a sweeper that is gone")]
    charges = {c.trial: c for c in alive.charges()}
    assert (charges[0].state, charges[0].actual) == (COMMITTED, 40.0)
    assert (charges[1].state, charges[1].actual) == (RESERVED, None)
    assert (charges[2].state, charges[2].actual) == (COMMITTED, 4.0)  # never charged twice
    assert alive.spent() == 44.0


def test_a_trial_a_live_sweeper_charged_and_has_not_told_yet_is_left_to_it(study_and_ledgers):
    # two sweepers on one study: the other's recovery read trial 0 RUNNING, then its charge COMMITTED, between this
    # one's commit and its tell; finishing it there failed with UpdateFinishedTrialError once this one told Optuna
    study, _, alive = study_and_ledgers
    study.ask()
    alive.reserve(0, 10.0)
    alive.commit(0, 8.0)
    found = recovery.recover(alive, study.get_trials(deepcopy=False), stale_after_seconds=3600,
                             n_objectives=1, unit="examples")
    assert (found.finish, found.requeue) == ([], [])


def test_recover_finds_nothing_in_a_clean_study(study_and_ledgers):
    study, _, alive = study_and_ledgers
    study.tell(study.ask(), 1.0)
    found = recovery.recover(alive, study.get_trials(deepcopy=False), stale_after_seconds=3600,
                             n_objectives=1, unit="examples")
    assert (found.finish, found.requeue) == ([], [])
