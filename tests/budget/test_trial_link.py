"""The job's side of a trial, against a real study in a real SQLite file."""
import optuna
import pytest

from budgetsweep.budget.optuna_objects import PRUNER_ATTR
from budgetsweep.budget.trial_link import TrialLink
from budgetsweep.records import MeasuredCost


def make_study(url, name, pruner_conf=None, directions=("minimize",)):
    study = optuna.create_study(storage=url, study_name=name, directions=list(directions))
    study.set_user_attr(PRUNER_ATTR, pruner_conf)
    return study


def link_for(url, name, trial_number, **kw):
    node = {"number": trial_number, "study_name": name, "storage": url, "unit": "examples", "reservation": 1000.0,
            "tolerance": 0.1, **kw}
    return TrialLink.from_config(node)


def test_over_budget_is_measured_cost_past_reservation_times_one_plus_tolerance():
    link = link_for("sqlite:////unused.db", "s", 0)
    assert link.stop_at == pytest.approx(1100.0)
    assert not link.over_budget(MeasuredCost(examples=1100))
    assert link.over_budget(MeasuredCost(examples=1101))
    hours = TrialLink(number=0, study_name="s", storage="sqlite:////x.db", unit="gpu_hours", reservation=0.01,
                      tolerance=0.0)
    assert hours.over_budget(MeasuredCost(wall_seconds=37.0)) and not hours.over_budget(MeasuredCost(wall_seconds=35))


def test_reports_reach_the_trial_and_the_studys_pruner_decides(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = make_study(url, "s", {"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 1,
                                  "n_warmup_steps": 0})
    first = study.ask()
    for step in range(3):
        first.report(1.0, step)
    study.tell(first, 1.0)
    second = study.ask()
    link = link_for(url, "s", second.number)
    link.report(0, 5.0)  # worse than the median of finished trials at step 0
    assert link.should_prune()
    assert study.trials[second.number].intermediate_values == {0: 5.0}
    third = study.ask()
    good = link_for(url, "s", third.number)
    good.report(0, 0.5)
    assert not good.should_prune()


def test_no_pruner_config_means_never_prune(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = make_study(url, "s")
    trial = study.ask()
    link = link_for(url, "s", trial.number)
    link.report(0, 1e9)
    assert not link.should_prune()


def test_multi_objective_trials_neither_report_nor_prune(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = make_study(url, "s", {"_target_": "optuna.pruners.MedianPruner"}, ("minimize", "maximize"))
    link = link_for(url, "s", study.ask().number)
    link.report(0, 1.0)
    assert not link.should_prune()


def test_a_trial_finished_by_the_sweeper_tells_the_job_to_stop(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = make_study(url, "s")
    trial = study.ask()
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    link = link_for(url, "s", trial.number)
    link.report(0, 1.0)
    assert link.should_prune()


@pytest.mark.parametrize("key,value,message", [
    ("number", -1, "budgetsweep.trial.number=-1 is not allowed"),
    ("unit", "hours", "budgetsweep.trial.unit='hours' is not a budget unit"),
    ("reservation", -5.0, "budgetsweep.trial.reservation=-5.0 is not allowed"),
    ("storage", None, "budgetsweep.trial.storage is not set"),
])
def test_bad_trial_identity_is_named(key, value, message):
    with pytest.raises(ValueError) as err:
        link_for("sqlite:////x.db", "s", 0, **{key: value})
    assert message in str(err.value)


def test_trial_link_imports_no_torch():
    import subprocess
    import sys

    code = "import sys, budgetsweep.budget.trial_link; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# every unit x every way a job can meter and report: a cost the budget's unit never sees must fail the run
METERING = {"examples": {"examples": 32}, "flops": {"flops": 1e6}, "both": {"examples": 32, "flops": 1e6},
            "nothing": {}}


@pytest.mark.parametrize("reports", ["objective", "no_objective", "never"])
@pytest.mark.parametrize("metering", METERING)
@pytest.mark.parametrize("unit", ["examples", "flops", "gpu_hours"])
def test_a_job_that_never_meters_its_budget_unit_fails(tmp_path, unit, metering, reports):
    import budgetsweep
    from budgetsweep.records import read_record
    from tests.test_run_context import user_cfg

    url = f"sqlite:///{tmp_path / 's.db'}"
    trial = make_study(url, "s").ask()
    cfg = user_cfg()
    cfg.budgetsweep = {"trial": {"number": trial.number, "study_name": "s", "storage": url, "unit": unit,
                                 "reservation": 1e12, "tolerance": 0.0}}
    metered = unit == "gpu_hours" or unit in METERING[metering]
    run = budgetsweep.run_context(cfg, run_dir=tmp_path / "run", overrides=[])
    with pytest.raises(ValueError, match=f"counted in {unit}") if not metered else _no_error():
        with run:
            for step in range(1, 4):
                run.add_cost(**METERING[metering])
                if reports == "objective":
                    run.report(step, val_loss=1.0 / step)
                elif reports == "no_objective":
                    run.report(step, train_loss=1.0)
    rec = read_record(tmp_path / "run")
    if metered:
        assert rec.status == "completed"
    else:
        assert rec.status == "failed" and f"call run.add_cost({unit}=...)" in rec.error
        # it fails at its first report, not after the whole run
        steps_run = 3 if reports == "never" else 1
        assert rec.cost.measured.examples == 32 * steps_run * ("examples" in METERING[metering])


def test_a_report_before_any_work_is_not_an_error():
    link = TrialLink(number=0, study_name="s", storage="sqlite:////x.db", unit="flops", reservation=1.0)
    link.check_metered(MeasuredCost(), step=0)  # an evaluation before training
    with pytest.raises(ValueError, match="report at step 1"):
        link.check_metered(MeasuredCost(), step=1)


def _no_error():
    import contextlib

    return contextlib.nullcontext()


def test_in_gpu_hours_the_deadline_is_the_allowance_in_wall_seconds_per_device():
    hours = TrialLink(number=0, study_name="s", storage="sqlite:////x.db", unit="gpu_hours", reservation=0.01,
                      tolerance=0.5)
    assert hours.stop_after_seconds(device_count=2) == pytest.approx(0.01 * 1.5 * 3600 / 2)
    assert link_for("sqlite:////unused.db", "s", 0).stop_after_seconds() is None  # examples: the app's checks


def test_a_job_in_the_sweepers_process_reports_to_the_handed_over_trial_without_reading_it(tmp_path):
    from sqlalchemy import event

    from budgetsweep.budget.storage import open_optuna_storage
    from budgetsweep.budget.trial_link import handed_over

    url = f"sqlite:///{tmp_path / 's.db'}"
    conf = {"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 1, "n_warmup_steps": 0}
    storage = open_optuna_storage(url)
    study = optuna.create_study(storage=storage, study_name="s", pruner=optuna.pruners.MedianPruner(
        n_startup_trials=1, n_warmup_steps=0))
    study.set_user_attr(PRUNER_ATTR, conf)
    first = study.ask()
    first.report(1.0, 0)
    study.tell(first, 1.0)
    trial = study.ask()
    link = link_for(url, "s", trial.number)
    statements = []
    event.listen(storage.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with handed_over({(url, "s", trial.number): trial}):
        assert link.trial is trial
        link.report(0, 5.0)
        assert link.should_prune()
    assert not any(s.lstrip().upper().startswith("SELECT STUDY_USER") for s in statements)  # no pruner re-read
    assert study.trials[trial.number].intermediate_values == {0: 5.0}  # written to the storage
    assert link_for(url, "s", trial.number).trial is not trial  # outside the launch: read from the storage


def test_a_handed_over_trial_finished_elsewhere_stops_the_job(tmp_path):
    from budgetsweep.budget.trial_link import handed_over

    url = f"sqlite:///{tmp_path / 's.db'}"
    study = make_study(url, "s")
    trial = study.ask()
    optuna.load_study(study_name="s", storage=url).tell(trial.number, state=optuna.trial.TrialState.FAIL)
    link = link_for(url, "s", trial.number)
    with handed_over({(url, "s", trial.number): trial}):
        link.report(0, 1.0)
        assert link.should_prune()
