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


def test_the_milder_fallback_never_searches_at_a_candidate_not_cheaper_than_full(tmp_path):
    # half the examples but three times their wall time (bf16 autocast on a CPU): 1.5x full's time
    runs = calibration(tmp_path, ("faithful_slow",), n_configs=6)
    assert choose(runs, settings(), "examples", NAMES).name == "faithful_slow"  # 2x cheaper in examples
    choice = choose(runs, settings(), "gpu_hours", NAMES)
    assert (choice.kind, choice.label) == ("full", "full")
    assert "not cheaper than the full run" in choice.reason


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


def _two_level(root, kind, chosen):
    """``kind``'s runs with two score levels: the better half of the configurations (by the true full
    loss) at 0.5, the rest at 0.9: rho ~0.87 and a narrow bootstrap interval, but a 1-in-6 pick."""
    from .synthetic import full_loss

    order = sorted(chosen, key=lambda c: full_loss(*c))
    good = set(order[: len(order) // 2])
    for lr, width in chosen:
        write_run(root, kind, lr, width, 0, value=0.5 if (lr, width) in good else 0.9)


def test_a_two_level_proxy_is_never_chosen_even_when_its_interval_clears_the_target(tmp_path):
    chosen = write_calibration(tmp_path, (), n_configs=12)
    _two_level(tmp_path, "biased", chosen)
    choice = choose(load_runs(tmp_path), AutoProxySettings(), "examples", NAMES)
    [evidence] = choice.candidates
    # the bootstrap keeps the two levels in every resample: the lower bound clears 0.8 (the old rule chose it)
    assert evidence["rho_low"] >= 0.8 and evidence["configs"] == 12 and evidence["top1"] == pytest.approx(1 / 6)
    assert (evidence["proxy_levels"], evidence["full_levels"], evidence["tie_limited"]) == (2, 12, True)
    assert evidence["confident"] is False and evidence["recommended"] is False
    # not the milder fallback either: its estimate meets 0.8 only through the ties
    assert (choice.kind, choice.label) == ("full", "full")
    assert "biased (2 distinct proxy and 12 distinct full-scale scores over 12 configurations)" in choice.reason


def test_a_faithful_candidate_wins_over_a_cheaper_two_level_one(tmp_path):
    chosen = write_calibration(tmp_path, ("faithful",), n_configs=12)
    _two_level(tmp_path, "biased", chosen)
    choice = choose(load_runs(tmp_path), settings(), "examples", NAMES)
    assert (choice.kind, choice.name) == ("proxy", "faithful")
    evidence = {c["name"]: c for c in choice.candidates}
    assert evidence["faithful"]["tie_limited"] is False and evidence["faithful"]["proxy_levels"] == 12
    assert evidence["biased"]["tie_limited"] is True


def test_one_tie_among_twelve_configurations_still_leaves_a_verdict(tmp_path):
    chosen = write_calibration(tmp_path, (), n_configs=12)
    from .synthetic import full_loss

    worst = sorted(chosen, key=lambda c: full_loss(*c))[-2:]
    for lr, width in chosen:  # the faithful proxy with its two worst configurations tied
        write_run(tmp_path, "faithful", lr, width, 0, value=9.0 if (lr, width) in worst else None)
    choice = choose(load_runs(tmp_path), settings(), "examples", NAMES)
    [evidence] = choice.candidates
    assert (evidence["proxy_levels"], evidence["tie_limited"]) == (11, False)
    assert choice.kind == "proxy"


@pytest.mark.parametrize("n_configs", [8, 9])
def test_the_milder_fallback_prefers_the_stronger_evidence_over_the_milder_reduction(tmp_path, n_configs):
    # both estimates meet 0.8 below the 10 configurations a verdict needs; the mild one's runs are noisy,
    # so its interval's lower bound is far below the cheaper one's (8 configurations: 0.34 against 0.80)
    runs = calibration(tmp_path, ("faithful", "noisy_mild"), n_configs=n_configs)
    choice = choose(runs, settings(), "examples", NAMES)
    evidence = {c["name"]: c for c in choice.candidates}
    assert evidence["noisy_mild"]["meets"] and evidence["faithful"]["meets"]
    assert evidence["faithful"]["rho_low"] > evidence["noisy_mild"]["rho_low"] + 0.2
    assert (choice.kind, choice.name) == ("milder", "faithful")
    assert f"the highest lower bound of its rho interval ({evidence['faithful']['rho_low']:.2f})" in choice.reason


def test_a_candidate_whose_runs_did_not_learn_is_not_the_fallback(tmp_path):
    # as above, but the mildest candidate's runs did not beat the task's trivial baseline (record verdicts)
    runs = calibration(tmp_path, ("faithful", "faithful_mild", "biased"), n_configs=6)
    mild = {label for label, name in NAMES.items() if name == "faithful_mild"}
    runs["learned"] = runs["reduction_label"].isin(mild).map({True: "not_learned", False: "learned"})
    choice = choose(runs, settings(), "examples", NAMES)
    assert (choice.kind, choice.name) == ("milder", "faithful")
    assert "did not learn" in choice.reason
    evidence = {c["name"]: c for c in choice.to_dict()["candidates"]}
    assert (evidence["faithful_mild"]["did_not_learn"], evidence["faithful_mild"]["not_learned_runs"]) == (True, 6)
    assert evidence["faithful"]["did_not_learn"] is False and evidence["faithful"]["judged_runs"] == 6
