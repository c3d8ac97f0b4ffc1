"""The paired design's jobs and their results, without a launcher.

Each job is one arm at one scale and one seed; its overrides are the arm's registered overrides, the
seed, and one dict override ``++budgetsweep.hypothesis={registration:..,scale:..,arm:..}`` (one override,
as the sweeper's trial dict, because Hydra parses each override per job; ``budgetsweep.*`` is not part
of the config key). :func:`job_order` interleaves baseline and candidate seed by seed, so jobs run in
order leave at most the pair in flight incomplete, and skips what is done (resume).
:func:`result_from_record` turns a job's ``record.json`` (as a dict) into a result for
:mod:`budgetsweep.hypothesis.verdict`.
"""
from __future__ import annotations

import math

from budgetsweep.hypothesis.registration import ARMS

TAG_KEY = "hypothesis"  # under cfg.budgetsweep
DIVERGED_ERROR = "NonFiniteLoss"  # budgetsweep.train.loop.NonFiniteLoss (not imported: it would load torch)


def job_overrides(registration: dict, scale: str, arm: str, seed: int) -> list[str]:
    """The overrides of one job: the registered arm overrides, ``seed=..`` and the hypothesis tag."""
    base = registration["configurations"][scale][arm]["overrides"]
    # quoted: an unquoted hex hash such as 1e5... would parse as a number
    tag = f"++budgetsweep.{TAG_KEY}={{registration:'{registration['registration_sha256']}',scale:{scale},arm:{arm}}}"
    return [*base, f"seed={seed}", tag]


def job_order(registration: dict, done: set[tuple[str, int, str]] = frozenset(),
              n_pairs: int | None = None) -> list[tuple[str, int, str]]:
    """[(scale, seed, arm)] still to run, scale by scale (proxy first), seed by seed in registered order,
    baseline then candidate: a crash leaves complete pairs plus at most the pairs in flight, whose missing
    arm comes first on resume. ``done``: (scale, seed, arm) with a completed record; ``n_pairs``: only the
    first n seeds (a sequential look)."""
    seeds = registration["analysis_plan"]["seeds"][:n_pairs]
    todo = []
    for scale in registration["configurations"]:
        for seed in seeds:
            todo += [(scale, seed, arm) for arm in ARMS if (scale, seed, arm) not in done]
    return todo


def record_tag(record: dict) -> dict | None:
    """The hypothesis tag {registration, scale, arm} of a record.json dict, or None. A record's ``config``
    holds only the hyperparameters (``budgetsweep.*`` is not part of it: budgetsweep.plan.readable_config),
    so the tag is read from the job's ``overrides``, parsed as Hydra parses them."""
    prefix = f"budgetsweep.{TAG_KEY}="
    for item in record.get("overrides") or ():
        if isinstance(item, str) and item.lstrip("+~").startswith(prefix):
            from hydra.core.override_parser.overrides_parser import OverridesParser

            try:
                value = OverridesParser.create().parse_override(item).value()
            except Exception:  # not Hydra's grammar: not a tag this package wrote
                return None
            return dict(value) if isinstance(value, dict) else None
    return None


def diverged(record: dict) -> bool:
    """A run that failed because its loss or metrics went non-finite (budgetsweep.train.NonFiniteLoss, named
    in the record's error text): rerunning the same seed diverges again, so it is a result, not a crash."""
    return record.get("status") == "failed" and DIVERGED_ERROR in str(record.get("error") or "")


def result_from_record(record: dict, metric: str) -> dict | None:
    """{registration, scale, arm, seed, value} from a record.json dict, or None when the record is not a
    hypothesis job, or is a failed (not diverged) or budget-stopped run (its pair stays incomplete: it is
    rerun on resume, never imputed). A diverged run, or a completed one whose ``metric`` is not finite, has
    value NaN: its job is done and verdict.py reports its pair as not finite."""
    tag = record_tag(record)
    if not tag:
        return None
    if diverged(record):
        value = math.nan
    elif record.get("status") != "completed":
        return None
    else:
        value = (record.get("metrics") or {}).get(metric)
        if value is None:
            objective = record.get("objective") or {}
            value = objective.get("value") if objective.get("name") == metric else None
        if value is None:  # no such metric: the registration checked the task reports it
            return None
    return {"registration": str(tag["registration"]), "scale": tag["scale"], "arm": tag["arm"],
            "seed": int(record["seed"]), "value": float(value)}
