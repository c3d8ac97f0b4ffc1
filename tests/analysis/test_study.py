from __future__ import annotations

import math

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from budgetsweep.analysis import RecordWarning, load_study_runs, mask_url

LR = {"optim.lr": FloatDistribution(1e-4, 1.0, log=True)}


@pytest.fixture
def storage(tmp_path, write_run, make_record):
    """A SQLite study whose trials cover every way a row is built."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=url, study_name="sweep", direction="minimize")
    good = write_run(tmp_path / "jobs", make_record("k0", "full", seed=1, value=0.5), name="0") / "record.json"
    corrupt = write_run(tmp_path / "jobs", make_record("k5"), name="5") / "record.json"
    corrupt.write_text("{")
    running = write_run(tmp_path / "jobs", make_record("k6", status="running", value=None), name="6") / "record.json"
    # the budget sweeper's flat layout
    cost = {"unit": "examples", "predicted": 120.0, "actual": 100.0, "basis": "model", "examples": 100.0,
            "flops": 1e8, "device_seconds": 2.0}

    def add(state, value=None, lr=0.01, **attrs):
        study.add_trial(create_trial(state=state, value=value, params={"optim.lr": lr}, distributions=LR,
                                     user_attrs=attrs))

    add(TrialState.COMPLETE, 0.5, record_path=str(good), config_key="k0", reduction_label="full")
    add(TrialState.COMPLETE, 0.7, lr=0.02, config_key="k1", reduction_label="data_subset(fraction=0.1)", cost=cost)
    add(TrialState.PRUNED, lr=0.03, config_key="k2", reduction_label="data_subset(fraction=0.1)")
    add(TrialState.PRUNED, lr=0.08, config_key="k7", reduction_label="full", status="budget_stopped",
        cost={"predicted_factor": 1.0, "predicted": {"unit": "examples", "value": 50.0},
              "measured": {"wall_seconds": 3.0, "examples": 40}})
    add(TrialState.FAIL, lr=0.04, config_key="k3", reduction_label="data_subset(fraction=0.1)")
    add(TrialState.COMPLETE, 0.9, lr=0.05, record_path=str(tmp_path / "gone" / "record.json"), config_key="k4",
        reduction_label="full")
    add(TrialState.COMPLETE, 0.6, lr=0.06, record_path=str(corrupt), config_key="k5", reduction_label="full")
    add(TrialState.FAIL, lr=0.07, record_path=str(running), config_key="k6", reduction_label="full")
    return url, corrupt


def test_trials_become_runs_from_their_record_or_themselves(storage):
    url, corrupt = storage
    with pytest.warns(RecordWarning, match=str(corrupt)):
        df = load_study_runs(url, "sweep")
    rows = df.set_index("config_key")
    assert len(df) == 8 and df.attrs["skipped"] == 1
    assert set(df["source"]) == {"study"} and set(df["study_name"]) == {"sweep"}
    # from the record: its seed, metrics and cost
    assert rows.loc["k0", "seed"] == 1 and rows.loc["k0", "metric.val_loss"] == 0.5
    assert rows.loc["k0", "record_path"].endswith("record.json") and rows.loc["k0", "trial_number"] == 0
    # from the trial: params as config, value, cost attribute, state as status
    assert rows.loc["k1", "objective_value"] == 0.7 and rows.loc["k1", "config.optim.lr"] == 0.02
    assert rows.loc["k1", "objective_direction"] == "minimize"
    assert (rows.loc["k1", "examples"], rows.loc["k1", "predicted_cost"]) == (100, 120.0)
    assert rows.loc["k1", "predicted_unit"] == "examples" and math.isnan(rows.loc["k1", "wall_seconds"])
    assert (rows.loc["k7", "wall_seconds"], rows.loc["k7", "predicted_cost"]) == (3.0, 50.0)  # record layout
    assert rows.loc["k1", "reduction_label"] == "data_subset(fraction=0.1)"
    assert rows["status"].to_dict() == {"k0": "completed", "k1": "completed", "k2": "pruned", "k3": "failed",
                                        "k4": "completed", "k5": "completed", "k6": "failed",
                                        "k7": "budget_stopped"}
    assert math.isnan(rows.loc["k2", "objective_value"])
    assert rows.loc["k5", "objective_value"] == 0.6  # the trial stands in for its unreadable record


def test_unknown_study_lists_the_studies(storage):
    url, _ = storage
    with pytest.raises(ValueError, match=r"study='nope' is not in storage sqlite:///.*; it holds \['sweep'\]"):
        load_study_runs(url, "nope")


def test_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path):
    db = tmp_path / "missing.db"
    with pytest.raises(FileNotFoundError, match="missing.db"):
        load_study_runs(f"sqlite:///{db}", "sweep")
    assert not db.exists()


def test_a_file_path_given_as_storage_names_the_path_and_the_url_to_write(tmp_path, capsys):
    # budgetsweep-report --storage outputs/budgetsweep.db once said storage='<unparsable storage URL>'
    url = f"sqlite:///{tmp_path / 'b.db'}"
    optuna.create_study(storage=url, study_name="s")
    path = str(tmp_path / "b.db")
    with pytest.raises(ValueError) as err:
        load_study_runs(path, "s")
    assert str(err.value) == (f"storage={path!r} is a file path, not a database URL: for an SQLite file write "
                              f"sqlite:///{path}")
    with pytest.raises(ValueError, match="<unparsable storage URL>"):  # not a file: masked as before
        load_study_runs("not a url", "s")
    from budgetsweep.cli import report_main

    assert report_main(["--storage", path, "--study", "s", "--out", str(tmp_path / "r")]) == 2
    assert f"is a file path, not a database URL: for an SQLite file write sqlite:///{path}" in capsys.readouterr().err


def test_password_is_masked():
    masked = mask_url("postgresql://alice:s3cret@db.example.org:5432/studies")
    assert "s3cret" not in masked and "alice" in masked and "***" in masked
    assert mask_url("not a url") == "<unparsable storage URL>"


def test_trial_without_attributes_gets_a_stable_key(tmp_path):
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    study = optuna.create_study(storage=url, study_name="plain", direction="maximize")
    for lr in (0.1, 0.1, 0.2):
        study.add_trial(create_trial(value=lr, params={"optim.lr": lr}, distributions=LR))
    df = load_study_runs(url, "plain")
    assert df["config_key"].nunique() == 2 and df["config_key"].str.fullmatch(r"[0-9a-f]{12}").all()
    assert set(df["reduction_label"]) == {"unknown"} and set(df["objective_direction"]) == {"maximize"}
    assert df["objective_name"].unique().tolist() == ["value"]


def test_trials_that_never_ran_are_no_runs(tmp_path):
    """The budget sweeper puts a trial that did not fit back as WAITING; it must not count as a run."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=url, study_name="sweep", direction="minimize")
    study.add_trial(create_trial(state=TrialState.COMPLETE, value=0.5, params={"optim.lr": 0.01},
                                 distributions=LR, user_attrs={"config_key": "k0", "reduction_label": "full"}))
    study.enqueue_trial({"optim.lr": 0.02})  # WAITING, as an unlaunched trial
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE, TrialState.WAITING]
    df = load_study_runs(url, "sweep")
    assert list(df["config_key"]) == ["k0"] and set(df["status"]) == {"completed"}
