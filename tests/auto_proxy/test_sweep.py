"""Auto-proxy wired into the budget sweeper: ``budgetsweep -m experiment=auto_proxy ...`` on a tiny
teacher_student task, in the exact ``examples`` unit (full scale: 256 examples a run; the candidate
data_subset 0.5: 128)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from budgetsweep.auto_proxy.driver import CHOICE_ATTR
from budgetsweep.auto_proxy.story import read_story
from budgetsweep.budget.ledger import Ledger

BIN = Path(sys.executable).parent
TINY = ["task=teacher_student", "task.n_train=256", "task.n_val=64", "task.n_test=64", "train.epochs=1",
        "train.batch_size=64", "train.warmup_steps=0", "train.eval_every=2", "guards.min_steps=0"]
AUTO = ["experiment=auto_proxy", "hydra.sweeper.budget.unit=examples", "hydra.sweeper.n_jobs=1",
        "hydra.sweeper.auto_proxy.candidates=[{name: half, reduction: [data_subset], "
        "params: {data_subset.fraction: 0.5}}]",
        "hydra.sweeper.auto_proxy.calibrate.configs=3", "hydra.sweeper.auto_proxy.calibrate.full_seeds=1",
        "hydra.sweeper.auto_proxy.verify.top_k=2", "hydra.sweeper.auto_proxy.verify.seeds=1",
        "hydra.sweeper.auto_proxy.search.min_trials=3", "hydra.sweeper.auto_proxy.n_resamples=0",
        "optim.lr=tag(log, interval(1e-4, 1e-1))"]
FULL, HALF = 256.0, 128.0


def budgetsweep(cwd, *args, timeout=300):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([str(BIN / "budgetsweep"), "-m", f"hydra.sweep.dir={cwd}/sweep", *TINY, *AUTO, *args],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def sweep_outputs(tmp_path, unit: str, limit: float):
    """What a finished sweep in ``tmp_path`` left: (auto-proxy summary, budget summary, storage URL, study, ledger)."""
    summary = json.loads((tmp_path / "sweep" / "auto_proxy_summary.json").read_text())
    budget = json.loads((tmp_path / "sweep" / "budget_summary.json").read_text())
    storage = f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}"
    study = optuna.load_study(study_name=budget["study_name"], storage=storage)
    return summary, budget, storage, study, Ledger(storage, budget["study_name"], unit=unit, limit=limit)


def test_the_phases_run_in_order_and_the_summary_matches_the_ledger_and_the_records(tmp_path):
    limit = 2400.0  # calibrate 3 x (256 + 128) = 1152, verify 2 x 256 = 512, search room 736
    proc = budgetsweep(tmp_path, f"hydra.sweeper.budget.limit={limit:g}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary, budget, storage, study, ledger = sweep_outputs(tmp_path, "examples", limit)
    log = proc.stdout + proc.stderr
    assert "n_trials reached" not in log  # auto-proxy's phases are bounded by their slots, not n_trials
    assert "auto-proxy search ended: the phase's " in log and budget["stopped"] == "auto-proxy done"

    tags = sorted((t.number, t.user_attrs["auto_proxy"]) for t in study.trials if t.state.name != "WAITING")
    phases = [tag["phase"] for _, tag in tags]
    order = {"calibrate": 0, "search": 1, "verify": 2}
    assert phases == sorted(phases, key=order.get), phases  # trial numbers follow the phases
    assert phases.count("calibrate") == 6  # 3 configurations x (1 full seed + 1 candidate)
    calib = [tag for _, tag in tags if tag["phase"] == "calibrate"]
    assert sorted((t["config"], t["rung"]) for t in calib) == [(c, r) for c in range(3) for r in ("full", "half")]
    # each calibration configuration ran with the same parameters at both rungs
    by_trial = {t.number: t for t in study.trials}
    for config in range(3):
        params = [by_trial[n].params for n, tag in tags if tag["phase"] == "calibrate" and tag["config"] == config]
        assert params[0] == params[1]
    # the plan's caps: calibration and verification spend exactly their planned cost (exact unit)
    spent = summary["spent"]
    assert spent["calibrate"] == 3 * (FULL + HALF) == summary["plan"]["calibration"]["cost"]
    assert spent["search"] <= summary["plan"]["search"]["budget"]
    assert spent["verify"] == 2 * FULL
    assert spent["total"] == ledger.spent() == sum(spent[p] for p in ("calibrate", "search", "verify"))
    assert ledger.spent() <= limit and summary["limit"] == limit and summary["unit"] == "examples"
    # the choice: written in the study before the search, the same in the summary
    choice = study.user_attrs[CHOICE_ATTR]
    assert summary["choice"]["label"] == choice["label"] and summary["choice"]["kind"] == choice["kind"]
    assert choice["kind"] in ("milder", "full")  # 3 configurations: below the analysis module's confident verdict
    search_label = {"full": "full"}.get(choice["name"], choice["label"])
    search = [by_trial[n] for n, tag in tags if tag["phase"] == "search"]
    log = proc.stdout + proc.stderr  # the choice's summary is written before the first search job starts
    assert log.index("Summary: ") < log.index(f"#{min(t.number for t in search)} : ")
    assert search and all(t.user_attrs["reduction_label"] == search_label for t in search)
    assert spent["search"] == len(search) * (HALF if choice["name"] == "half" else FULL)
    # verification: the top 2 of the search at full scale, seeds from 1000; the final pick is the best of them
    verify = [(by_trial[n], tag) for n, tag in tags if tag["phase"] == "verify"]
    assert len(verify) == 2 and all(t.user_attrs["reduction_label"] == "full" and tag["seed"] == 1000
                                    for t, tag in verify)
    verified = {t.user_attrs["config_key"]: t.value for t, _ in verify}
    assert summary["verification"]["final"] == min(verified, key=verified.get)
    # the final pick: the best seed mean over every full-scale run, calibration's (1 seed each) and verification's
    full = _full_scale(study)
    assert len(full) == 3 + 2
    final = summary["final"]
    assert (final["config_key"], final["full_mean"]) == _best(full)
    assert final["source"] == ("verification" if final["config_key"] in verified else "calibration")
    assert summary["phase"] == "done" and summary["calibration_skipped"] == []  # examples: priced exactly
    # the sweeper's optimization_results.yaml answers with the final pick, not the study's best trial
    results = (tmp_path / "sweep" / "optimization_results.yaml").read_text()
    final_trial = next(t for t in full if t.user_attrs["config_key"] == final["config_key"])
    assert f"best_value: {final['full_mean']}" in results
    assert f"optim.lr: {final_trial.params['optim.lr']}" in results


def _full_scale(study):
    """The study's completed full-scale trials of calibration and verification (the search's ran at its rung)."""
    return [t for t in study.trials if t.state.name == "COMPLETE" and t.user_attrs["auto_proxy"]["rung"] == "full"
            and t.user_attrs["auto_proxy"]["phase"] in ("calibrate", "verify")]


def _best(trials):
    """(config key, seed-mean value) of the best configuration (minimize) over ``trials``."""
    values: dict[str, list[float]] = {}
    for t in trials:
        values.setdefault(t.user_attrs["config_key"], []).append(t.value)
    means = {k: sum(v) / len(v) for k, v in values.items()}
    key = min(means, key=means.get)
    return key, means[key]


def test_a_budget_that_cannot_fit_calibration_is_exit_2_before_any_trial(tmp_path):
    proc = budgetsweep(tmp_path, "hydra.sweeper.budget.limit=1000")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    err = proc.stderr
    assert "calibration needs" in err and "raise hydra.sweeper.budget.limit to 2,304" in err, err
    assert not (tmp_path / "sweep").exists() or not any((tmp_path / "sweep").glob("[0-9]*"))
    storage = f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}"
    for name in optuna.get_all_study_names(storage) if (tmp_path / "outputs" / "budgetsweep.db").exists() else []:
        assert optuna.load_study(study_name=name, storage=storage).trials == []


def test_a_bad_auto_proxy_setting_is_exit_2_naming_the_key_before_any_trial(tmp_path):
    proc = budgetsweep(tmp_path, "hydra.sweeper.budget.limit=2400", "hydra.sweeper.auto_proxy.target=1.5")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert "auto_proxy.target=1.5 is not allowed; it must be in (0, 1]" in proc.stderr
    assert not any((tmp_path / "sweep").glob("[0-9]*"))


def _ledger_states(db):
    import sqlite3

    try:
        with sqlite3.connect(db, timeout=10) as conn:
            return [row[0] for row in conn.execute("SELECT state FROM budgetsweep_charges ORDER BY trial_number")]
    except sqlite3.OperationalError:  # not created yet, or busy
        return []


def _search_done(db):
    import sqlite3

    try:
        with sqlite3.connect(db, timeout=10) as conn:
            return bool(list(conn.execute("SELECT 1 FROM study_user_attributes WHERE key = 'auto_proxy:search_done'")))
    except sqlite3.OperationalError:
        return False


# tolerance 0: a killed trial is charged exactly its reservation, so each phase spends its plan exactly
KILL_ARGS = ["hydra.sweeper.budget.limit=2400", "hydra.sweeper.budget.tolerance=0"]


def _kill_when(tmp_path, ready, *extra):
    """Start the sweep (with ``extra`` overrides), SIGKILL it once ``ready(db)`` holds (a trial of the phase
    is reserved: running); returns the study's name."""
    import signal
    import time

    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    proc = subprocess.Popen([str(BIN / "budgetsweep"), "-m", f"hydra.sweep.dir={tmp_path}/sweep", *TINY, *AUTO,
                             *KILL_ARGS, *extra], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = tmp_path / "outputs" / "budgetsweep.db"
    deadline = time.monotonic() + 240
    while not ready(db):
        assert proc.poll() is None and time.monotonic() < deadline, "the sweep ended before it could be killed"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # the sweep's study (a proxy search keeps its settings in a study of its own beside it)
    [name] = [n for n in optuna.get_all_study_names(f"sqlite:///{db}") if not n.endswith(":proxy_search")]
    return name


def _resume_and_check(tmp_path, name):
    """Rerun the command: it must finish, launch no planned job twice, charge each trial once and leave
    nothing reserved. Returns (study, ledger, summary)."""
    resumed = budgetsweep(tmp_path, *KILL_ARGS)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    storage = f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}"
    study = optuna.load_study(study_name=name, storage=storage)
    ran = [t for t in study.trials if t.state.name != "WAITING"]
    tags = [tuple(t.user_attrs["auto_proxy"].values()) for t in ran]
    assert len(tags) == len(set(tags))  # no planned job launched twice
    assert sum(1 for t in tags if t[0] == "calibrate") == 6
    ledger = Ledger(storage, name, unit="examples", limit=2400.0)
    assert all(c.state == "committed" for c in ledger.charges()) and ledger.reserved() == 0.0
    assert len(ledger.charges()) == len(ran)  # each trial charged once
    summary = json.loads((tmp_path / "sweep" / "auto_proxy_summary.json").read_text())
    assert summary["spent"]["calibrate"] == 3 * (FULL + HALF)
    assert summary["spent"]["total"] == ledger.spent() <= 2400.0 and summary["phase"] == "done"
    return study, ledger, summary


@pytest.mark.slow  # two sweeps, the first killed: about a minute on a shared CPU
def test_a_sweep_killed_in_calibration_resumes_the_calibration_and_charges_nothing_twice(tmp_path):
    # the 2nd calibration trial running
    name = _kill_when(tmp_path, lambda db: len(s := _ledger_states(db)) >= 2 and s[-1] == "reserved")
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}")
    assert study.user_attrs["auto_proxy:configs"] and "auto_proxy:choice" not in study.user_attrs
    configs = study.user_attrs["auto_proxy:configs"]
    study, _, _ = _resume_and_check(tmp_path, name)
    assert study.user_attrs["auto_proxy:configs"] == configs  # the calibration configurations were reused


@pytest.mark.slow
def test_a_sweep_killed_in_the_search_resumes_the_search_with_the_same_choice(tmp_path):
    # calibration is trials 0-5; the 2nd search trial (number 7) running
    name = _kill_when(tmp_path, lambda db: len(s := _ledger_states(db)) >= 8 and s[-1] == "reserved")
    storage = f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}"
    study = optuna.load_study(study_name=name, storage=storage)
    choice = study.user_attrs[CHOICE_ATTR]  # written before the search started
    assert "auto_proxy:search_done" not in study.user_attrs
    killed = [t for t in study.trials if t.state.name == "RUNNING"]
    assert [t.user_attrs["auto_proxy"]["phase"] for t in killed] == ["search"]
    study, ledger, summary = _resume_and_check(tmp_path, name)
    assert study.user_attrs[CHOICE_ATTR] == choice and summary["choice"]["label"] == choice["label"]
    search = [t for t in study.trials if t.state.name != "WAITING" and t.user_attrs["auto_proxy"]["phase"] == "search"]
    per_trial = HALF if choice["name"] == "half" else FULL
    # the killed trial is charged its reservation and not run again; the search still stops at its plan
    assert summary["spent"]["search"] == len(search) * per_trial <= summary["plan"]["search"]["budget"]
    assert len(search) == summary["plan"]["search"]["trials"][choice["name"]]
    assert {c.trial for c in ledger.charges()} >= {killed[0].number}
    # verification: the top 2 of the search's completed configurations (the killed trial has no score)
    completed = {t.user_attrs["config_key"] for t in search if t.state.name == "COMPLETE"}
    assert summary["spent"]["verify"] == min(2, len(completed)) * FULL and summary["final"] is not None


@pytest.mark.slow
def test_a_sweep_killed_in_verification_resumes_the_verification_only(tmp_path):
    seen = {}

    def first_verification_running(db):
        if "done" not in seen:
            if not _search_done(db):
                return False
            seen["done"] = len(_ledger_states(db))  # every calibration and search trial
        states = _ledger_states(db)
        return len(states) > seen["done"] and states[-1] == "reserved"

    name = _kill_when(tmp_path, first_verification_running)
    storage = f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}"
    before = optuna.load_study(study_name=name, storage=storage)
    searched = sorted(t.number for t in before.trials if t.user_attrs.get("auto_proxy", {}).get("phase") == "search")
    study, _, summary = _resume_and_check(tmp_path, name)
    after = sorted(t.number for t in study.trials if t.state.name != "WAITING"
                   and t.user_attrs["auto_proxy"]["phase"] == "search")
    assert after == searched  # the search is not reopened
    verify = [t for t in study.trials if t.state.name != "WAITING" and t.user_attrs["auto_proxy"]["phase"] == "verify"]
    assert len(verify) == 2 and summary["spent"]["verify"] == 2 * FULL  # the killed one charged, not rerun
    completed = [t for t in verify if t.state.name == "COMPLETE"]
    assert len(completed) == 1  # the other verification run; the killed one is the one the summary cannot use
    assert summary["verification"]["final"] == completed[0].user_attrs["config_key"]
    assert (summary["final"]["config_key"], summary["final"]["full_mean"]) == _best(_full_scale(study))


def test_successive_halving_climbs_the_ladder_within_the_search_cap_exactly(tmp_path):
    # candidates quarter (64 examples a trial) and half (128); full 256. limit 3,000: calibration
    # 3 x (256 + 64 + 128) = 1,344, verification 2 x 256 = 512, the search 1,144 over all rungs
    args = ["hydra.sweeper.budget.limit=3000", "hydra.sweeper.auto_proxy.search.eta=2",
            "hydra.sweeper.auto_proxy.fallback=full",
            "hydra.sweeper.auto_proxy.candidates=[{name: quarter, reduction: [data_subset], params: "
            "{data_subset.fraction: 0.25}}, {name: half, reduction: [data_subset], params: {data_subset.fraction: 0.5}}]"]
    proc = budgetsweep(tmp_path, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "sweep" / "auto_proxy_summary.json").read_text())
    budget = json.loads((tmp_path / "sweep" / "budget_summary.json").read_text())
    storage = f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}"
    study = optuna.load_study(study_name=budget["study_name"], storage=storage)
    assert summary["choice"]["name"] == "full"  # 3 configurations: no confident choice, and fallback=full
    cost = {"quarter": 64.0, "half": 128.0, "full": FULL}
    rho = {c["name"]: c["rho"] for c in summary["candidates"]}
    # the most configurations the first rung can run with every rung within 1,144 (eta 2: floor(n0 / 2^i), >= 1)
    if rho["quarter"] > 0 and rho["half"] > 0:  # 7 x 64 + 3 x 128 + 1 x 256 = 1,088 (n0 = 8: 1,536)
        expected = [("quarter", 7), ("half", 3), ("full", 1)]
    elif rho["quarter"] > 0:  # half ranked the calibration configurations no better than chance or reversed:
        expected = [("quarter", 5), ("full", 2)]  # not climbed through; 5 x 64 + 2 x 256 = 832 (n0 = 6: 1,152)
        assert "auto-proxy successive halving: not through half" in proc.stdout + proc.stderr
    else:
        pytest.skip(f"calibration measured quarter at rho {rho['quarter']}: this ladder is not the one tested")
    assert [(r["name"], r["configs"]) for r in summary["halving"]["rungs"]] == expected
    search = [t for t in study.trials if t.state.name != "WAITING" and t.user_attrs["auto_proxy"]["phase"] == "search"]
    by_rung = {name: [t for t in search if t.user_attrs["auto_proxy"]["rung"] == name] for name, _ in expected}
    assert [(name, len(by_rung[name])) for name, _ in expected] == expected
    assert summary["spent"]["search"] == sum(n * cost[name] for name, n in expected) <= summary["plan"]["search"]["budget"]
    # each rung runs the best of the rung below (lowest loss), the same parameters
    for (below, _), (rung, n) in zip(expected, expected[1:]):
        ranked = sorted(by_rung[below], key=lambda t: t.value)
        assert {t.user_attrs["config_key"] for t in by_rung[rung]} == {t.user_attrs["config_key"] for t in ranked[:n]}
    # the sampler's own trials are the first rung's; verification takes the top of the last rung
    first, last = expected[0][0], expected[-1][0]
    assert all(isinstance(t.user_attrs["auto_proxy"]["config"], int) for t in by_rung[first])
    verified = {t.user_attrs["config_key"] for t in study.trials if t.state.name != "WAITING"
                and t.user_attrs["auto_proxy"]["phase"] == "verify"}
    top_last = {t.user_attrs["config_key"] for t in sorted(by_rung[last], key=lambda t: t.value)[:2]}
    assert verified == top_last
    assert summary["spent"]["total"] == Ledger(storage, budget["study_name"], unit="examples", limit=3000.0).spent()
    # budgetsweep-report reads the same story back from the study, halving plan included
    assert json.loads(json.dumps(read_story(storage, budget["study_name"]).summary)) == summary


def _flops_sweep(tmp_path, limit):
    auto = [a.replace("unit=examples", "unit=flops") for a in AUTO]
    return subprocess.run([str(BIN / "budgetsweep"), "-m", f"hydra.sweep.dir={tmp_path}/sweep", *TINY, *auto,
                           "model.hidden=choice(64, 512)", f"hydra.sweeper.budget.limit={limit}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HYDRA_FULL_ERROR": "0"})


def test_a_wide_configuration_is_priced_in_the_plan_before_any_trial(tmp_path):
    # each rung is priced on the calibration configurations themselves: a 512-wide run costs some 16 times a
    # 64-wide one (the task's default), so 3e8 FLOPs cannot hold calibration; priced at the default width,
    # calibration fitted on paper and then refused its wide runs, and verification could not run one full trial
    proc = _flops_sweep(tmp_path, "3e8")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert "calibration needs 4.5 full-run units (6.4e+08 flops: 3 configurations" in proc.stderr, proc.stderr
    assert "raise hydra.sweeper.budget.limit to 1.29e+09" in proc.stderr
    assert not any((tmp_path / "sweep").glob("[0-9]*"))


def test_calibration_is_planned_per_configuration_and_none_of_it_is_refused(tmp_path):
    limit = 1.5e9
    proc = _flops_sweep(tmp_path, "1.5e9")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary, budget, storage, study, ledger = sweep_outputs(tmp_path, "flops", limit)
    calib = [t for t in study.trials if t.user_attrs["auto_proxy"]["phase"] == "calibrate"]
    assert summary["calibration_skipped"] == [] and len(calib) == 6
    assert all(t.state.name == "COMPLETE" for t in calib)
    assert {t.params["model.hidden"] for t in calib} == {64, 512}  # wide and narrow configurations
    # the plan is the sum of the calibration trials' own predictions (what the sweeper reserved for each)
    predicted = {row["trial"]: row["predicted"] for row in budget["trials"]}
    assert summary["plan"]["calibration"]["cost"] == pytest.approx(sum(predicted[t.number] for t in calib), rel=1e-9)
    assert summary["spent"]["calibrate"] <= summary["plan"]["calibration"]["cost"]
    assert summary["spent"]["total"] == pytest.approx(ledger.spent(), rel=1e-12) and ledger.spent() <= limit
    assert summary["final"] is not None  # verification ran
    # budgetsweep-report reads the same story back from the study
    assert json.loads(json.dumps(read_story(storage, budget["study_name"]).summary)) == summary
