"""Successive halving across the ladder of candidates, in the exact ``examples`` unit."""
from __future__ import annotations

import pytest

from budgetsweep.auto_proxy.halving import halving_cost, halving_plan, ladder, misleading, rung_configs
from budgetsweep.auto_proxy.phases import PhaseError

COSTS = [("full", 1000.0), ("small_batch", 125.0), ("mup_width", 28.0), ("proxy50", 20.0)]


def test_the_ladder_climbs_from_the_cheapest_rung_to_the_chosen_one():
    assert ladder(COSTS, "small_batch") == [("proxy50", 20.0), ("mup_width", 28.0), ("small_batch", 125.0)]
    assert ladder(COSTS, "proxy50") == [("proxy50", 20.0)]
    assert [n for n, _ in ladder(COSTS, "full")] == ["proxy50", "mup_width", "small_batch", "full"]
    with pytest.raises(ValueError, match="chosen rung 'x' is not among the rungs"):
        ladder(COSTS, "x")


def test_rung_configs_promote_the_top_third():
    assert rung_configs(27, 4, 3) == [27, 9, 3, 1]
    assert rung_configs(10, 4, 3) == [10, 3, 1, 1]


def test_the_first_rung_runs_as_many_as_all_rungs_fit_exactly():
    rungs = ladder(COSTS, "small_batch")
    # n0 = 98: 98 x 20 + 32 x 28 + 10 x 125 = 1,960 + 896 + 1,250 = 4,106; n0 = 99 costs 1,980 + 33 x 28 + 11 x 125 = 4,279
    plan = halving_plan(rungs, 4_106, 3)
    assert [(r.name, r.configs) for r in plan] == [("proxy50", 98), ("mup_width", 32), ("small_batch", 10)]
    assert halving_cost(98, [20, 28, 125], 3) == 4_106 and halving_cost(99, [20, 28, 125], 3) == 4_279
    assert [r.configs for r in halving_plan(rungs, 4_105.99, 3)] == [97, 32, 10]


def test_a_halving_search_that_cannot_fit_its_minimum_is_reported():
    # eta 2 from 10: 10 x 20 + 5 x 28 + 2 x 125 + 1 x 1,000 = 1,590 > 1,000
    with pytest.raises(PhaseError, match=r"successive halving over proxy50 -> mup_width -> small_batch -> full needs "
                                         r"1590 for auto_proxy.search.min_trials=10"):
        halving_plan(ladder(COSTS, "full"), 1_000, 2, min_first=10)
    with pytest.raises(ValueError, match="auto_proxy.search.eta=1 is not allowed; it must be an integer >= 2"):
        halving_plan(ladder(COSTS, "full"), 10_000, 1)


def test_halving_does_not_climb_through_a_rung_whose_calibration_could_not_rank():
    evidence = [{"name": "good", "rho": 0.6}, {"name": "reversed", "rho": -0.5}, {"name": "flat", "rho": 0.0},
                {"name": "unmeasured", "rho": None}, {"name": "nan", "rho": float("nan")},
                {"name": "tied", "rho": 0.9, "tie_limited": True},
                {"name": "did_not_learn", "rho": 0.9, "did_not_learn": True}]
    skip = misleading(evidence)
    assert skip == ["reversed", "flat", "unmeasured", "nan", "tied", "did_not_learn"]
    costs = [(c["name"], 10.0 + i) for i, c in enumerate(evidence)] + [("full", 100.0)]
    assert ladder(costs, "full", skip) == [("good", 10.0), ("full", 100.0)]
    # the chosen rung is climbed to whatever its evidence (the milder fallback may choose a noisy one)
    assert ladder(costs, "tied", skip) == [("good", 10.0), ("tied", 15.0)]
