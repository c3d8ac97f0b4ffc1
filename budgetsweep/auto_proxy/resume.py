"""Whether a command may resume an auto-proxy study: only with the settings the study was started with.

The study's name is the hash of the search space and the fixed overrides (docs/sweeper.md); the
``hydra.sweeper.auto_proxy`` settings are Hydra-level and do not change it. So a rerun with other
candidates, another target or other shares opens the same study, whose calibration configurations, rungs
and choice were made with the old settings: the study's answer would silently be given for settings it
never ran with (or a new candidate's trials would be queued with no rung to run at). ``check_resume``
refuses that before anything is written, naming each setting that differs, its value in the study and
in the command, and what to do.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Mapping, Optional

from .jsonable import jsonable
from .settings import KEY, AutoProxyConfigError, AutoProxySettings
from .study_attrs import SETTINGS_ATTR

HYDRA_KEY = f"hydra.sweeper.{KEY}"


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to leaf values (a list is one value: a candidate list differs as a whole)."""
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: node}


def differences(stored: Mapping[str, Any], given: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, value in ``stored``, value in ``given``) for each setting that differs, in key order."""
    old, new = _flat(stored), _flat(given)
    missing = object()
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, missing), new.get(key, missing)
        if a != b:
            out.append((key, None if a is missing else a, None if b is missing else b))
    return out


def check_resume(stored: Optional[Mapping[str, Any]], given: Mapping[str, Any], study_name: str) -> None:
    """Raise ``AutoProxyConfigError`` when the study ``study_name`` was started with settings ``stored``
    (its ``auto_proxy:settings`` user attr, JSON) other than ``given`` (the command's, as stored).
    ``stored`` None: a new study (or one no auto-proxy sweep wrote to), nothing to compare."""
    if stored is None:
        return
    diff = differences(stored, given)
    if not diff:
        return
    shown = "; ".join(f"{HYDRA_KEY}.{key}: {old!r} in the study, {new!r} in this command" for key, old, new in diff)
    raise AutoProxyConfigError(
        f"study {study_name!r} was started with other auto-proxy settings ({shown}). Its calibration "
        "configurations, rungs and choice were made with the study's settings, so a study resumes only with "
        f"them: rerun with the study's values, or start a new study for these settings with "
        f"hydra.sweeper.study_name=NAME (the auto-proxy settings do not change the study's name)")


def stored_form(settings: AutoProxySettings) -> dict[str, Any]:
    """``settings`` as the driver keeps them in the study (strict JSON, as read back)."""
    return json.loads(json.dumps(jsonable(asdict(settings))))


def check_study_settings(study: Any, node: Mapping[str, Any]) -> None:
    """``check_resume`` for an Optuna study and the sweep's ``hydra.sweeper.auto_proxy`` node (validated
    here: a bad setting is its own error first)."""
    stored = study.user_attrs.get(SETTINGS_ATTR)
    check_resume(stored, stored_form(AutoProxySettings.from_mapping(node)), study.study_name)


__all__ = ["check_resume", "check_study_settings", "differences", "stored_form"]
