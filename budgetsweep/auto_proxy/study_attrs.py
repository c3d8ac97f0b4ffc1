"""The names of what an auto-proxy sweep keeps in its Optuna study, written by ``driver`` and read back
by ``story`` (the report): the study's user attrs below, and each trial's ``Job`` tag
(``progress.ATTR``). One place, so that the writer and the reader cannot drift apart."""
from __future__ import annotations

CONFIGS_ATTR = "auto_proxy:configs"  # the sampled calibration configurations (parameters), by index
RUNGS_ATTR = "auto_proxy:rungs"  # rung name -> {label, overrides, cost}; ``full`` first
PLAN_ATTR = "auto_proxy:plan"  # the phase plan (``PhasePlan.to_dict()``)
CHOICE_ATTR = "auto_proxy:choice"  # the choice and its evidence (``Choice.to_dict()``), before the search
SEARCH_DONE_ATTR = "auto_proxy:search_done"
# the search's cap: the plan's, plus what calibration was planned and did not spend (fixed once calibration ended)
SEARCH_BUDGET_ATTR = "auto_proxy:search_budget"
PHASE_ATTR = "auto_proxy:phase"  # the phase of the driver's last summary (``done``: it finished)
SETTINGS_ATTR = "auto_proxy:settings"  # the validated settings, so that a reader can judge as the sweep did
PROXY_SEARCH_ATTR = "auto_proxy:proxy_search"  # {"study": the proxy search's own Optuna study}

__all__ = ["CHOICE_ATTR", "CONFIGS_ATTR", "PHASE_ATTR", "PLAN_ATTR", "PROXY_SEARCH_ATTR", "RUNGS_ATTR", "SEARCH_DONE_ATTR",
           "SETTINGS_ATTR"]
