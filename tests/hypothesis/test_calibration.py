"""Calibration on real teacher_student training (slow: about 740 runs, a minute or two on one CPU).

The full check is benchmarks/hypothesis_calibration.py (analysis/hypothesis_calibration.md). Thresholds
come from binomial sampling error at this number of repetitions, each with probability < 0.001 of
failing when the procedure is calibrated, so the test does not flake.
"""
from __future__ import annotations

import math

import pytest
from scipy import stats

from tests.conftest import benchmark_module

REPS = 40


@pytest.mark.slow
def test_false_positives_at_most_alpha_and_the_true_effect_detected_at_the_predicted_power(tmp_path):
    from budgetsweep.hypothesis.stats import power_paired_t

    mod = benchmark_module("hypothesis_calibration")
    res = mod.calibrate(REPS)
    alpha, n = mod.ALPHA, res["n_pairs"]
    # null, independent streams: P(count > ppf(0.999)) < 0.001 at a false-positive rate of alpha (40 reps: > 7)
    assert res["null"]["supported"] <= stats.binom.ppf(0.999, REPS, alpha)
    # null, identical outcome: every difference exactly 0: zero variance every time, never supported
    ident = res["identical"]
    assert ident["degenerate"] == ident["reps"] == 3 and ident["supported"] == 0
    # the true effect: the candidate is better (warmup 13 vs 20 lowers val_loss by about 0.036)
    assert res["effect_mean"] > 0 and res["effect"]["refuted"] == 0
    # observed detection rate against the noncentral-t power at the estimated d_z: the binomial error of the
    # rate and the error of the power from d_z's standard error (slope by a central difference), 3.3 sd together
    p = res["predicted_power"]
    h = 0.01
    slope = (power_paired_t(res["effect_dz"] + h, n, alpha) - power_paired_t(res["effect_dz"] - h, n, alpha)) / (2 * h)
    sd = math.sqrt(p * (1 - p) / REPS + (slope * res["effect_dz_se"]) ** 2)
    observed = res["effect"]["supported"] / REPS
    assert abs(observed - p) <= 3.3 * sd, (observed, p, sd)
    # the script's report carries those figures
    text = mod.markdown(res, "cmd", 1.0)
    assert f"| true effect (`{mod.CANDIDATE[0]}`) | {res['effect']['supported']}/{REPS} = " in text
