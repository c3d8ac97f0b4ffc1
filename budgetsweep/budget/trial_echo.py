"""Keep the trial's identity override out of what launchers print.

The sweeper passes each job its trial as one override, ``++budgetsweep.trial={number:..,
study_name:..,storage:..,unit:..,reservation:..,tolerance:..}`` (budget/trial_link.py), about 250
characters that Hydra's launchers echo for every job next to the overrides a user chose. The job
still receives it (and the record keeps it); only the launchers' ``#N : overrides`` lines drop it.
"""
from __future__ import annotations

import logging
import re

# the launchers that echo "#N : overrides" (Hydra's basic launcher, and the joblib and submitit plugins)
LAUNCHER_LOGGERS = ("hydra._internal.core_plugins.basic_launcher", "hydra_plugins.hydra_joblib_launcher._core",
                    "hydra_plugins.hydra_submitit_launcher.submitit_launcher")
TRIAL_OVERRIDE = re.compile(r"\s*\+\+budgetsweep\.trial=\{[^{}]*\}")


class HideTrialOverride(logging.Filter):
    """Rewrites a record's message without the trial override; drops no record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "budgetsweep.trial=" in message:
            record.msg, record.args = TRIAL_OVERRIDE.sub("", message), None
        return True


def hide_trial_overrides() -> None:
    """Install the filter on the launchers' loggers (once; idempotent)."""
    for name in LAUNCHER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideTrialOverride) for f in logger.filters):
            logger.addFilter(HideTrialOverride())
