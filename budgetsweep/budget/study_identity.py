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


def check_study(study: Any, ident: dict[str, Any], directions: Sequence[str], where_url: str) -> str | None:
    """A study shared on purpose (storage and study_name both given) must be the same experiment:
    another search space or other directions is a ValueError before any trial, naming the
    difference. Keeps ``ident`` with a study that has none yet. Returns a warning (other fixed
    overrides) or None. ``where_url``: the storage URL, masked."""
    found = [d.name.lower() for d in study.directions]
    stored = study.user_attrs.get(IDENTITY_ATTR)
    if stored is None:
        stored = {**ident, "directions": found}
        if found == list(directions):
            study.set_user_attr(IDENTITY_ATTR, ident)
    errors, warnings = differences(stored, ident)
    where = f"study {study.study_name!r} in {where_url}"
    if errors:
        raise ValueError(
            f"hydra.sweeper.study_name={study.study_name!r}: {where} was created by another command; "
            f"{'; '.join(errors)}. Allowed: the study's search space and directions, or another "
            "hydra.sweeper.study_name (or hydra.sweeper.storage=null: each command then gets its own study)")
    return f"{where} was started with other fixed overrides: {'; '.join(warnings)}" if warnings else None
