"""In gpu_hours the phase plan prices every rung before any trial (``assumed_overhead_seconds`` per trial, slow
on purpose); the search's trial count once came from that price, so a sweep whose trials took 0.05 s ran the 6
search trials the plan's 1 s guess allowed and ended with 99.8% of its budget unspent. The search now prices its
rung again after calibration measured it; its cap still bounds what it spends."""
from __future__ import annotations

import json

from .test_sweep import budgetsweep

K = "hydra.sweeper.auto_proxy."


def test_a_gpu_hours_search_is_not_bounded_by_the_plans_pre_calibration_price(tmp_path):
    proc = budgetsweep(tmp_path, "hydra.sweeper.budget.unit=gpu_hours", "hydra.sweeper.budget.limit=0.005",
                       "hydra.sweeper.budget.assumed_overhead_seconds=1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "sweep" / "auto_proxy_summary.json").read_text())
    budget = json.loads((tmp_path / "sweep" / "budget_summary.json").read_text())
    planned = summary["plan"]["search"]["trials"][summary["choice"]["name"]]  # at the plan's 1 s per trial: 6
    search = budget["n_charged"] - sum(summary["plan"]["calibration"]["proxy_trials"].values()) \
        - summary["plan"]["calibration"]["full_trials"] - len([c for c in summary["verification"]["configs"]])
    assert search > 2 * planned, (search, planned)
    assert summary["spent"]["search"] <= summary["plan"]["search"]["budget"] * 1.1
