"""choose() on real run records of a synthetic task with known fidelity (tests/auto_proxy/synthetic.py):
records written by ``records.write_record`` and read by ``analysis.load_runs``, as the sweeper will."""
from __future__ import annotations

import pytest

from budgetsweep.analysis import load_runs
from budgetsweep.auto_proxy.choose import choose
from budgetsweep.auto_proxy.settings import AutoProxySettings

from .synthetic import FAITHFUL, KINDS, write_calibration, write_run

NAMES = {label: kind for kind, (_, label) in KINDS.items()}


def settings(**kw):
    return AutoProxySettings(n_resamples=400, **kw)


def calibration(tmp_path, kinds, **kw):
    write_calibration(tmp_path, kinds, **kw)
    return load_runs(tmp_path)


def test_picks_the_faithful_candidate_over_a_cheaper_biased_one(tmp_path):
    runs = calibration(tmp_path, ("faithful", "biased"), n_configs=12)
    choice = choose(runs, settings(), "examples", NAMES)
    assert (choice.kind, choice.label, choice.name) == ("proxy", FAITHFUL, "faithful")
    evidence = {c["name"]: c for c in choice.to_dict()["candidates"]}
    assert evidence["faithful"]["confident"] and evidence["faithful"]["rho_low"] >= 0.8
    assert evidence["faithful"]["configs"] == 12 and evidence["faithful"]["cost_reduction"] == pytest.approx(8)
    assert evidence["biased"]["rho"] < 0.8 and not evidence["biased"]["meets"]
    assert evidence["biased"]["cost_reduction"] == pytest.approx(50)
    assert evidence["faithful"]["full_seeds"] == 2 and evidence["faithful"]["ceiling"] > 0.95
    assert "Recommended proxy: " + FAITHFUL in choice.reason


def test_of_two_faithful_candidates_the_cheaper(tmp_path):
    runs = calibration(tmp_path, ("faithful", "faithful_mild", "biased"), n_configs=12)
    choice = choose(runs, settings(), "examples", NAMES)
    assert choice.name == "faithful"  # 8x against 2x, both confident


def test_gpu_hours_judges_cost_by_measured_time(tmp_path):
    runs = calibration(tmp_path, ("faithful", "faithful_mild"), n_configs=12)
    assert choose(runs, settings(), "gpu_hours", NAMES).to_dict()["cost_by"] == "time"
    assert choose(runs, settings(), "gpu_hours", NAMES).name == "faithful"


@pytest.mark.parametrize("fallback", ["milder", "full"])
def test_falls_back_to_full_scale_when_no_candidate_is_faithful(tmp_path, fallback):
    runs = calibration(tmp_path, ("biased", "biased_mild"), n_configs=12)
    choice = choose(runs, settings(fallback=fallback), "examples", NAMES)
    assert (choice.kind, choice.label, choice.fell_back) == ("full", "full", True)
    assert "searching at full scale" in choice.reason and "No proxy meets Spearman rho >= 0.80" in choice.reason


def test_too_few_configurations_for_confidence_fall_back_to_the_mildest_that_meets(tmp_path):
    # 6 configurations: the faithful estimates meet 0.8 but below 10 configurations nothing is confident
    runs = calibration(tmp_path, ("faithful", "faithful_mild", "biased"), n_configs=6)
    choice = choose(runs, settings(), "examples", NAMES)
    assert (choice.kind, choice.name) == ("milder", "faithful_mild")
    assert "fewer than 10 configurations were compared" in choice.reason
    assert choose(runs, settings(fallback="full"), "examples", NAMES).kind == "full"


def test_a_candidate_whose_runs_all_failed_is_evidence_not_a_choice(tmp_path):
    write_calibration(tmp_path, ("faithful",), n_configs=12)
    for lr, width in [(1e-3, 32), (1e-2, 128), (1e-1, 512)]:
        write_run(tmp_path, "biased", lr, width, 0, status="failed")
    choice = choose(load_runs(tmp_path), settings(), "examples", NAMES)
    evidence = {c["name"]: c for c in choice.candidates}
    assert choice.name == "faithful"
    assert evidence["biased"]["configs"] == 0 and evidence["biased"]["excluded_runs"] == 3
    assert evidence["biased"]["rho"] is None  # NaN written as JSON null


def test_rho_rel_is_judged_against_the_noise_ceiling(tmp_path):
    runs = calibration(tmp_path, ("faithful", "biased"), n_configs=12)
    choice = choose(runs, settings(criterion="rho_rel", target=0.9), "examples", NAMES)
    assert choice.name == "faithful" and choice.criterion == "rho_rel"


def test_bad_unit(tmp_path):
    runs = calibration(tmp_path, ("faithful",), n_configs=3)
    with pytest.raises(ValueError, match="unit='hours' is not a budget unit; allowed: examples, flops, gpu_hours"):
        choose(runs, settings(), "hours")
