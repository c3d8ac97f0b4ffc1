"""Evidence that cannot support a verdict never does: zero-variance differences, a deterministic task,
float noise around a constant, too few pairs for the exact sign-flip test, diverged (NaN) runs."""
import json
import math

import numpy as np
import pytest

from budgetsweep.hypothesis import registration, verdict
from budgetsweep.hypothesis.jobs import job_overrides, result_from_record
from budgetsweep.hypothesis.sequential import SequentialPlan, decide
from budgetsweep.hypothesis.spec import HypothesisError, parse
from budgetsweep.hypothesis.stats import analyse, degeneracy

SPEC = {"name": "h", "baseline": ["optim.lr=0.001"], "candidate": ["optim.lr=0.002"], "metric": "val_loss",
        "smallest_effect": 0.01, "seeds": 5, "alpha": 0.05, "scales": {"full": True}}
STUB = {"full": {"baseline": {"overrides": [], "config": {"x": 1}}, "candidate": {"overrides": [], "config": {"x": 2}}}}
VARYING = np.array([0.50, 0.47, 0.55, 0.52, 0.49, 0.51])  # a baseline loss that changes with the seed


def _reg(**change):
    data = SPEC | change
    return registration.build(parse(data, text=json.dumps(data)), configurations=STUB)


def _results(reg, base, cand):
    h = reg["registration_sha256"]
    return [{"registration": h, "scale": "full", "arm": arm, "seed": s, "value": float(v)}
            for s, (b, c) in enumerate(zip(base, cand)) for arm, v in (("baseline", b), ("candidate", c))]


def _strict(v: dict) -> dict:
    return json.loads(json.dumps(v, allow_nan=False))  # raises on NaN/inf: verdict.json is strict JSON


def test_a_constant_gain_at_five_seeds_two_sided_is_not_supported():
    # the old code: sd = 0 gave p_t = 0 and "supported"; the exact sign-flip test's smallest two-sided p is 1/16
    base = VARYING[:5]
    res = analyse(base - (base - 0.02), alpha=0.05, smallest_effect=0.01, sides=2, arms=(base, base - 0.02))
    assert res.verdict == "inconclusive" and res.degenerate == "constant"
    assert math.isnan(res.p_t) and res.p_permutation == pytest.approx(0.0625)
    assert "zero variance" in res.sentence and "0.0625" in res.sentence and "t-test" in res.sentence
    # one-sided, the same evidence reaches 1/32 < 0.05: the sign-flip test supports it, and says so
    one = analyse(np.full(5, 0.02), alpha=0.05, smallest_effect=0.01, arms=(base, base - 0.02))
    assert one.verdict == "supported" and one.p_permutation == pytest.approx(1 / 32) and "sign-flip" in one.sentence


def test_a_deterministic_task_is_inconclusive_whatever_the_gain():
    # neither arm changes with the seed: five seeds are one observation
    base, cand = np.full(5, 0.50), np.full(5, 0.40)
    res = analyse(base - cand, alpha=0.05, smallest_effect=0.01, arms=(base, cand))
    assert res.verdict == "inconclusive" and res.degenerate == "deterministic"
    assert math.isnan(res.p_t) and math.isnan(res.p_permutation) and all(map(math.isnan, res.ci))
    assert "deterministic" in res.sentence and "0.1" in res.sentence
    v = verdict.build(_reg(), _results(_reg(), base, cand))
    assert v["verdict"] == "inconclusive" and v["scales"]["full"]["degenerate"] == "deterministic"
    assert v["scales"]["full"]["p_values"]["paired_t"] is None and v["scales"]["full"]["effect"]["ci"] == [None, None]
    _strict(v)


def test_float_noise_around_a_constant_is_that_constant():
    base = VARYING[:5]
    noise = np.array([1e-12, -2e-12, 0.0, 3e-12, -1e-12])
    # the old code: a t-test on the noise, p ~ 1e-40, "supported" two-sided at n=5
    v = verdict.build(_reg(sides=2), _results(_reg(sides=2), base, base - 0.02 + noise))
    full = v["scales"]["full"]
    assert full["verdict"] == "inconclusive" and full["degenerate"] == "constant"
    assert full["effect"]["mean_improvement"] == pytest.approx(0.02) and full["p_values"]["paired_t"] is None
    # noise around 0 (the candidate changes nothing), all of one sign: the old t-test said "supported"
    kind, c = degeneracy(np.abs(noise[[0, 2, 3]]) + 1e-13, arms=(base[:3], base[:3] - np.abs(noise[[0, 2, 3]])))
    assert (kind, c) == ("constant", 0.0)
    cand = np.concatenate([base, [0.44]]) - np.array([1e-12, 2e-12, 1e-12, 3e-12, 1e-12, 2e-12])
    v = verdict.build(_reg(seeds=6), _results(_reg(seeds=6), np.concatenate([base, [0.44]]), cand))
    assert v["verdict"] == "refuted" and v["scales"]["full"]["effect"]["mean_improvement"] == 0.0
    # genuine variation a thousand times above rounding is analysed as usual
    assert degeneracy(np.array([0.02, 0.021, 0.019]), arms=(base[:3], base[:3] - [0.02, 0.021, 0.019]))[0] is None


def test_permutation_test_that_cannot_reach_alpha_detects_nothing():
    d = np.array([0.10, 0.20, 0.15, 0.12, 0.30])
    res = analyse(d, alpha=0.05, smallest_effect=0.01, sides=2, test="permutation")
    assert res.verdict == "inconclusive" and math.isinf(res.mde)
    assert "cannot reach p < 0.05" in res.sentence and "0.0625" in res.sentence
    # the t-test may decide at such an n, but the verdict says what it rests on
    t = analyse(d, alpha=0.05, smallest_effect=0.01, sides=2)
    assert t.verdict == "supported" and any("rests on the differences being close to normal" in x for x in t.notes)
    assert not analyse(np.r_[d, 0.2], alpha=0.05, smallest_effect=0.01, sides=2).notes  # 6 pairs: 1/32 < 0.05
    # registering such a design is bad input (exit 2 in the command): it could never support anything
    with pytest.raises(HypothesisError, match="smallest 2-sided p is 0.0625"):
        parse(SPEC | {"sides": 2, "test": "permutation"})
    parse(SPEC | {"sides": 2, "test": "permutation", "seeds": 6})  # 1/32 < 0.05: allowed


def test_a_diverged_candidate_makes_the_verdict_inconclusive_not_survivor_biased():
    reg = _reg()
    base = VARYING[:5]
    cand = base - np.array([0.05, 0.04, 0.06, 0.05, 0.0])
    record = {"status": "failed", "seed": 4, "metrics": {},
              "error": "budgetsweep.train.loop.NonFiniteLoss: training loss is nan at step 12 (lr=0.002)",
              "overrides": job_overrides(dict(reg, configurations={"full": {"candidate": {"overrides": []}}}),
                                         "full", "candidate", 4)}
    diverged = result_from_record(record, "val_loss")
    assert diverged["seed"] == 4 and math.isnan(diverged["value"])  # a result: its job is not rerun
    assert result_from_record({**record, "error": "RuntimeError: CUDA out of memory"}, "val_loss") is None
    results = [r for r in _results(reg, base, cand) if not (r["seed"] == 4 and r["arm"] == "candidate")] + [diverged]
    v = verdict.build(reg, results)
    full = v["scales"]["full"]
    # the four surviving pairs alone say "supported" (the old code analysed them)
    assert verdict.build(reg, [r for r in results if r["seed"] != 4])["verdict"] == "supported"
    assert v["verdict"] == "inconclusive" and full["nonfinite_seeds"] == [4]
    assert "not finite" in v["sentence"] and "candidate at seed(s) [4]" in v["sentence"]
    assert full["pairs"][4] == {"seed": 4, "baseline": base[4], "candidate": None, "improvement": None}
    _strict(v)
    # a sequential scale stops there: the verdict cannot change
    seq = _reg(sequential={"looks": [3, 5]})
    results = [dict(r, registration=seq["registration_sha256"]) for r in results]
    assert verdict.build(seq, results)["scales"]["full"]["sequential"]["stop"] is True


def test_sequential_looks_and_transfer_with_zero_variance():
    plan = SequentialPlan.build([3, 6], 0.05)
    base = VARYING
    # 3 pairs: one-sided sign-flip p >= 1/8, far above the first look's level: continue
    early = decide(np.full(3, 0.02), plan, smallest_effect=0.01, arms=(base[:3], base[:3] - 0.02))
    assert not early.stop and early.analysis.verdict == "inconclusive" and early.analysis.degenerate == "constant"
    # 6 pairs: p = 1/64 below the last look's level
    dec = decide(np.full(6, 0.02), plan, smallest_effect=0.01, arms=(base, base - 0.02))
    assert dec.stop and dec.look == 1 and dec.analysis.verdict == "supported"
    assert dec.analysis.p_permutation == pytest.approx(1 / 64) and 1 / 64 < plan.levels[1]
    dec = decide(np.full(6, 0.02), plan, smallest_effect=0.01, arms=(np.full(6, 0.5), np.full(6, 0.48)))
    assert dec.stop and dec.analysis.verdict == "inconclusive" and dec.analysis.degenerate == "deterministic"
    stub = {**STUB, "proxy": STUB["full"]}
    both = registration.build(parse(SPEC | {"scales": {"proxy": "proxy50", "full": True}}, text="x"),
                              configurations=stub)
    h = both["registration_sha256"]
    res = [dict(r, registration=h) for r in _results(both, base[:5], base[:5] - 0.02)]
    res += [dict(r, scale="proxy") for r in res]
    t = verdict.build(both, res)["transfer"]
    assert t["ratio_ci"] == [None, None] and "zero variance" in t["method"] and t["same_sign"] is True
