"""verdict.json: built from a registration and its results; JSON-ready; refuses other registrations."""
import json

import numpy as np
import pytest
from scipy import stats

from budgetsweep.hypothesis import registration, verdict
from budgetsweep.hypothesis.registration import MixedRegistrationError
from budgetsweep.hypothesis.spec import parse

BASE = {"name": "h", "baseline": ["optim.lr=0.001"], "candidate": ["optim.lr=0.002"], "metric": "val_loss",
        "smallest_effect": 0.01, "seeds": [7, 3, 5, 1, 9], "alpha": 0.05, "scales": {"proxy": "proxy50", "full": True}}
STUB = {s: {"baseline": {"overrides": [], "config": {"x": 1}}, "candidate": {"overrides": [], "config": {"x": 2}}}
        for s in ("proxy", "full")}
BASELINE = [0.50, 0.52, 0.49, 0.51, 0.53]
CANDIDATE = [0.45, 0.48, 0.46, 0.45, 0.47]


def _reg(**change):
    return registration.build(parse(BASE | change, text=json.dumps(BASE | change)), configurations=STUB)


def _results(reg, scale, base, cand, seeds=(7, 3, 5, 1, 9)):
    h = reg["registration_sha256"]
    out = []
    for s, b, c in zip(seeds, base, cand):  # interleaved as the runs finish: baseline then candidate per seed
        out += [{"registration": h, "scale": scale, "arm": "baseline", "seed": s, "value": b},
                {"registration": h, "scale": scale, "arm": "candidate", "seed": s, "value": c}]
    return out


def test_verdict_json_carries_hash_pairs_effect_p_values_mde_and_transfer(tmp_path):
    reg = _reg()
    full_cand = [b - 0.02 for b in BASELINE]
    results = _results(reg, "proxy", BASELINE, CANDIDATE)[::-1] + _results(reg, "full", BASELINE, full_cand)
    results = results[:-1]  # the last full candidate (seed 9) crashed: seed 9 is incomplete at full scale
    v = verdict.build(reg, results)
    assert v["registration_sha256"] == reg["registration_sha256"]
    proxy = v["scales"]["proxy"]
    assert [p["seed"] for p in proxy["pairs"]] == [7, 3, 5, 1, 9]  # registered order, not arrival order
    d = np.array(BASELINE) - np.array(CANDIDATE)
    assert [p["improvement"] for p in proxy["pairs"]] == pytest.approx(d)
    assert proxy["effect"]["mean_improvement"] == pytest.approx(d.mean())
    expected = stats.ttest_rel(BASELINE, CANDIDATE, alternative="greater").pvalue
    assert proxy["p_values"]["paired_t"] == pytest.approx(expected)
    assert proxy["p_values"]["sign_flip_permutation"] == pytest.approx(1 / 32)
    assert proxy["verdict"] == "supported" and v["verdict"] == "supported"
    assert proxy["mde"]["power"] == 0.8 and proxy["mde"]["value"] > 0
    full = v["scales"]["full"]
    assert full["incomplete_seeds"] == [9] and full["n_pairs"] == 4
    assert v["transfer"]["same_sign"] is True
    assert v["transfer"]["ratio_full_to_proxy"] == pytest.approx(0.02 / d.mean())
    path = verdict.write(tmp_path, v)
    assert json.loads(path.read_text()) == json.loads(json.dumps(v, allow_nan=False))


def test_too_few_pairs_and_sequential_looks():
    reg = _reg(seeds=[7, 3, 5, 1], sequential={"looks": [2, 4]})
    one = _results(reg, "proxy", BASELINE[:1], CANDIDATE[:1])
    v = verdict.build(reg, one)
    assert v["scales"]["proxy"]["verdict"] == "inconclusive"
    assert v["scales"]["proxy"]["sequential"] == {"stop": False, "look": None,
                                                  "reason": "1 complete pair(s); first look at 2"}
    three = _results(reg, "proxy", BASELINE[:3], CANDIDATE[:3])
    v = verdict.build(reg, three)
    seq = v["scales"]["proxy"]["sequential"]
    assert seq["look"] == 0 and v["scales"]["proxy"]["n_pairs"] == 2
    first_level = reg["analysis_plan"]["sequential"]["nominal_levels"][0]
    assert v["scales"]["proxy"]["p_values"]["level"] == pytest.approx(first_level)


def test_results_of_an_edited_file_are_not_mixed_in():
    old, new = _reg(), _reg(smallest_effect=0.02)
    assert old["registration_sha256"] != new["registration_sha256"]
    with pytest.raises(MixedRegistrationError):
        verdict.build(new, _results(old, "proxy", BASELINE, CANDIDATE) + _results(new, "proxy", BASELINE, CANDIDATE))


def test_target_power_reports_the_pairs_needed_at_the_observed_sd():
    data = {k: v for k, v in BASE.items() if k != "seeds"} | {"target_power": 0.8, "max_seeds": 30}
    reg = registration.build(parse(data, text=str(data)), configurations=STUB)
    res = _results(reg, "proxy", BASELINE, [b - 0.011 + 0.01 * (i % 2) for i, b in enumerate(BASELINE)],
                   seeds=range(5))
    need = verdict.build(reg, res)["scales"]["proxy"]["seeds_needed"]
    d = np.array([0.011 - 0.01 * (i % 2) for i in range(5)])
    from budgetsweep.hypothesis.stats import power_paired_t
    n = need["n"]
    dz = 0.01 / d.std(ddof=1)
    assert power_paired_t(dz, n, 0.05, 1) >= 0.8 > power_paired_t(dz, n - 1, 0.05, 1)
    assert need["enough"] is (5 >= n)
