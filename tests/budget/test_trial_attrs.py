"""The sweeper's trial and study attributes, written the same way on every Optuna storage."""
import optuna
import pytest

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
