import math
import random
import statistics

import pytest
from scipy.stats import t as student_t

from budgetsweep.budget.cost_model import CostModel, CostModelError, Observation, Work


def test_examples_and_flops_come_from_the_plan_exactly():
    work = Work("full", examples=40960, flops=1.5e11)
    assert CostModel("examples").predict(work).cost == 40960.0
    assert CostModel("flops").predict(work) .cost == 1.5e11
    assert CostModel("examples").predict(work).basis == "plan"


def test_gpu_hours_before_calibration_is_the_documented_conservative_default():
    model = CostModel("gpu_hours", safety_margin=0.25, assumed_flops_per_second=1e9, assumed_overhead_seconds=5.0)
    p = model.predict(Work("full", flops=2e10))
    assert p.basis == "default"
    assert p.cost == pytest.approx((5.0 + 20.0) / 3600 * 1.25)


def test_gpu_hours_calibrates_per_label_then_across_labels():
    model = CostModel("gpu_hours", safety_margin=0.0)
    history = [Observation("small", 0.0, flops=1e9, device_seconds=2.0),
               Observation("small", 0.0, flops=1e9, device_seconds=4.0),
               Observation("small", 0.0, flops=1e9, device_seconds=3.0)]
    same = model.predict(Work("small", flops=2e9), history)
    # the one-sided 90% upper prediction bound of a log-normal fit to the three rates
    logs = [math.log(r) for r in (2e-9, 4e-9, 3e-9)]
    rate = math.exp(statistics.fmean(logs) + student_t.ppf(0.9, 2) * statistics.stdev(logs) * math.sqrt(1 + 1 / 3))
    assert same.cost == pytest.approx(2e9 * rate / 3600) and same.basis.startswith("calibrated:small")
    other = model.predict(Work("big", flops=1e10), history)
    assert other.basis.startswith("calibrated:all labels") and other.cost == pytest.approx(1e10 * 3e-9 / 3600)


def test_across_labels_an_affine_fit_separates_fixed_overhead():
    model = CostModel("gpu_hours", safety_margin=0.0)
    history = [Observation(f"r{i}", 0.0, flops=f, device_seconds=2.0 + f * 1e-9) for i, f in
               enumerate([1e9, 2e9, 4e9, 8e9])]
    p = model.predict(Work("full", flops=1e10), history)
    assert "fit" in p.basis
    assert p.cost == pytest.approx((2.0 + 10.0) / 3600)


def test_without_a_plan_history_then_default_then_a_clear_error():
    model = CostModel("examples", default_trial_cost=1000)
    assert model.predict(None).cost == 1000.0
    history = [Observation("default", 700.0), Observation("default", 900.0),
               Observation("default", 20.0, completed=False)]
    # completed trials only; fewer than three: the largest, with the safety margin (examples are exact: 2 equal
    # measurements need none)
    assert model.predict(None, history).cost == 900.0 * 1.25
    assert model.predict(None, [Observation("default", 700.0)] * 2).cost == 700.0
    with pytest.raises(CostModelError, match="hydra.sweeper.budget.default_trial_cost"):
        CostModel("examples").predict(None)


def test_unfinished_trials_raise_the_default_instead_of_calibrating_a_rate():
    model = CostModel("gpu_hours", safety_margin=0.0, assumed_overhead_seconds=2.0, assumed_flops_per_second=1e9)
    stopped = [Observation("a", 0.0, completed=False, flops=1e6, device_seconds=8.0)]  # partial work
    p = model.predict(Work("a", flops=1e9), stopped)
    assert p.cost == pytest.approx((8.0 + 1.0) / 3600) and p.basis.startswith("default, floor")


def test_assumed_costs_are_never_learned_from_so_predictions_do_not_compound():
    # a job without a record in a unit the sweeper cannot measure is charged its reservation: that is an
    # assumption, not a measurement (the old model took 1.25 x the median of such charges: 40x after 20 trials)
    for unit in ("gpu_hours", "examples", "flops"):
        model = CostModel(unit, default_trial_cost=10)
        history = []
        for _ in range(20):
            p = model.predict(None, history)
            assert (p.cost, p.basis) == (10.0, "default_trial_cost")
            history.append(Observation("default", p.cost, measured=False))


def test_measured_wall_times_calibrate_a_plan_free_app():
    model = CostModel("gpu_hours", default_trial_cost=10)
    history = [Observation("default", c) for c in (0.010, 0.012, 0.011, 0.010)]
    p = model.predict(None, history)
    assert 0.011 < p.cost < 0.02 and p.basis.startswith("history (n=4")


def own_loop(model, true_cost, n, step=100, tolerance=0.1):
    """Trials of an own loop that counts ``step`` examples per step and stops once past its reservation."""
    history, out = [], []
    for _ in range(n):
        reservation = model.predict(None, history).cost
        stop_at = reservation * (1 + tolerance)
        if true_cost > stop_at:
            spent = (math.floor(stop_at / step) + 1) * step
            history.append(Observation("default", spent, completed=False, censored=True))
            out.append(("budget_stopped", reservation, spent))
        else:
            history.append(Observation("default", true_cost))
            out.append(("completed", reservation, true_cost))
    return out


def test_a_budget_stopped_trial_is_censored_and_a_guess_2x_too_low_recovers_on_the_second_trial():
    trials = own_loop(CostModel("examples", default_trial_cost=3000), true_cost=6400, n=4)
    assert trials[0] == ("budget_stopped", 3000.0, 3400)
    assert trials[1] == ("completed", 6800.0, 6400)  # twice what the stopped trial spent
    assert [t[0] for t in trials[2:]] == ["completed", "completed"]
    # afterwards: the largest completed x (1 + safety_margin), then exact once two agree
    assert [t[1] for t in trials[2:]] == [8000.0, 6400.0]


def test_a_guess_far_too_low_recovers_by_doubling():
    trials = own_loop(CostModel("examples", default_trial_cost=500), true_cost=6400, n=6)
    statuses = [t[0] for t in trials]
    assert statuses == ["budget_stopped"] * 3 + ["completed"] * 3  # reserved 500, 1200, 2800, then 6200


@pytest.mark.parametrize("seed", range(8))
def test_on_a_loaded_machine_no_trial_within_1_2x_its_median_cost_is_stopped(seed):
    """Simulated gpu_hours trials: device time per FLOP log-normal (sd 0.2) with load spikes (1.6x, one
    trial in seven); a trial stops once past its reservation x 1.1. The old model (median rate of completed
    trials x 1.25) stopped such trials for seeds 2, 4 and 7."""
    rng = random.Random(seed)
    model = CostModel("gpu_hours", assumed_flops_per_second=1e8, assumed_overhead_seconds=30.0)
    flops = 1e9
    truth = [flops * 1e-8 * rng.lognormvariate(0, 0.2) * (1.6 if rng.random() < 0.15 else 1.0) for _ in range(40)]
    history, stopped = [], []
    for i, seconds in enumerate(truth):
        stop_at = model.predict(Work("full", flops=flops), history).cost * 3600 * 1.1
        if seconds > stop_at:
            stopped.append(i)
            history.append(Observation("full", stop_at / 3600, completed=False, censored=True,
                                       flops=flops * stop_at / seconds, device_seconds=stop_at))
        else:
            history.append(Observation("full", seconds / 3600, flops=flops, device_seconds=seconds))
    median = statistics.median(truth)
    assert [i for i in stopped if truth[i] <= 1.2 * median] == []


def test_after_budget_stopped_trials_the_floor_is_the_largest_stopped_cost():
    model = CostModel("examples", default_trial_cost=1000)
    got = model.predict(None, [Observation("full", 960, completed=False, censored=True),
                               Observation("full", 700, completed=False, censored=True)])
    assert (got.cost, got.floor) == (1920.0, 960.0)
    assert model.predict(None, [Observation("full", 900)]).floor is None  # a completed trial: no cut


def test_gpu_hours_predictions_cover_the_measured_start_up():
    model = CostModel("gpu_hours", default_trial_cost=1e-6, safety_margin=0.25)
    history = [Observation("full", 0.5 / 3600, completed=False, censored=True, startup_seconds=2.0)]
    got = model.predict(None, history)
    assert got.cost == pytest.approx(2.0 * 1.25 / 3600) and "start-up" in got.basis
    planned = model.predict(Work("full", flops=1.0), [Observation("other", 0.0, completed=False, startup_seconds=4.0)])
    assert planned.cost == pytest.approx(4.0 * 1.25 / 3600)


def test_gpu_hours_count_evaluation_flops():
    """Evaluation takes device time: a trial whose evaluation doubles its FLOPs is predicted twice as long,
    at the rate of trials whose observed FLOPs count their evaluation too."""
    from budgetsweep.budget.cost_model import CostModel, Observation, Work

    model = CostModel("gpu_hours", safety_margin=0.0)
    history = [Observation("a", 1.0, flops=2e9, device_seconds=2.0)] * 3  # 1 ns per FLOP
    plain = model.predict(Work("a", flops=1e9), history)
    evaluated = model.predict(Work("a", flops=1e9, eval_flops=1e9), history)
    assert evaluated.cost == pytest.approx(2 * plain.cost) and plain.cost == pytest.approx(1.0 / 3600)


# A width search on digits (300 steps, measured on this machine: 0.28 s of fixed cost per job, about 13 GFLOP/s):
# hidden 8, 32, 128, 256 calibrate; hidden 2048 (1.5e11 FLOPs) took 13.3 s.
WIDTHS = [2.9e7, 1.6e8, 1.4e9, 4.8e9]


def width_seconds(flops):
    return 0.28 + flops / 13e9


def test_a_wide_model_is_not_priced_at_the_seconds_per_flop_of_small_ones():
    """The old model took the rung's seconds / FLOPs of the small models (their fixed cost spread over few FLOPs)
    and predicted hidden 2048 at 40x its time, so it was refused with a quarter of the budget unspent."""
    model = CostModel("gpu_hours", safety_margin=0.25)
    history = [Observation("full", width_seconds(f) / 3600, flops=f, device_seconds=width_seconds(f)) for f in WIDTHS]
    wide = model.predict(Work("full", flops=1.5e11), history)
    truth = width_seconds(1.5e11) / 3600
    assert truth <= wide.cost <= 1.3 * truth  # the line a + b x FLOPs, with the margin of a noisy unit
    assert "FLOP/s" in wide.basis
    small = model.predict(Work("full", flops=2.9e7), history)  # its fixed cost, not undercut by the big ones
    assert width_seconds(2.9e7) / 3600 <= small.cost <= 1.3 * width_seconds(2.9e7) / 3600


def test_the_slope_is_shared_by_rungs_each_with_its_own_fixed_cost():
    model = CostModel("gpu_hours", safety_margin=0.0)
    history = [Observation("full", 0.0, flops=f, device_seconds=2.0 + f * 1e-9) for f in (1e9, 4e9)]
    history += [Observation("proxy", 0.0, flops=1e8, device_seconds=0.5 + 1e8 * 1e-9)]
    got = model.predict(Work("proxy", flops=2e9), history)
    assert got.cost == pytest.approx((0.5 + 2.0) / 3600)  # the proxy's own 0.5 s, the shared 1 ns per FLOP


def test_without_a_span_a_small_model_ratio_is_not_extrapolated_far():
    """All calibration at one small width: its seconds per FLOP (mostly fixed cost) prices work up to 2x of it;
    beyond, the extra work costs at most what assumed_flops_per_second (with the margin) says."""
    model = CostModel("gpu_hours", safety_margin=0.25, assumed_flops_per_second=1e9)
    f0 = 2.9e7
    history = [Observation("full", 0.0, flops=f0, device_seconds=s) for s in (0.28, 0.30, 0.29)]
    rate = model.upper([s / f0 for s in (0.28, 0.30, 0.29)], noisy=True)[0]
    near = model.predict(Work("full", flops=2 * f0), history)
    assert near.cost == pytest.approx(2 * f0 * rate / 3600)
    far = model.predict(Work("full", flops=1.5e11), history)
    assert far.cost == pytest.approx((f0 * rate + (1.5e11 - f0) * 1.25e-9) / 3600)
    assert far.cost < 1.5e11 * rate / 3600 / 5  # the ratio alone: 1.5e11 x 1.3e-8 s = 1,950 s


def test_without_a_slope_less_work_is_not_predicted_faster_than_the_least_measured():
    """One wide trial completed (0.87 s, mostly fixed cost): a narrow one at 1/50 of its FLOPs is not 0.02 s (it was
    stopped at its reservation), and trials stopped in their set-up (tiny work, 0.1 s) do not price it at 20 s."""
    model = CostModel("gpu_hours", safety_margin=0.25)
    history = [Observation("full", 0.87 / 3600, flops=1.4e9, device_seconds=0.87),
               Observation("full", 0.1 / 3600, completed=False, censored=True, flops=1e6, device_seconds=0.1)]
    narrow = model.predict(Work("full", flops=2.9e7), history)
    assert narrow.cost == pytest.approx(0.87 * 1.25 / 3600)
