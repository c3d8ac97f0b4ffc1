"""Alpha spending: boundaries against published values, stop/continue, and type I error by simulation."""
import math

import numpy as np
import pytest

from budgetsweep.hypothesis.sequential import SequentialPlan, boundaries, decide, obrien_fleming, pocock


def test_spending_functions_spend_alpha_by_the_end():
    assert obrien_fleming(1.0, 0.05) == pytest.approx(0.05)
    assert pocock(1.0, 0.05) == pytest.approx(0.05)
    assert obrien_fleming(0.25, 0.05) < pocock(0.25, 0.05)  # O'Brien-Fleming spends little early


def test_obrien_fleming_boundaries_match_published_values():
    # Lan-DeMets O'Brien-Fleming, 3 equally spaced looks, two-sided 0.05 (gsDesign sfLDOF: 3.71, 2.51, 1.99)
    assert boundaries([1, 2, 3], 0.05, "obrien_fleming", 2) == pytest.approx([3.7103, 2.5114, 1.9930], abs=2e-3)
    # one-sided 0.025 is the same upper boundary
    assert boundaries([1, 2, 3], 0.025, "obrien_fleming", 1) == pytest.approx([3.7103, 2.5114, 1.9930], abs=2e-3)


@pytest.mark.slow
def test_five_look_boundaries_match_published_values():
    assert boundaries([1, 2, 3, 4, 5], 0.05, "obrien_fleming", 2) == pytest.approx(
        [4.877, 3.357, 2.680, 2.290, 2.031], abs=2e-3)
    assert boundaries([1, 2, 3, 4, 5], 0.05, "pocock", 2) == pytest.approx(
        [2.438, 2.427, 2.410, 2.397, 2.386], abs=2e-3)


def test_plan_validation_names_the_key():
    with pytest.raises(ValueError, match=r"sequential.looks=\[5, 3\]"):
        SequentialPlan.build([5, 3], 0.05)
    with pytest.raises(ValueError, match=r"sequential.looks=\[1, 3\]"):
        SequentialPlan.build([1, 3], 0.05)
    with pytest.raises(ValueError, match="sequential.spending='haybittle'"):
        SequentialPlan.build([3, 6], 0.05, "haybittle")


PLAN = SequentialPlan.build([4, 8, 12], 0.05, "obrien_fleming", 1)


def test_decide_waits_for_the_first_look_and_analyses_planned_pairs_only():
    d = np.array([0.1, -0.2, 0.3])
    assert not decide(d, PLAN, smallest_effect=0.5).stop
    assert decide(d, PLAN, smallest_effect=0.5).look is None
    # 9 complete pairs (a resumed run past look 2): look 2 analyses exactly its 8 planned pairs
    d9 = np.array([0.3, -0.2, 0.4, 0.1, 0.5, -0.3, 0.2, 0.1, 9.0])
    res = decide(d9, PLAN, smallest_effect=0.3)
    assert res.look == 1 and res.analysis.n == 8
    assert res.analysis.alpha == pytest.approx(PLAN.levels[1])
    assert not res.stop


def test_decide_stops_early_on_a_clear_effect_and_at_the_last_look():
    clear = np.array([1.0, 1.1, 0.9, 1.05])
    res = decide(clear, PLAN, smallest_effect=0.5)
    assert res.stop and res.look == 0 and res.analysis.verdict == "supported"
    noisy = np.array([0.3, -0.2, 0.4, 0.1, 0.5, -0.3, 0.2, 0.1, 0.0, -0.4, 0.6, -0.1])
    res = decide(noisy, PLAN, smallest_effect=0.25)
    assert res.stop and res.look == 2 and res.analysis.verdict == "inconclusive"
    # the same pairs against a larger smallest effect, which the interval excludes:, refuted at the last look
    assert decide(noisy, PLAN, smallest_effect=0.5).analysis.verdict == "refuted"


def _run(effect, rng, REPS):
    rejected, pairs = 0, 0
    for _ in range(REPS):
        d = rng.normal(effect, 1.0, size=PLAN.looks[-1])
        for n in PLAN.looks:
            res = decide(d[:n], PLAN, smallest_effect=0.5)
            if res.stop:
                rejected += res.analysis.verdict == "supported"
                pairs += n
                break
    return rejected / REPS, pairs / REPS


@pytest.mark.parametrize("REPS", [200, pytest.param(2000, marks=pytest.mark.slow)])
def test_sequential_false_positives_at_most_alpha_and_early_stops_save_pairs(REPS):
    rng = np.random.default_rng(7)
    rate, _ = _run(0.0, rng, REPS)
    assert rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / REPS)
    rate, mean_pairs = _run(1.0, rng, REPS)
    assert rate > 0.8
    assert mean_pairs < PLAN.looks[-1] - 2  # stopping early saves budget under a true effect
