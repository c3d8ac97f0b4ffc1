"""Resume in each phase: which jobs are left, from the tags of the trials already tried."""
from __future__ import annotations

from budgetsweep.auto_proxy.phases import RungCost, plan_phases
from budgetsweep.auto_proxy.progress import (CALIBRATE, CHOOSE, DONE, SEARCH, VERIFY, Job, calibration_jobs,
                                             current_phase, remaining, unrun, verification_jobs)
from budgetsweep.auto_proxy.settings import AutoProxySettings

NAMES = ["small_batch", "proxy50"]
PLAN = plan_phases(AutoProxySettings(candidates=NAMES, calibrate={"configs": 3}), 20_000, "examples",
                   RungCost("full", 1000), [RungCost("small_batch", 125), RungCost("proxy50", 20)])


def test_calibration_jobs_configuration_by_configuration():
    jobs = calibration_jobs(PLAN, NAMES)
    assert (PLAN.calibration.full_seeds, PLAN.calibration.proxy_seeds) == (2, 1)
    assert len(jobs) == 3 * (2 + 2)
    assert jobs[:4] == [Job(CALIBRATE, "full", 0, 0), Job(CALIBRATE, "full", 0, 1),
                        Job(CALIBRATE, "small_batch", 0, 0), Job(CALIBRATE, "proxy50", 0, 0)]


def test_resume_mid_calibration_launches_only_what_was_never_tried():
    jobs = calibration_jobs(PLAN, NAMES)
    # killed after 5 trials: 4 finished (one of them failed: charged, not retried), 1 still running
    tried = [Job.from_attrs(j.attrs()) for j in jobs[:5]] + [None]  # None: a trial auto-proxy did not plan
    assert remaining(jobs, tried) == jobs[5:]
    assert current_phase(PLAN, NAMES, tried, chosen=False, search_done=False) == CALIBRATE


def test_phases_in_order_after_each_resume():
    calib = calibration_jobs(PLAN, NAMES)
    assert current_phase(PLAN, NAMES, calib, chosen=False, search_done=False) == CHOOSE
    assert current_phase(PLAN, NAMES, calib, chosen=True, search_done=False) == SEARCH
    top = ["lr=0.001", "lr=0.003", "lr=0.0003", "lr=0.01"]
    verify = verification_jobs(PLAN, top)
    assert verify[:2] == [Job(VERIFY, "full", "lr=0.001", 1000), Job(VERIFY, "full", "lr=0.001", 1001)]
    assert len(verify) == PLAN.verification.top_k * PLAN.verification.seeds == 6
    assert current_phase(PLAN, NAMES, calib + verify[:3], chosen=True, search_done=True, top_keys=top) == VERIFY
    assert remaining(verify, calib + verify[:3]) == verify[3:]
    assert current_phase(PLAN, NAMES, calib + verify, chosen=True, search_done=True, top_keys=top) == DONE


def test_a_job_tried_twice_cancels_two_planned_ones_only():
    job = Job(CALIBRATE, "full", 0, 0)
    assert remaining([job, job], [job]) == [job]
    assert remaining([job], [job, job]) == []


def test_unrun_names_the_trials_of_a_phase_the_ledger_never_charged():
    jobs = dict(enumerate(calibration_jobs(PLAN, NAMES)[:4])) | {4: Job(SEARCH, "proxy50", 4, -1), 5: None}
    assert unrun(jobs, {0, 2}, CALIBRATE) == [{"trial": 1, "rung": "full", "config": 0},
                                               {"trial": 3, "rung": "proxy50", "config": 0}]
    assert unrun(jobs, set(range(6)), CALIBRATE) == [] and unrun(jobs, set(), SEARCH) == [
        {"trial": 4, "rung": "proxy50", "config": 4}]
