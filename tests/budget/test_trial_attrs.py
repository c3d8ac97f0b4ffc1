"""The sweeper's trial and study attributes, written the same way on every Optuna storage."""
import optuna
import pytest

from budgetsweep.budget import trial_attrs
from budgetsweep.budget.trial_attrs import TrialBook


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_results_and_the_study_budget_are_written_on_rdb_and_other_storages(tmp_path, kind):
    storage = (optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 's.db'}") if kind == "sqlite"
               else optuna.storages.InMemoryStorage())
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask()
    book = TrialBook(storage, "s")
    book.write_result(trial, status="completed", unit="examples", predicted=10.0, actual=9.0, basis="plan",
                      measured=True, charge="its record", work={"examples": 9.0}, record_path=None,
                      config_key="k", label="full", note="n")
    book.write_study_budget(unit="examples", limit=100.0, spent=9.0)
    book.write_study_budget(unit="examples", limit=100.0, spent=19.0)  # an update, not a second row
    attrs = storage.get_trial(trial._trial_id).user_attrs
    assert (attrs["status"], attrs["cost_actual"], attrs["cost_predicted"], attrs["note"]) == ("completed", 9.0,
                                                                                                10.0, "n")
    assert attrs["cost"]["examples"] == 9.0
    assert optuna.load_study(study_name="s", storage=storage).user_attrs == {
        "budget_unit": "examples", "budget_limit": 100.0, "budget_spent": 19.0}


@pytest.mark.parametrize("upsert", [True, False], ids=["upsert", "key_by_key"])
def test_a_result_written_twice_updates_each_key_and_a_finished_trial_refuses(storage_url, study_name, upsert,
                                                                               monkeypatch):
    """One upsert per result on SQLite and PostgreSQL (key by key, as on another dialect, where the upsert is
    not used): rewriting updates every key (no second row), keys of the first write stay, and Optuna's own
    rule holds: a finished trial's attributes are frozen."""
    if not upsert:
        monkeypatch.setattr(trial_attrs, "_upsert", lambda *args: False)
    storage = optuna.storages.RDBStorage(storage_url)
    study = optuna.create_study(storage=storage, study_name=study_name)
    trial = study.ask()
    book = TrialBook(storage, study_name)
    fields = dict(unit="examples", predicted=10.0, basis="plan", measured=True, charge="its record",
                  work={"examples": 9.0}, record_path=None, config_key="k", label="full")
    book.write_result(trial, status="budget_stopped", actual=9.0, note="first", **fields)
    book.write_result(trial, status="completed", actual=12.0, **fields)
    book.write_user_attrs(trial, {"lr": 0.1, "status": "completed"})
    attrs = storage.get_trial(trial._trial_id).user_attrs
    assert (attrs["status"], attrs["cost_actual"], attrs["note"], attrs["lr"]) == ("completed", 12.0, "first", 0.1)
    assert attrs["cost"]["actual"] == 12.0
    study.tell(trial, 1.0)
    with pytest.raises(RuntimeError):
        book.write_status(trial, "failed")
    assert storage.get_trial(trial._trial_id).user_attrs["status"] == "completed"
    book.write_study_budget(unit="examples", limit=None, spent=3.0)
    book.write_study_budget(unit="examples", limit=50.0, spent=21.0)
    assert optuna.load_study(study_name=study_name, storage=storage).user_attrs == {
        "budget_unit": "examples", "budget_limit": 50.0, "budget_spent": 21.0}
