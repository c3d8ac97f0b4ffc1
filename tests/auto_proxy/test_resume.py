"""A rerun resumes an auto-proxy study only with the settings it was started with: the auto-proxy settings do
not change the study's name, so other candidates (or another target...) would open the finished study and
answer with its old choice, or queue a new candidate's trials with no rung (a KeyError traceback)."""
from __future__ import annotations

import optuna
import pytest

from budgetsweep.auto_proxy.resume import check_resume, differences, stored_form
from budgetsweep.auto_proxy.settings import AutoProxyConfigError, AutoProxySettings

from .test_sweep import budgetsweep


def test_differences_name_each_dotted_key_with_both_values():
    old = stored_form(AutoProxySettings())
    new = stored_form(AutoProxySettings.from_mapping({"target": 0.5, "verify": {"top_k": 2}}))
    assert differences(old, old) == []
    assert differences(old, new) == [("target", 0.8, 0.5), ("verify.top_k", 3, 2)]


def test_same_settings_or_a_new_study_resume_and_other_settings_are_refused_naming_them():
    given = stored_form(AutoProxySettings())
    check_resume(None, given, "s")  # a new study
    check_resume(given, given, "s")  # the same command again
    with pytest.raises(AutoProxyConfigError) as err:
        check_resume(given, stored_form(AutoProxySettings.from_mapping({"fallback": "full"})), "app-1")
    message = str(err.value)
    assert ("study 'app-1' was started with other auto-proxy settings (hydra.sweeper.auto_proxy.fallback: 'milder' "
            "in the study, 'full' in this command)") in message
    assert "hydra.sweeper.study_name=NAME" in message


def test_a_rerun_with_another_candidate_is_exit_2_and_leaves_the_study_as_it_was(tmp_path):
    first = budgetsweep(tmp_path, "hydra.sweeper.budget.limit=2400")
    assert first.returncode == 0, first.stdout + first.stderr
    # the calibration's scratch sampler study is no study of the user's: its creation is not logged (it once read
    # "A new study created in memory with name: no-name-...", as if the sweep's study were not stored)
    assert "created in memory" not in first.stdout + first.stderr
    storage = f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}"
    [name] = optuna.get_all_study_names(storage)
    before = [(t.number, t.state.name) for t in optuna.load_study(study_name=name, storage=storage).trials]

    other = ("hydra.sweeper.auto_proxy.candidates=[{name: quarter, reduction: [data_subset], "
             "params: {data_subset.fraction: 0.25}}]")
    proc = budgetsweep(tmp_path, "hydra.sweeper.budget.limit=3000", other)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "KeyError" not in proc.stderr
    assert f"study {name!r} was started with other auto-proxy settings (hydra.sweeper.auto_proxy.candidates: " in proc.stderr
    assert "in this command" in proc.stderr and "hydra.sweeper.study_name=NAME" in proc.stderr
    study = optuna.load_study(study_name=name, storage=storage)
    assert [(t.number, t.state.name) for t in study.trials] == before  # nothing queued, nothing run
    assert "changed from" not in proc.stdout + proc.stderr  # refused before the ledger took the new limit

    again = budgetsweep(tmp_path, "hydra.sweeper.budget.limit=2400")  # the same command resumes (finished: no run)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [(t.number, t.state.name) for t in optuna.load_study(study_name=name, storage=storage).trials] == before
    # a finished study's rerun does not say "Not verified yet: no answer." before its answer (it once did)
    again_log = again.stdout + again.stderr
    assert "Not verified yet" not in again_log and "auto-proxy: Final pick: " in again_log
