"""Pre-registration: the file, the resolved configurations and the analysis plan, hashed, written before any run.

``registration.json`` (JSON, atomic, in ``<root>/<name>/<hash[:16]>/``) holds the file's text and
SHA-256, each arm's overrides and composed configuration per scale and seed-free (Hydra's compose API,
as ``budgetsweep-plan`` composes), the analysis plan (test, sides, alpha, smallest effect, power,
seeds, sequential looks with their nominal levels) and ``registration_sha256``: SHA-256 of the
canonical JSON of file text, configurations and plan (not the timestamp), so editing the file, or a
default that changes what the arms compose to, makes a new registration. Every result carries that hash;
:func:`results_of` refuses results of another registration.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from budgetsweep.hypothesis.spec import Hypothesis, HypothesisError
from budgetsweep.records import write_json_atomic

SCHEMA_VERSION = 1
REGISTRATION_FILE = "registration.json"
ARMS = ("baseline", "candidate")


class MixedRegistrationError(ValueError):
    """Results from another registration (an edited file) offered to this one's analysis."""


def resolve(hyp: Hypothesis, *, check_metric: bool = True) -> dict:
    """{scale: {arm: {"overrides": [...], "config": {...}}}}: each arm composed without a seed.

    Raises HypothesisError when an arm does not compose (the message names the override), when the
    task does not produce ``metric`` (the task's own check, by building the task object: cheap, no
    data), or when baseline and candidate compose to the same configuration."""
    from omegaconf import OmegaConf

    from budgetsweep.plan_compose import ComposeError, compose_jobs

    out: dict = {}
    for scale in hyp.scales():
        out[scale] = {}
        for arm in ARMS:
            overrides = hyp.arm_overrides(scale, arm)
            try:
                ((cfg, _, _),) = compose_jobs(overrides)
            except ComposeError as exc:
                raise HypothesisError(f"{arm} at scale {scale}: {exc}") from None
            if check_metric:
                _check_metric(cfg, hyp.metric)
            config = OmegaConf.to_container(cfg, resolve=True)
            config.pop("seed", None)  # the design sets it per pair
            out[scale][arm] = {"overrides": overrides, "config": config}
        if out[scale]["baseline"]["config"] == out[scale]["candidate"]["config"]:
            raise HypothesisError(f"candidate={list(hyp.candidate)!r} composes to the same configuration as "
                                  f"baseline={list(hyp.baseline)!r} at scale {scale}; the candidate must differ")
    return out


def _check_metric(cfg, metric: str) -> None:
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        instantiate(cfg.task)
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        raise HypothesisError(f"metric={metric!r}: {cause}") from None
    except ValueError as exc:
        raise HypothesisError(f"metric={metric!r}: {exc}") from None


def analysis_plan(hyp: Hypothesis) -> dict:
    """The analysis fixed before any run (JSON-ready)."""
    from budgetsweep.hypothesis.sequential import SequentialPlan

    plan = {
        "metric": hyp.metric, "direction": hyp.direction, "smallest_effect": hyp.smallest_effect,
        "alpha": hyp.alpha, "sides": hyp.sides, "test": hyp.test, "power": hyp.power,
        "seeds": list(hyp.planned_seeds()), "target_power": hyp.target_power, "max_seeds": hyp.max_seeds,
        "improvement": "candidate - baseline (maximize) or baseline - candidate (minimize), per seed",
        "interval": "two-sided t interval at level 1 - 2 alpha (sides 1) or 1 - alpha (sides 2)",
        "supported": "the deciding test rejects at alpha and the mean improvement is positive",
        "refuted": "the interval's upper bound is below smallest_effect",
        "permutation": "sign flips of the paired improvements, exact (all 2^n) for n <= 20",
        "transfer": ("ratio full / proxy of mean improvements, Fieller (1954) interval"
                     if hyp.full and hyp.proxy else None),
        "sequential": None, "budget": hyp.budget,
    }
    if hyp.sequential:
        plan["sequential"] = SequentialPlan.build(hyp.sequential["looks"], hyp.alpha, hyp.sequential["spending"],
                                                  hyp.sides).to_dict()
    return plan


def _canonical_sha256(content: dict) -> str:
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def build(hyp: Hypothesis, *, path: str | None = None, configurations: dict | None = None) -> dict:
    """The registration (JSON-ready). ``configurations`` defaults to :func:`resolve` (composes with Hydra)."""
    configs = resolve(hyp) if configurations is None else configurations
    content = {"file": {"text": hyp.text, "sha256": hyp.sha256}, "configurations": configs,
               "analysis_plan": analysis_plan(hyp)}
    return {"schema_version": SCHEMA_VERSION, "name": hyp.name, "registration_sha256": _canonical_sha256(content),
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "file_path": path, **content}


def register(hyp: Hypothesis, root: str | Path, *, path: str | None = None,
             configurations: dict | None = None) -> tuple[Path, dict]:
    """Write the registration under ``root/<name>/<hash[:16]>/registration.json`` unless that exact
    registration exists (a resume keeps the first timestamp). Returns (its folder, the registration)."""
    reg = build(hyp, path=path, configurations=configurations)
    folder = Path(root) / hyp.name / reg["registration_sha256"][:16]
    existing = folder / REGISTRATION_FILE
    if existing.is_file():
        old = json.loads(existing.read_text(encoding="utf-8"))
        if old.get("registration_sha256") == reg["registration_sha256"]:
            return folder, old
    write_json_atomic(existing, reg)
    return folder, reg


def results_of(results: list[dict], registration_sha256: str) -> list[dict]:
    """The results (dicts with ``registration``, ``scale``, ``arm``, ``seed``, ``value``) of one registration.
    Raises MixedRegistrationError when any carries another hash, naming it: results are never mixed."""
    foreign = sorted({str(r.get("registration")) for r in results} - {registration_sha256})
    if foreign:
        raise MixedRegistrationError(
            f"results of registration(s) {', '.join(h[:16] for h in foreign)} cannot be analysed with registration "
            f"{registration_sha256[:16]}: the hypothesis file or its configuration changed; analyse each "
            "registration's results on their own")
    return list(results)


def pairs(results: list[dict], registration_sha256: str, scale: str) -> tuple[list[dict], list[int]]:
    """([{seed, baseline, candidate}] for the seeds with both arms' values at ``scale``, in seed order of first
    result; [seeds with one arm only]). A later result for the same (arm, seed) replaces an earlier one."""
    by_seed: dict[int, dict] = {}
    for r in results_of(results, registration_sha256):
        if r.get("scale") != scale:
            continue
        if r.get("arm") not in ARMS:
            raise ValueError(f"result arm={r.get('arm')!r} is not allowed; allowed: {ARMS}")
        by_seed.setdefault(int(r["seed"]), {})[r["arm"]] = float(r["value"])
    complete = [{"seed": s, "baseline": v["baseline"], "candidate": v["candidate"]}
                for s, v in by_seed.items() if len(v) == 2]
    incomplete = [s for s, v in by_seed.items() if len(v) < 2]
    return complete, incomplete
