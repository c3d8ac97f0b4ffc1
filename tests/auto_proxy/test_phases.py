"""The phase plan in the exact ``examples`` unit: full run 1,000 examples; candidates as the digits
presets' factors (1/8, 1/36, 1/50)."""
from __future__ import annotations

import pytest

from budgetsweep.auto_proxy.phases import PhaseError, RungCost, plan_phases, round_up
from budgetsweep.auto_proxy.settings import AutoProxySettings

FULL = RungCost("full", 1000)
CANDIDATES = [RungCost("small_batch", 125), RungCost("mup_width", 28), RungCost("proxy50", 20)]


def test_plan_takes_as_many_seeds_as_each_share_allows_and_gives_the_rest_to_the_search():
    plan = plan_phases(AutoProxySettings(), 30_000, "examples", FULL, CANDIDATES)
    assert plan.caps == {"calibrate": 15_000, "search": 6_000, "verify": 9_000}
    # 2 full seeds would cost 10 x (2,000 + 173) = 21,730 > 15,000: one seed, 10 x 1,173
    assert (plan.calibration.configs, plan.calibration.full_seeds, plan.calibration.cost) == (10, 1, 11_730)
    assert plan.calibration.proxy_trials == {"small_batch": 10, "mup_width": 10, "proxy50": 10}
    assert (plan.verification.top_k, plan.verification.seeds, plan.verification.cost) == (3, 2, 6_000)
    assert plan.search.budget == 30_000 - 11_730 - 6_000
    assert plan.search.trials == {"small_batch": 98, "mup_width": 438, "proxy50": 613, "full": 12}
    assert any("1 full-scale seed" in n for n in plan.notes)
    assert plan.calibration.cost + plan.verification.cost + plan.search.budget == plan.limit


def test_two_full_seeds_where_the_budget_allows():
    plan = plan_phases(AutoProxySettings(), 50_000, "examples", FULL, CANDIDATES)
    assert (plan.calibration.full_seeds, plan.calibration.full_trials, plan.calibration.cost) == (2, 20, 21_730)
    assert not plan.notes


def test_a_phase_that_needs_exactly_its_share_fits():
    settings = AutoProxySettings.from_mapping({"calibrate": {"configs": 10, "full_seeds": 1}})
    plan = plan_phases(settings, 23_460, "examples", FULL, CANDIDATES)  # 0.5 x 23,460 = 11,730 exactly
    assert plan.calibration.cost == 11_730


def test_calibration_that_does_not_fit_names_the_limit_and_the_configurations_that_would():
    with pytest.raises(PhaseError) as err:
        plan_phases(AutoProxySettings(), 20_000, "examples", FULL, CANDIDATES)
    text = str(err.value)
    assert "calibration needs 11.7 full-run units (11,730 examples" in text
    assert ("calibrate share is 10 (10,000 examples: auto_proxy.shares.calibrate=0.5 x "
            "hydra.sweeper.budget.limit=20,000)") in text
    assert "raise hydra.sweeper.budget.limit to 23,460" in text
    assert "lower auto_proxy.calibrate.configs to 8 (below 10 configurations" in text
    assert "drop the costliest candidate (small_batch)" in text
    assert "verification" not in text  # it fits


def test_every_phase_that_does_not_fit_is_named_in_one_message():
    with pytest.raises(PhaseError) as err:
        plan_phases(AutoProxySettings(), 6_000, "examples", FULL, CANDIDATES)
    text = str(err.value)
    assert "calibration needs" in text and "calibrate.configs" not in text  # 3,000 fit only 2 configurations
    assert "verification needs 3 full-run units (3,000 examples: top 3 x 1 seed(s)" in text
    assert "raise hydra.sweeper.budget.limit to 10,000, or lower auto_proxy.verify.top_k to 1" in text


def test_search_below_its_minimum_trials_is_reported():
    settings = AutoProxySettings.from_mapping({"search": {"min_trials": 1000}, "calibrate": {"configs": 3}})
    with pytest.raises(PhaseError) as err:
        plan_phases(settings, 30_000, "examples", FULL, CANDIDATES)
    # room = 30,000 - 3 x 2,173 - 6,000 = 17,481: 874 trials at proxy50 (20 each)
    assert "the search fits 874 trial(s) at the cheapest candidate proxy50 (20 examples each)" in str(err.value)
    assert "raise hydra.sweeper.budget.limit to 100,000" in str(err.value)


def test_a_search_that_fits_no_trial_does_not_suggest_lowering_min_trials_to_one():
    # room = 1,000 - the calibrate and verify caps (neither phase fits) = 200: no trial of 500 fits, so
    # "lower auto_proxy.search.min_trials to 1" (once suggested) would not fit either
    with pytest.raises(PhaseError) as err:
        plan_phases(AutoProxySettings(), 1_000, "examples", FULL, [RungCost("half", 500)])
    text = str(err.value)
    assert "the search fits 0 trial(s) at the cheapest candidate half (500 examples each)" in text
    assert "search.min_trials to" not in text
    assert text.endswith("raise hydra.sweeper.budget.limit to 25,000.")


@pytest.mark.parametrize("limit, message", [(None, "set hydra.sweeper.budget.limit"),
                                            (-1.0, "hydra.sweeper.budget.limit=-1.0 is not allowed")])
def test_no_limit(limit, message):
    with pytest.raises(PhaseError, match=message):
        plan_phases(AutoProxySettings(), limit, "examples", FULL, CANDIDATES)


def test_a_cost_must_be_positive():
    with pytest.raises(ValueError, match="predicted cost of a trial at 'x' is 0"):
        RungCost("x", 0)


def test_round_up():
    assert round_up(23_460.000001, "examples") == 23_460  # float error is not a whole example more
    assert round_up(23_460.5, "examples") == 23_461
    assert round_up(0.123456, "gpu_hours") == pytest.approx(0.124)
    assert round_up(1.5e15, "flops") == pytest.approx(1.5e15)


@pytest.mark.parametrize("limit, texts, fit", [
    # 0.5 x 23,459 = 11,729.5 examples against 11,730 needed: whole examples would read 11,730 twice
    (23_459, ["needs 11.73 full-run units (11,730.0 examples", "share is 11.729 (11,729.5 examples",
              "limit=23,459): raise hydra.sweeper.budget.limit to 23,460,"], 23_460),
    # a thousandth of an example short
    (23_459.998, ["(11,730.000 examples", "(11,729.999 examples",
                  "limit=23,459.998): raise hydra.sweeper.budget.limit to 23,460.000,"], 23_460),
])
def test_a_calibration_just_short_of_its_share_reads_short_and_says_what_limit_fits(limit, texts, fit):
    with pytest.raises(PhaseError) as err:
        plan_phases(AutoProxySettings(), limit, "examples", FULL, CANDIDATES)
    for text in texts:
        assert text in str(err.value)
    assert plan_phases(AutoProxySettings(), fit, "examples", FULL, CANDIDATES).calibration.cost == 11_730


def test_flops_just_short_read_apart():
    scale = 1e12
    full, candidates = RungCost("full", 1000 * scale), [RungCost(r.name, r.cost * scale) for r in CANDIDATES]
    with pytest.raises(PhaseError) as err:
        plan_phases(AutoProxySettings(), 2.3459e16, "flops", full, candidates)
    text = str(err.value)
    assert "needs 11.73 full-run units (1.173e+16 flops" in text and "share is 11.729 (1.17295e+16 flops" in text
    assert "raise hydra.sweeper.budget.limit to 2.35e+16" in text
    assert plan_phases(AutoProxySettings(), 2.35e16, "flops", full, candidates).calibration.cost == pytest.approx(
        1.173e16)


def test_verification_just_short_reads_apart():
    settings = AutoProxySettings.from_mapping({"calibrate": {"configs": 3}})
    with pytest.raises(PhaseError) as err:  # verify share 0.3 x 9,999 = 2,999.7 against 3,000
        plan_phases(settings, 9_999, "examples", FULL, CANDIDATES)
    assert "verification needs 3 full-run units (3,000.0 examples" in str(err.value)
    assert "verify share is 2.9997 (2,999.7 examples" in str(err.value)
    assert "raise hydra.sweeper.budget.limit to 10,000" in str(err.value)


@pytest.mark.parametrize("unit", ["bogus", None, "hours"])
def test_a_unit_that_is_not_a_budget_unit_is_refused_naming_the_key(unit):
    with pytest.raises(ValueError, match=rf"hydra.sweeper.budget.unit={unit!r} is not a budget unit; allowed: "
                                         "gpu_hours, flops, examples"):
        plan_phases(AutoProxySettings(), 30_000, unit, FULL, CANDIDATES)


def test_a_boolean_limit_is_refused():
    with pytest.raises(PhaseError, match="hydra.sweeper.budget.limit=True is not allowed"):
        plan_phases(AutoProxySettings(), True, "examples", FULL, CANDIDATES)


@pytest.mark.parametrize("rungs, message", [
    ([*CANDIDATES, RungCost("full", 10)], r"candidates\[3\] is named 'full', full scale's name"),
    ([*CANDIDATES, RungCost("proxy50", 10)], r"candidates\[3\] is named 'proxy50', the name of an earlier"),
])
def test_rung_names_must_be_unique_and_not_full(rungs, message):
    with pytest.raises(ValueError, match=message):
        plan_phases(AutoProxySettings(), 30_000, "examples", FULL, rungs)
