"""Issue 15's "Bad input": a candidate that cannot run for this task, a search space calibration cannot
sample, two candidates that are one recipe: one error naming the key before any trial. Settings
alone: test_settings.py; budgets: test_phases.py; through the command: test_sweep.py."""
from __future__ import annotations

import math

import optuna.distributions as d
import pytest

from budgetsweep.auto_proxy.driver import AutoProxyDriver, Sweep, space_size
from budgetsweep.auto_proxy.presets import known_presets, resolve_preset
from budgetsweep.auto_proxy.settings import AutoProxyConfigError, AutoProxySettings, Candidate

from .test_sweep import budgetsweep


def test_a_preset_candidate_runs_as_its_reductions():
    # experiment=proxy50 inside experiment=auto_proxy would be the full recipe (Hydra composes one experiment)
    resolved = resolve_preset(Candidate(preset="proxy50"), "candidates[0]")
    assert resolved.overrides() == ["reduction=[data_subset,short_schedule]", "reduction.data_subset.fraction=0.1",
                                    "reduction.short_schedule.fraction=0.2", "reduction.short_schedule.mode=compress"]
    assert resolved.label == "proxy50"
    assert "auto_proxy" not in known_presets() and {"proxy50", "small_batch", "mup_width"} <= set(known_presets())


@pytest.mark.parametrize("preset, message", [
    ("charlm_proxy50", "auto_proxy.candidates[1].preset='charlm_proxy50' cannot run for this task: it switches the "
                       "task to 'charlm'"),
    ("nosuch", "auto_proxy.candidates[1].preset='nosuch' is not allowed; allowed: charlm_proxy50, mup_width, "
               "proxy50, small_batch (conf/experiment), or a reduction list"),
])
def test_a_preset_that_cannot_run_is_named(preset, message):
    with pytest.raises(AutoProxyConfigError) as err:
        resolve_preset(Candidate(preset=preset), "candidates[1]")
    assert message in str(err.value)


def test_space_size():
    assert space_size({"a": d.CategoricalDistribution([8, 16]), "b": d.IntDistribution(1, 4)}) == 8
    assert space_size({"a": d.FloatDistribution(0.0, 1.0, step=0.25)}) == 5
    assert space_size({}) == 1
    assert space_size({"a": d.CategoricalDistribution([8]), "lr": d.FloatDistribution(1e-4, 1e-1, log=True)}) == math.inf


def _driver(distributions, configs):
    settings = AutoProxySettings.from_mapping({"calibrate": {"configs": configs}})
    sweep = Sweep(study=None, ledger=None, distributions=distributions, base_overrides=[], unit="examples",
                  limit=1.0, storage_url="", sweep_dir=None, run_phase=None, price=None,
                  override=None)
    return AutoProxyDriver(settings, sweep)


def test_calibration_samples_distinct_configurations_and_refuses_a_space_too_small():
    space = {"model.hidden": d.CategoricalDistribution([8, 16, 32, 64])}
    configs = _driver(space, 4)._sample_configs(4)  # 4 draws from 4 values with replacement repeat one
    assert sorted(c["model.hidden"] for c in configs) == [8, 16, 32, 64]
    with pytest.raises(AutoProxyConfigError) as err:
        _driver(space, 5)._sample_configs(5)
    assert ("auto_proxy.calibrate.configs=5 is not allowed: the search space (model.hidden) holds 4 configuration(s)"
            in str(err.value))
    with pytest.raises(AutoProxyConfigError, match=r"the search space \(no swept parameter\) holds 1"):
        _driver({}, 3)._sample_configs(3)


@pytest.mark.parametrize("candidates, message", [
    # a preset that switches the task: the old driver said "reduces nothing"
    ("[charlm_proxy50]", "auto_proxy.candidates[0].preset='charlm_proxy50' cannot run for this task"),
    # two names for one recipe: their calibration runs would be pooled under one label
    ("[{name: a, reduction: [data_subset], params: {data_subset.fraction: 0.5}}, "
     "{name: b, reduction: [data_subset], params: {data_subset.fraction: 0.5}}]",
     "auto_proxy.candidates[1] (b) runs the same recipe as auto_proxy.candidates[0] (a)"),
])
def test_a_candidate_that_cannot_run_is_exit_2_before_any_trial(tmp_path, candidates, message):
    proc = budgetsweep(tmp_path, "hydra.sweeper.budget.limit=9000", f"hydra.sweeper.auto_proxy.candidates={candidates}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert not any((tmp_path / "sweep").glob("[0-9]*"))


def test_calibration_configurations_are_not_the_search_samplers_first_proposals():
    import optuna

    space = {"optim.lr": d.FloatDistribution(1e-4, 1e-1, log=True)}
    calibration = _driver(space, 3)._sample_configs(3)
    # TPE seeded 0 starts with random proposals: with the calibration's seed 0 they were the same three
    tpe = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    search = [tpe.ask(fixed_distributions=space).params for _ in range(3)]
    assert not any(c == s for c in calibration for s in search)


def test_a_sweep_direction_against_the_objectives_is_exit_2_before_any_trial(tmp_path):
    # digits' val_accuracy with the default direction (minimize): the search minimized accuracy while the final pick
    # maximized it, after only a warning in the middle of the log
    import os
    import subprocess

    from .test_sweep import BIN

    args = ["-m", f"hydra.sweep.dir={tmp_path}/sweep", "experiment=auto_proxy", "task=digits",
            "task.objective=val_accuracy", "hydra.sweeper.budget.limit=30000", "hydra.sweeper.budget.unit=examples",
            "optim.lr=tag(log, interval(1e-4, 1e-1))"]
    proc = subprocess.run([str(BIN / "budgetsweep"), *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HYDRA_FULL_ERROR": "0"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert ("hydra.sweeper.direction=minimize is not allowed with task.objective=val_accuracy, which is to maximize: "
            "auto-proxy's search would minimize it while its verification and final pick maximize it; set "
            "hydra.sweeper.direction=maximize") in proc.stderr
    assert not any((tmp_path / "sweep").glob("[0-9]*"))


def test_a_command_refused_before_its_first_trial_leaves_the_studys_budget_as_it_was(tmp_path):
    # the phase plan refuses limits too small: the ledger had already written each one as the study's limit, so
    # the next command logged "limit changed from" a limit no trial ever ran under
    from sqlalchemy import create_engine, text

    for limit in (300, 400):
        proc = budgetsweep(tmp_path, f"hydra.sweeper.budget.limit={limit}")
        assert proc.returncode == 2 and "auto-proxy cannot plan its phases within the budget" in proc.stderr, \
            proc.stdout + proc.stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT study_name, limit_value FROM budgetsweep_budgets")).fetchall() == []
    engine.dispose()
    assert not any((tmp_path / "sweep").glob("[0-9]*"))
