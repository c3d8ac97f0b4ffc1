"""What a sweep says when it starts: its study, storage, sampler and budget, and the warnings that
concern its settings (a unit the sweeper cannot measure, a limit changed since the last run)."""
from __future__ import annotations

import logging
import math
from typing import Any, Optional, Sequence

from budgetsweep.budget.settings import BudgetSettings
from budgetsweep.budget.storage import mask
from budgetsweep.budget.units import Unit, format_cost

log = logging.getLogger("hydra_plugins.budgetsweep_sweeper._impl")  # the sweeper's log, as before


def log_start(*, study_name: str, url: str, sampler: Any, pruner: Any, directions: Sequence[str],
              settings: BudgetSettings, n_trials: int, planned: bool, limit_changed_from: Optional[float]) -> None:
    """``planned``: the app's costs are planned (else a job without a record is charged its
    reservation in a unit the sweeper cannot time); ``limit_changed_from``: the study's limit
    before this run, when this run changed it (``inf``: there was none)."""
    s = settings
    log.info(f"Study name: {study_name}")
    log.info(f"Storage: {mask(url)}")
    log.info(f"Sampler: {type(sampler).__name__}")
    log.info(f"Pruner: {type(pruner).__name__}")
    log.info(f"Directions: {list(directions)}")
    if s.capped:
        log.info(f"Budget: {format_cost(s.limit, s.unit)} {s.unit}, tolerance {s.tolerance:g}")
    else:
        log.info(f"Budget: no limit, n_trials={n_trials} bounds the sweep; costs are measured in {s.unit} "
                 "(set hydra.sweeper.budget.limit to cap it)")
    if not planned and s.unit != Unit.GPU_HOURS:
        log.warning(f"hydra.sweeper.budget.unit={s.unit}: the sweeper cannot measure {s.unit} itself (it times "
                    f"jobs, so gpu_hours it can); a job that writes no record.json is charged its reservation "
                    f"(hydra.sweeper.budget.default_trial_cost={s.default_trial_cost})")
    if limit_changed_from is not None:
        before = limit_changed_from
        log.warning(f"Budget limit of study {study_name!r} changed from "
                    f"{format_cost(before, s.unit) if math.isfinite(before) else 'no limit'} to "
                    f"{format_cost(s.limit, s.unit) if s.capped else 'no limit'} {s.unit}")
