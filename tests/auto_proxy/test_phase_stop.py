"""The stop line of an auto-proxy phase whose own cap refused a trial: it once said "trial 112 needs 5.61e+07
flops and 1.19e+09 flops remain" (the whole budget's remaining: a refusal that reads as a contradiction). It
now gives what the phase has left, which is less than the trial needs, and the budget's beside it."""
from __future__ import annotations

import re

from .test_sweep import budgetsweep

K = "hydra.sweeper.auto_proxy."


def test_a_search_stopped_by_its_phase_cap_says_what_the_phase_has_left(tmp_path):
    # calibration (sampler seed 2) draws three 8-wide configurations, so the search's slots are priced narrow; the
    # sampler's 256-wide proposals (200x the cost) then meet the search's cap while the budget still has room
    proc = budgetsweep(tmp_path, "hydra.sweeper.budget.unit=flops", "hydra.sweeper.budget.limit=1.2e8",
                       "model.hidden=choice(8,256)", K + "calibrate.sampler_seed=2",
                       "hydra.sweeper.sampler.seed=0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = proc.stdout + proc.stderr
    match = re.search(r"auto-proxy search ended: budget exhausted: trial \d+ needs (\S+) flops and (\S+) flops remain "
                      r"of this auto-proxy phase's planned cost \((\S+) flops in the whole budget\)", log)
    assert match, log[-3000:]
    needs, phase_left, budget_left = (float(g.replace(",", "")) for g in match.groups())
    assert phase_left < needs <= budget_left  # the phase's cap refused it, not the budget
