"""A preset candidate (``preset: proxy50``) as the reduction list it stands for.

Inside ``experiment=auto_proxy`` Hydra composes one experiment, so ``experiment=proxy50`` cannot be
added to a trial's overrides: it would replace auto_proxy's experiment, or be overridden by it and
silently run the full recipe. The sweeper therefore runs a preset as what its file in
``conf/experiment`` says: its ``override /reduction: [...]`` and its ``reduction:`` parameters. A
preset that is not there, that reduces nothing, or that switches the task (``charlm_proxy50``) is an
``AutoProxyConfigError`` naming the candidate's key, before anything runs.
"""
from __future__ import annotations

from importlib.resources import files
from typing import Any

from .settings import KEY, AutoProxyConfigError, Candidate

PRESETS = "budgetsweep.conf"  # the package whose experiment/ folder holds the presets
AUTO_PROXY = "auto_proxy"


def known_presets() -> list[str]:
    """The names of conf/experiment's presets, auto_proxy itself excluded."""
    folder = files(PRESETS) / "experiment"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml") and p.name[:-5] != AUTO_PROXY)


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def resolve_preset(candidate: Candidate, key: str) -> Candidate:
    """``candidate`` itself when it is a reduction list; a preset as ``Candidate(name, reduction, params)``.

    Raises:
        AutoProxyConfigError: an unknown preset, one that switches the task or that reduces nothing.
    """
    if candidate.preset is None:
        return candidate
    from omegaconf import OmegaConf

    known = known_presets()
    if candidate.preset not in known:
        raise AutoProxyConfigError(
            f"{KEY}.{key}.preset={candidate.preset!r} is not allowed; allowed: {', '.join(known)} (conf/experiment), "
            "or a reduction list, e.g. {name: half, reduction: [data_subset], params: {data_subset.fraction: 0.5}}")
    conf = OmegaConf.to_container(OmegaConf.load(str(files(PRESETS) / "experiment" / f"{candidate.preset}.yaml")))
    overrides: dict[str, Any] = {}
    for item in conf.get("defaults") or []:
        if isinstance(item, dict):
            overrides.update({str(k).replace("override ", "").strip().lstrip("/"): v for k, v in item.items()})
    if "task" in overrides:
        raise AutoProxyConfigError(
            f"{KEY}.{key}.preset={candidate.preset!r} cannot run for this task: it switches the task to "
            f"{overrides['task']!r} (a candidate proxy must reduce the sweep's own task); pick a preset that keeps "
            "the task or give reduction: [...]")
    reduction = overrides.get("reduction")
    reduction = [reduction] if isinstance(reduction, str) else list(reduction or [])
    if not reduction or reduction == ["full"]:
        raise AutoProxyConfigError(f"{KEY}.{key}.preset={candidate.preset!r} reduces nothing; drop it")
    params = {k: v for k, v in _flat(conf.get("reduction") or {}).items() if k.split(".", 1)[0] in reduction}
    return Candidate(name=candidate.label, reduction=reduction, params=params)


__all__ = ["known_presets", "resolve_preset"]
