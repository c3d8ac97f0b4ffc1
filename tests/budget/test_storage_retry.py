"""budgetsweep/budget/storage_retry.py: a study's SQLite file locked by another connection for a moment is
waited for (reads and writes), any other database error is raised at once and named."""
from __future__ import annotations

import pickle
import sqlite3
import subprocess
import sys
import threading
import textwrap

import optuna
import pytest
from optuna.exceptions import StorageInternalError
from optuna.trial import TrialState

from budgetsweep.budget import storage_retry
from budgetsweep.budget.storage_retry import RetryingRDBStorage, explain, is_transient

QUICK = {"connect_args": {"timeout": 0.05}}  # SQLite's own wait, short: the lock outlasts it


def _study(tmp_path, cls):
    """A study with one running trial in a rollback-journal SQLite file (readers wait for a writer there)."""
    db = tmp_path / "s.db"
    storage = cls(f"sqlite:///{db}", engine_kwargs=QUICK)
    study = optuna.create_study(storage=storage, study_name="s")
    trial_id = storage.create_new_trial(study._study_id)
    return db, storage, trial_id


def _lock_for(db, seconds: float) -> threading.Thread:
    """Another connection holds the file's exclusive lock for ``seconds``, from now."""
    conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(seconds, lambda: (conn.execute("COMMIT"), conn.close()))
    release.start()
    return release


def test_optunas_own_storage_fails_on_the_lock_this_one_waits_for(tmp_path):
    db, plain, trial_id = _study(tmp_path, optuna.storages.RDBStorage)
    release = _lock_for(db, 2.0)  # long enough that the call surely starts while it is held
    with pytest.raises(StorageInternalError) as failed:
        plain.get_trial(trial_id)
    release.join()
    assert is_transient(failed.value)
    assert "database is locked" in explain(failed.value, "sqlite:///s.db")


def test_a_read_and_a_write_wait_out_a_lock_held_for_a_moment(tmp_path):
    db, storage, trial_id = _study(tmp_path, RetryingRDBStorage)
    release = _lock_for(db, 0.5)
    assert storage.get_trial(trial_id).state == TrialState.RUNNING
    release.join()
    release = _lock_for(db, 0.5)
    assert storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [1.5]) is True
    release.join()
    [trial] = optuna.load_study(study_name="s", storage=f"sqlite:///{db}").trials
    assert (trial.state, trial.values) == (TrialState.COMPLETE, [1.5])  # written once


def test_trial_attributes_written_by_the_sweeper_wait_too(tmp_path):
    from budgetsweep.budget import trial_attrs

    db, storage, trial_id = _study(tmp_path, RetryingRDBStorage)
    release = _lock_for(db, 0.5)
    trial_attrs.write_status(storage, trial_id, "completed", note="waited")
    release.join()
    assert storage.get_trial(trial_id).user_attrs == {"status": "completed", "note": "waited"}


def test_a_lock_held_past_the_retries_is_raised_and_named_busy(tmp_path, monkeypatch):
    monkeypatch.setattr(storage_retry, "RETRY_SECONDS", 0.3)
    db, storage, trial_id = _study(tmp_path, RetryingRDBStorage)
    release = _lock_for(db, 2.0)
    with pytest.raises(StorageInternalError) as failed:
        storage.get_trial(trial_id)
    release.join()
    assert explain(failed.value, "sqlite:///s.db") == (
        "the study's database sqlite:///s.db failed (still busy: another process holds it): "
        "OperationalError: database is locked")


def test_any_other_database_error_is_raised_at_once_and_named(tmp_path):
    db, storage, trial_id = _study(tmp_path, RetryingRDBStorage)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE trial_values")
    with pytest.raises(StorageInternalError) as failed:
        storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [1.0])
    assert not is_transient(failed.value)
    assert explain(failed.value, "sqlite:///s.db") == \
        "the study's database sqlite:///s.db failed: OperationalError: no such table: trial_values"
    assert explain(ValueError("x"), "sqlite:///s.db") is None


def test_a_call_made_while_handling_another_error_waits_too_and_names_the_databases_error(tmp_path):
    # a job's failure (or Ctrl-C) being handled: SQLite's error chains it as its __context__
    db, storage, trial_id = _study(tmp_path, RetryingRDBStorage)
    release = _lock_for(db, 0.5)
    try:
        raise ValueError("the job failed")
    except ValueError:
        storage.set_trial_user_attr(trial_id, "status", "failed")
    release.join()
    assert storage.get_trial(trial_id).user_attrs == {"status": "failed"}
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE trial_values")
    with pytest.raises(StorageInternalError) as failed:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [1.0])
    assert explain(failed.value, "sqlite:///s.db") == \
        "the study's database sqlite:///s.db failed: OperationalError: no such table: trial_values"


@pytest.mark.parametrize("name", [None, "named"])
def test_a_new_study_whose_id_cannot_be_read_back_is_not_inserted_again(tmp_path, monkeypatch, name):
    # create_new_study commits the study, then reads its id: the lock is taken right after that commit and
    # held past the read's retries; released as soon as a study is looked for or inserted again
    from sqlalchemy import event
    from optuna.study import StudyDirection

    monkeypatch.setattr(storage_retry, "RETRY_SECONDS", 2.6)  # the read gives up at ~1.9 s, the call could go on
    db = tmp_path / "n.db"
    storage = RetryingRDBStorage(f"sqlite:///{db}", engine_kwargs=QUICK)
    locker = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
    inserted = []  # the names of the studies inserted

    def lock_after_the_insert(_session):
        if len(inserted) == 1 and not locker.in_transaction:
            locker.execute("BEGIN EXCLUSIVE")

    def watch(_conn, _cursor, statement, parameters, *_args):
        insert = statement.startswith("INSERT INTO studies")
        again = insert or (" studies" in statement and inserted[:1] and inserted[0] not in tuple(parameters))
        if inserted and again and locker.in_transaction:
            locker.execute("COMMIT")
        if insert:
            inserted.append(parameters[0])

    event.listen(storage.scoped_session.session_factory, "after_commit", lock_after_the_insert)
    event.listen(storage.engine, "before_cursor_execute", watch)
    with pytest.raises(StorageInternalError) as failed:
        storage.create_new_study([StudyDirection.MINIMIZE], name)
    assert is_transient(failed.value) and len(inserted) == 1
    if locker.in_transaction:
        locker.execute("COMMIT")
    locker.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM studies").fetchone() == (1,)


def test_an_sqlalchemy_error_raised_as_is_is_named_too(tmp_path):
    # the ledger (same database) raises SQLAlchemy's own error: its last line would be a link to sqlalche.me
    from sqlalchemy import create_engine, text

    db, _storage, _trial_id = _study(tmp_path, RetryingRDBStorage)
    engine = create_engine(f"sqlite:///{db}", **QUICK)
    release = _lock_for(db, 0.5)
    with pytest.raises(Exception) as failed:
        with engine.begin() as conn:
            conn.execute(text("SELECT COUNT(*) FROM trials"))
    release.join()
    assert explain(failed.value, "sqlite:///s.db") == (
        "the study's database sqlite:///s.db failed (still busy: another process holds it): "
        "OperationalError: database is locked")
    with pytest.raises(Exception) as failed:
        with engine.begin() as conn:
            conn.execute(text("SELECT * FROM budget_ledger_missing"))
    engine.dispose()
    assert explain(failed.value, "sqlite:///s.db") == \
        "the study's database sqlite:///s.db failed: OperationalError: no such table: budget_ledger_missing"


def test_open_optuna_storage_gives_the_retrying_storage(tmp_path):
    from budgetsweep.budget.storage import open_optuna_storage

    url = f"sqlite:///{tmp_path / 'o.db'}"
    assert type(open_optuna_storage(url)) is RetryingRDBStorage  # new database
    checked = open_optuna_storage(url)  # checked before: opened without alembic
    assert type(checked) is RetryingRDBStorage
    optuna.create_study(storage=checked, study_name="p")
    copied = pickle.loads(pickle.dumps(checked))  # as a process pool hands a storage over
    assert type(copied) is RetryingRDBStorage and [s.study_name for s in copied.get_all_studies()] == ["p"]


APP = """
import sqlite3, sys
import hydra

@hydra.main(version_base=None, config_path=None, config_name=None)
def main(cfg):
    # the study's database changes under the sweep: its values table is gone when the sweeper tells
    with sqlite3.connect(sys.argv[0].replace("app.py", "outputs/budgetsweep.db")) as conn:
        conn.execute("DROP TABLE IF EXISTS trial_values")
    return float(cfg.x)

if __name__ == "__main__":
    main()
"""


def test_a_sweep_stopped_by_its_database_names_the_databases_error(tmp_path):
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    proc = subprocess.run([sys.executable, str(tmp_path / "app.py"), "-m", "hydra/sweeper=budget",
                           "hydra.sweeper.n_trials=1", "+x=interval(0,1)", f"hydra.sweep.dir={tmp_path}/sweep"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.endswith("StorageFailure: the study's database sqlite:///"
                         f"{tmp_path}/outputs/budgetsweep.db failed: OperationalError: no such table: trial_values"), last


PLAIN_APP = """
import hydra

@hydra.main(version_base=None, config_path=None, config_name=None)
def main(cfg):
    return float(cfg.x)

if __name__ == "__main__":
    main()
"""


def test_a_database_failing_while_the_study_is_opened_is_named_too(tmp_path):
    (tmp_path / "app.py").write_text(textwrap.dedent(PLAIN_APP))

    def sweep(n):
        return subprocess.run([sys.executable, str(tmp_path / "app.py"), "-m", "hydra/sweeper=budget",
                               f"hydra.sweeper.n_trials={n}", "+x=interval(0,1)", f"hydra.sweep.dir={tmp_path}/s{n}"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)

    assert sweep(1).returncode == 0
    with sqlite3.connect(tmp_path / "outputs" / "budgetsweep.db") as conn:
        conn.execute("DROP TABLE study_user_attributes")
    proc = sweep(2)  # the rerun fails in loading the study, before its loop
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.endswith("StorageFailure: the study's database sqlite:///"
                         f"{tmp_path}/outputs/budgetsweep.db failed: OperationalError: no such table: "
                         "study_user_attributes"), last
