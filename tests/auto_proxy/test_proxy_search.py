"""Proxy search (issue 15, point 1's third way): the settings' own Optuna study (real SQLite storage), and
through the command on a tiny teacher_student task in the exact ``examples`` unit: sampled settings
calibrated as rungs, the budget cap, the choice, the summary against the records, bad input."""
from __future__ import annotations

import json

import optuna
import pytest
from scipy import stats

from budgetsweep.auto_proxy.proxy_search import ProxySearchStudy, study_name
from budgetsweep.auto_proxy.settings import ProxySearch
from budgetsweep.auto_proxy.story import read_story
from budgetsweep.budget.ledger import Ledger

from .test_sweep import budgetsweep


def _study(tmp_path, trials=3, seed=0):
    search = ProxySearch(reduction=["data_subset"], params={"data_subset.fraction": "tag(log, interval(0.05, 0.5))"},
                         trials=trials)
    return ProxySearchStudy(search, f"sqlite:///{tmp_path / 'p.db'}", "sweep", seed)


def test_the_proxy_study_hands_back_an_unfinished_setting_and_stops_at_its_trials(tmp_path):
    first = _study(tmp_path).next()
    assert first.number == 0 and first.name == "proxy_search[0]"
    fraction = first.params["data_subset.fraction"]
    assert 0.05 <= fraction <= 0.5
    assert first.overrides == ("reduction=[data_subset]", f"reduction.data_subset.fraction={fraction!r}")
    # a sweeper killed while calibrating it: the next one gets the same setting back, not a new one
    again = _study(tmp_path)
    assert again.next() == first
    again.tell(first, 0.9, 0.25, {"rung": first.name})
    second = again.next()
    assert second.number == 1 and second.params != first.params
    again.tell(second, None, 0.5, {})  # no fidelity (its runs failed): the sampler learns nothing from it
    third = _study(tmp_path).next()
    _study(tmp_path).tell(third, 0.95, 0.1, {})
    assert _study(tmp_path).next() is None  # 3 settings asked and told
    study = optuna.load_study(study_name=study_name("sweep"), storage=f"sqlite:///{tmp_path / 'p.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL", "COMPLETE"]
    assert study.trials[0].values == [0.9, 0.25] and study.trials[0].user_attrs == {"rung": "proxy_search[0]"}
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    assert _study(tmp_path).pareto() == [2]  # fidelity 0.95 at cost 0.1 dominates 0.9 at 0.25


STEPS = ["train.batch_size=32"]  # 8 steps of 32 a full run: short_schedule's fractions cost whole steps
NO_CANDIDATES = "hydra.sweeper.auto_proxy.candidates=[]"


def _proxy_search(space: str, trials: int, reduction: str = "short_schedule") -> str:
    return (f"hydra.sweeper.auto_proxy.proxy_search={{reduction: [{reduction}], params: "
            f"{{{reduction}.fraction: '{space}'}}, trials: {trials}}}")


def _sweep(tmp_path, limit, *args):
    """Run the sweep with ``args``; (summary, sweep study, proxy-search study, ledger)."""
    proc = budgetsweep(tmp_path, *STEPS, NO_CANDIDATES, *args, f"hydra.sweeper.budget.limit={limit:g}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "sweep" / "auto_proxy_summary.json").read_text())
    name = json.loads((tmp_path / "sweep" / "budget_summary.json").read_text())["study_name"]
    storage = f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}"
    return (summary, optuna.load_study(study_name=name, storage=storage),
            optuna.load_study(study_name=study_name(name), storage=storage),
            Ledger(storage, name, unit="examples", limit=limit))


def _check_against_records(summary, study, proxies, ledger, limit, configs):
    """Every sampled setting is a calibrated rung: its runs on every calibration configuration, its summary
    row's cost factor and fidelity those of its records, its proxy-study trial told the same; the budget holds."""
    calib = [t for t in study.trials if t.user_attrs["auto_proxy"]["phase"] == "calibrate"]
    full = {t.user_attrs["auto_proxy"]["config"]: t for t in calib if t.user_attrs["auto_proxy"]["rung"] == "full"}
    rows = {row["name"]: row for row in summary["candidates"]}
    settings = {s["rung"]: s for s in summary["proxy_search"]["settings"]}
    calibrated = 0.0
    for trial in proxies.trials:
        rung = f"proxy_search[{trial.number}]"
        runs = {t.user_attrs["auto_proxy"]["config"]: t for t in calib if t.user_attrs["auto_proxy"]["rung"] == rung}
        assert sorted(runs) == list(range(configs))  # a rung of its own on every calibration configuration
        fraction = trial.params["reduction.short_schedule.fraction"]
        assert all(t.params == full[c].params for c, t in runs.items())  # the same configurations
        assert all(t.user_attrs["reduction_label"] == f"short_schedule(fraction={fraction},mode=compress)"
                   for t in runs.values())
        examples = {c: ledger.charge(t.number).actual for c, t in runs.items()}
        factor = examples[0] / ledger.charge(full[0].number).actual
        rho = stats.spearmanr([full[c].value for c in range(configs)], [runs[c].value for c in range(configs)])[0]
        row = rows[rung]
        assert row["proxy_search"]["params"] == {"short_schedule.fraction": fraction}
        assert row["proxy_search"]["cost_factor"] == factor == 1 / row["cost_reduction"]
        assert row["proxy_search"]["fidelity"] == pytest.approx(rho, abs=1e-12) == row["rho"]
        assert trial.values == [row["proxy_search"]["fidelity"], factor] and trial.state.name == "COMPLETE"
        assert settings[rung]["params"] == row["proxy_search"]["params"] and settings[rung]["fidelity"] == row["rho"]
        calibrated += sum(examples.values())
    assert summary["spent"]["calibrate"] == configs * FULL_STEPS + calibrated <= summary["plan"]["calibration"]["cost"]
    assert summary["spent"]["total"] == ledger.spent() <= limit
    assert all(c.state == "committed" for c in ledger.charges())


FULL_STEPS = 256.0  # a full run at batch 32: 8 steps of 32


def test_sampled_settings_are_calibrated_as_rungs_and_the_summary_matches_the_records(tmp_path):
    # plan: calibrate 3 x (256 + 2 x 192 at the space's costliest corner, 0.75 of 8 steps) = 1,920
    limit = 4000.0
    summary, study, proxies, ledger = _sweep(tmp_path, limit, _proxy_search("interval(0.25, 0.75)", 2))
    assert summary["plan"]["calibration"]["cost"] == 3 * (256 + 2 * 192)
    assert len(proxies.trials) == 2 and summary["proxy_search"]["trials"] == 2
    _check_against_records(summary, study, proxies, ledger, limit, 3)
    assert summary["choice"]["name"] in {"proxy_search[0]", "proxy_search[1]", "full"}
    # budgetsweep-report reads the same story back from the study, sampled settings included
    storage = f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}"
    assert json.loads(json.dumps(read_story(storage, study.study_name).summary)) == summary
    assert study.user_attrs["auto_proxy:proxy_search"] == {"study": proxies.study_name}


def test_what_calibration_was_planned_and_did_not_spend_goes_to_the_search(tmp_path):
    # settings are planned at the space's costliest corner (half the data: 128 examples a run); the ones drawn cost
    # less, and that difference used to be left to nobody (18% of a budget unspent at the sweep's end)
    limit = 4000.0
    summary, study, proxies, ledger = _sweep(tmp_path, limit, _proxy_search("tag(log, interval(0.02, 0.5))", 2,
                                                                            "data_subset"))
    unspent = summary["plan"]["calibration"]["cost"] - summary["spent"]["calibrate"]
    assert unspent >= 64
    cap = study.user_attrs["auto_proxy:search_budget"]
    assert cap == summary["plan"]["search"]["budget"] + unspent
    assert summary["plan"]["search"]["budget"] < summary["spent"]["search"] <= cap
    assert summary["spent"]["total"] == ledger.spent() <= limit


@pytest.mark.slow  # 10 calibration configurations x (full + 3 settings), then search and verification: ~40 s
def test_the_cheapest_setting_whose_fidelity_clears_the_target_is_chosen(tmp_path):
    # a truncated-in-steps schedule ranks teacher_student's learning rates as full scale does; 10 configurations
    # (the analysis module's minimum for a confident choice); calibration 10 x (256 + 3 x 192) = 8,320 of 10,400
    limit = 10400.0
    summary, study, proxies, ledger = _sweep(
        tmp_path, limit, _proxy_search("interval(0.25, 0.75)", 3), "hydra.sweeper.auto_proxy.calibrate.configs=10",
        "hydra.sweeper.auto_proxy.target=0.5", "hydra.sweeper.auto_proxy.shares={calibrate: 0.8, search: 0.05, verify: 0.15}")
    _check_against_records(summary, study, proxies, ledger, limit, 10)
    rows = summary["candidates"]
    confident = [r for r in rows if r["confident"]]
    assert confident and summary["choice"]["kind"] == "proxy"
    cheapest = max(r["cost_reduction"] for r in confident)
    chosen = next(r for r in rows if r["name"] == summary["choice"]["name"])
    # the chosen setting: confident (its interval's lower bound clears 0.5), and no confident one is cheaper
    assert chosen["confident"] and chosen["rho_low"] >= 0.5 and chosen["cost_reduction"] == cheapest > 1
    assert chosen["name"].startswith("proxy_search[") and chosen["proxy_search"]["pareto"]
    search = [t for t in study.trials if t.user_attrs["auto_proxy"]["phase"] == "search"]
    assert search and all(t.user_attrs["reduction_label"] == chosen["label"] for t in search)


@pytest.mark.parametrize("args, message", [
    # the plan prices every setting at the space's costliest corner: 3 x (256 + 2 x 192) = 1,920 > 0.5 x 3,800
    (["hydra.sweeper.budget.limit=3800", _proxy_search("interval(0.25, 0.75)", 2)],
     "raise hydra.sweeper.budget.limit to 3,840, or lower auto_proxy.proxy_search.trials or the costly end of its "
     "space"),
    (["hydra.sweeper.budget.limit=9000", _proxy_search("interval(0.25, 0.75)", 2, reduction="nosuch")],
     "auto_proxy.proxy_search at {'nosuch.fraction': 0.25}: cannot run for this task"),
    (["hydra.sweeper.budget.limit=9000", "hydra.sweeper.auto_proxy.proxy_search={reduction: [short_schedule], "
      "params: {data_subset.fraction: 'interval(0.1, 0.5)'}}"],
     "each key must be <reduction>.<parameter> of a reduction in ['short_schedule']"),
    (["hydra.sweeper.budget.limit=9000", "hydra.sweeper.auto_proxy.proxy_search={reduction: [short_schedule], "
      "params: {short_schedule.fraction: 0.5}}"],
     "auto_proxy.proxy_search.params.short_schedule.fraction=0.5 is not allowed; it must be a search space"),
])
def test_a_proxy_search_that_cannot_run_or_fit_is_exit_2_before_any_trial(tmp_path, args, message):
    proc = budgetsweep(tmp_path, *STEPS, NO_CANDIDATES, *args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert message in proc.stderr, proc.stderr
    assert not any((tmp_path / "sweep").glob("[0-9]*"))


@pytest.mark.slow  # two sweeps, the first killed: about a minute on a shared CPU
def test_a_sweep_killed_while_calibrating_a_sampled_setting_resumes_that_setting(tmp_path):
    from .test_sweep import KILL_ARGS, _kill_when, _ledger_states

    # limit 2,400: calibrate 3 x (256 + 2 x 128) = 1,536 <= 0.65 x 2,400; verify 1 x 256; search 608
    extra = [*STEPS, NO_CANDIDATES, _proxy_search("interval(0.25, 0.5)", 2), "hydra.sweeper.auto_proxy.verify.top_k=1",
             "hydra.sweeper.auto_proxy.shares={calibrate: 0.65, search: 0.2, verify: 0.15}"]
    # trials 0-2: full scale; 3-5: proxy_search[0]; killed while its 2nd run (trial 4) runs
    name = _kill_when(tmp_path, lambda db: len(s := _ledger_states(db)) >= 5 and s[-1] == "reserved", *extra)
    storage = f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}"
    before = optuna.load_study(study_name=study_name(name), storage=storage).trials
    assert [t.state.name for t in before] == ["RUNNING"]
    resumed = budgetsweep(tmp_path, *KILL_ARGS, *extra)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    proxies = optuna.load_study(study_name=study_name(name), storage=storage).trials
    assert len(proxies) == 2 and all(t.state.is_finished() for t in proxies)
    assert proxies[0].params == before[0].params  # the same setting, calibrated on, not asked anew
    study = optuna.load_study(study_name=name, storage=storage)
    ran = [t for t in study.trials if t.state.name != "WAITING"]
    tags = [tuple(t.user_attrs["auto_proxy"].values()) for t in ran]
    assert len(tags) == len(set(tags))  # no planned job launched twice
    calib = sorted((t[1], t[2]) for t in tags if t[0] == "calibrate")
    assert calib == sorted((rung, c) for rung in ("full", "proxy_search[0]", "proxy_search[1]") for c in range(3))
    ledger = Ledger(storage, name, unit="examples", limit=2400.0)
    assert all(c.state == "committed" for c in ledger.charges()) and ledger.reserved() == 0.0
    assert len(ledger.charges()) == len(ran)  # each trial charged once (the killed one: its reservation)
    summary = json.loads((tmp_path / "sweep" / "auto_proxy_summary.json").read_text())
    assert summary["spent"]["calibrate"] <= summary["plan"]["calibration"]["cost"] == 1536
    assert summary["spent"]["total"] == ledger.spent() <= 2400.0 and summary["phase"] == "done"
    assert [s["rung"] for s in summary["proxy_search"]["settings"]] == ["proxy_search[0]", "proxy_search[1]"]


def test_a_setting_drawn_again_runs_nothing_and_is_told_its_rungs_values(tmp_path):
    # 3 settings from 2 values: one recipe is drawn twice; the plan holds 3 (3 x (256 + 3 x 128) = 1,920)
    limit = 4000.0
    summary, study, proxies, ledger = _sweep(tmp_path, limit, _proxy_search("choice(0.25, 0.5)", 3))
    settings = summary["proxy_search"]["settings"]
    again = [s for s in settings if s["same_as"] is not None]
    rungs = {t.user_attrs["auto_proxy"]["rung"] for t in study.trials if t.user_attrs["auto_proxy"]["phase"] == "calibrate"}
    assert len(settings) == 3 and len(again) >= 1 and len(rungs) == 1 + 3 - len(again)
    for setting in again:
        first = next(s for s in settings if s["rung"] == setting["same_as"])
        assert setting["rung"] not in rungs and setting["params"] == first["params"]
        assert (setting["fidelity"], setting["cost_factor"]) == (first["fidelity"], first["cost_factor"])
        assert proxies.trials[setting["trial"]].values == proxies.trials[first["trial"]].values
    assert summary["spent"]["calibrate"] == 3 * FULL_STEPS + sum(
        3 * 256 * s["params"]["short_schedule.fraction"] for s in settings if s["same_as"] is None)
    assert summary["spent"]["total"] == ledger.spent() <= limit
