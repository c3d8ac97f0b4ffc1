"""Auto-proxy (DESIGN section 12): calibrate candidate proxies, choose the cheapest faithful one, search at
it, verify the top at full scale, answer with the verified best. Policy only: pure functions over
settings, predicted costs and run frames; the budget sweeper runs the trials.

Modules, one job each: ``settings`` (validated config), ``costs`` (each rung's predicted cost per
trial, from the planner), ``phases`` (the budget's phase plan, checked before anything runs),
``choose`` (the candidate, from calibration runs), ``verify`` (the search's top at full scale),
``summary`` (``auto_proxy_summary.json``), ``progress`` (which trials each phase still has to launch:
resume), and ``driver`` (the phases run through the budget sweeper's loop: ``hydra.sweeper.auto_proxy``,
``experiment=auto_proxy``).
"""
from .settings import AutoProxyConfigError, AutoProxySettings, Candidate, Fallback

__all__ = ["AutoProxyConfigError", "AutoProxySettings", "Candidate", "Fallback"]
