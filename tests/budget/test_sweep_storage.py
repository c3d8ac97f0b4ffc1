"""The sweeper's storage view answers as Optuna's cached storage does, with fewer reads (SQLite and PostgreSQL)."""
import optuna
import pytest
from sqlalchemy import event

from budgetsweep.budget.storage import open_optuna_storage
from budgetsweep.budget.sweep_storage import SweepStorage

SPACE = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}


def _study(url, name, storage=None):
    storage = storage if storage is not None else SweepStorage(open_optuna_storage(url))
    return optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                               sampler=optuna.samplers.RandomSampler(seed=0))


def _counting(storage):
    seen = []
    event.listen(storage._backend.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_a_new_trial_is_read_as_the_database_has_it(storage_url, study_name):
    study = _study(storage_url, study_name)
    trial = study.ask(SPACE)
    mine = trial._cached_frozen_trial
    again = optuna.load_study(study_name=study_name, storage=open_optuna_storage(storage_url)).trials[trial.number]
    assert (mine.number, mine.state, mine.datetime_start, mine.params) == \
        (again.number, again.state, again.datetime_start, again.params)
    assert mine.params == {"x": trial.params["x"]}


def test_ask_makes_fewer_queries_than_optunas_cached_storage(storage_url, study_name):
    plain = optuna.create_study(storage=open_optuna_storage(storage_url), study_name=study_name)
    ours = _study(storage_url, study_name)
    counts = []
    for study in (plain, ours):
        seen = _counting(study._storage)
        study.ask()
        counts.append(len(seen))
    # the look for waiting trials is one query, not a cache sync (six), and the new trial is not read back (six)
    assert counts[1] < counts[0] / 2


def test_a_trial_waiting_from_another_process_is_still_popped_first(storage_url, study_name):
    ours = _study(storage_url, study_name)
    ours.tell(ours.ask(), 1.0)
    other = optuna.load_study(study_name=study_name, storage=open_optuna_storage(storage_url))
    other.enqueue_trial({"x": 0.25})
    popped = ours.ask(SPACE)
    assert popped.params == {"x": 0.25} and popped.number == 1
    fresh = ours.ask(SPACE)
    assert fresh.number == 2 and fresh._cached_frozen_trial.state == optuna.trial.TrialState.RUNNING
    assert [t.state.name for t in ours.get_trials()] == ["COMPLETE", "RUNNING", "RUNNING"]


def test_no_waiting_trial_is_an_empty_list_and_the_cache_still_catches_up(storage_url, study_name):
    ours = _study(storage_url, study_name)
    other = optuna.load_study(study_name=study_name, storage=open_optuna_storage(storage_url))
    done = other.ask()
    other.tell(done, 3.0)
    waiting = (optuna.trial.TrialState.WAITING,)
    assert ours._storage.get_all_trials(ours._study_id, states=waiting) == []
    assert [(t.number, t.state.name, t.value) for t in ours.get_trials()] == [(0, "COMPLETE", 3.0)]
    assert ours.ask().number == 1


@pytest.mark.parametrize("reads", [1, 2])
def test_a_new_trial_is_served_once_then_read_from_the_database(tmp_path, reads):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = _study(url, "s")
    trial = study.ask()
    storage = study._storage
    trial.set_user_attr("k", "v")
    for _ in range(reads):
        assert storage.get_trial(trial._trial_id).user_attrs == {"k": "v"}


def test_tpe_reads_the_study_once_per_new_trial_and_still_sees_other_processes(storage_url, study_name):
    storage = SweepStorage(open_optuna_storage(storage_url))
    sampler = optuna.samplers.TPESampler(n_startup_trials=2, constant_liar=True, seed=1)
    ours = optuna.create_study(storage=storage, study_name=study_name, sampler=sampler)
    other = optuna.load_study(study_name=study_name, storage=open_optuna_storage(storage_url))
    for x in (0.1, 0.9):
        other.enqueue_trial({"x": x})
        trial = ours.ask(SPACE)
        ours.tell(trial, trial.params["x"])
    syncs = []
    backend_get_trials = storage._backend._get_trials
    storage._backend._get_trials = lambda *a, **k: syncs.append(1) or backend_get_trials(*a, **k)
    running = other.ask({"x": SPACE["x"]})  # another process's running trial, before ours asks
    trial = ours.ask(SPACE)
    assert len(syncs) == 1  # TPE's two reads: one sync (the waiting look found nothing to pop)
    seen = {t.number: t.state.name for t in ours._storage.get_all_trials(ours._study_id, deepcopy=False)}
    assert seen[running.number] == "RUNNING" and seen[trial.number] == "RUNNING"
    ours.tell(trial, 0.5)
    other.tell(running, 0.4)
    assert [t.state.name for t in ours.get_trials()] == ["COMPLETE"] * 4  # a write ends the reused view
