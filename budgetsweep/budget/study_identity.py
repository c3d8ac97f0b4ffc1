"""Which study a sweep belongs to: its name, and the command's identity kept with the study.

A study's identity is what makes its trials comparable: the search space (parameter names and
their Optuna distributions), the fixed overrides every trial gets, the directions and the
``custom_search_space`` callable. It is kept as the study user attribute ``budgetsweep:identity``.

Naming rules (``hydra.sweeper.storage`` / ``hydra.sweeper.study_name``):

- storage null (the shared default SQLite file): the study is ``<study_name or app name>-<hash>``,
  the hash of the identity, so two different commands never share a study, even with the same
  ``study_name`` (common in configs copied from hydra-optuna-sweeper), and rerunning a command
  resumes its own study.
- storage set, no study_name: ``<app name>-<hash>`` in that storage.
- storage and study_name both set: that study, shared on purpose (several sweepers, one study).
  Opening it with another search space or other directions is an error before any trial,
  naming the difference; other fixed overrides are a warning.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

IDENTITY_ATTR = "budgetsweep:identity"


def identity(distributions: Mapping[str, Any], fixed: Mapping[str, str], directions: Sequence[str],
             custom_search_space: str | None) -> dict[str, Any]:
    """A JSON-able identity; ``distributions`` maps names to Optuna distributions."""
    from optuna.distributions import distribution_to_json

    return {"params": {str(k): json.loads(distribution_to_json(v)) for k, v in distributions.items()},
            "fixed": {str(k): str(v) for k, v in sorted(fixed.items())},
            "directions": [str(d) for d in directions],
            "custom_search_space": custom_search_space or None}


def digest(ident: Mapping[str, Any]) -> str:
    """10 hex digits; parameter order does not matter (a dict), list order does."""
    text = json.dumps({**ident, "params": dict(sorted(ident["params"].items()))}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def study_name(*, user_name: str | None, storage_given: bool, app_name: str, ident: Mapping[str, Any]) -> str:
    if storage_given and user_name:
        return user_name
    return f"{user_name or app_name}-{digest(ident)}"


def _show(node: Mapping[str, Any] | None) -> str:
    if node is None:
        return "absent"
    attrs = ", ".join(f"{k}={v!r}" for k, v in sorted(node.get("attributes", {}).items()))
    return f"{node.get('name', '?')}({attrs})"


def differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(errors, warnings): what differs, in words. Errors: search space, directions, custom space."""
    errors: list[str] = []
    a, b = stored.get("params", {}), current.get("params", {})
    for name in sorted(set(a) | set(b)):
        if a.get(name) != b.get(name):
            errors.append(f"parameter {name}: {_show(a.get(name))} in the study, {_show(b.get(name))} now")
    if list(stored.get("directions", [])) != list(current.get("directions", [])):
        errors.append(f"directions: {stored.get('directions')} in the study, {current.get('directions')} now")
    if stored.get("custom_search_space") != current.get("custom_search_space"):
        errors.append(f"custom_search_space: {stored.get('custom_search_space')!r} in the study, "
                      f"{current.get('custom_search_space')!r} now")
    warnings: list[str] = []
    fa, fb = stored.get("fixed", {}), current.get("fixed", {})
    for name in sorted(set(fa) | set(fb)):
        if fa.get(name) != fb.get(name):
            warnings.append(f"{name}={fa.get(name, '(absent)')} in the study, {fb.get(name, '(absent)')} now")
    return errors, warnings
