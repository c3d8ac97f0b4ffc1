"""``verdict.json``: the analysis of one registration's results, as a JSON-ready dict.

Input: the registration (from :mod:`budgetsweep.hypothesis.registration`) and results, dicts
``{registration, scale, arm, seed, value}`` (value: the registered metric of that run's record).
Per scale: the complete pairs in the registered seed order, the paired analysis (the sequential
look's when the plan has looks), and with a proxy and a full scale the transfer of the effect.
The headline verdict is the first scale's (proxy when there is one).
"""
from __future__ import annotations

import math
from pathlib import Path

from budgetsweep.hypothesis.registration import pairs
from budgetsweep.hypothesis.sequential import SequentialPlan, decide
from budgetsweep.hypothesis.stats import PairedAnalysis, analyse, improvements, seeds_for_power, transfer
from budgetsweep.records import write_json_atomic

VERDICT_FILE = "verdict.json"
SCHEMA_VERSION = 1


def _num(x: float | None):
    # JSON has no inf/nan: write null
    return None if x is None or not math.isfinite(x) else float(x)


def _analysis_dict(res: PairedAnalysis) -> dict:
    return {
        "n_pairs": res.n,
        "effect": {"mean_improvement": res.mean, "ci": [_num(res.ci[0]), _num(res.ci[1])], "ci_level": res.ci_level,
                   "sd": res.sd, "cohens_dz": _num(res.dz)},
        "p_values": {"paired_t": res.p_t, "sign_flip_permutation": res.p_permutation,
                     "permutation_method": res.permutation_method, "deciding_test": res.test,
                     "sides": res.sides, "level": res.alpha},
        "mde": {"value": res.mde, "cohens_dz": res.mde_dz, "power": res.power},
        "smallest_effect": res.smallest_effect,
        "verdict": res.verdict, "sentence": res.sentence, "notes": list(res.notes),
    }


def _seeds_needed(plan: dict, res: PairedAnalysis) -> dict:
    # internal pilot (Wittes & Brittain 1990): the pair count re-estimated from the sd observed so far
    n = seeds_for_power(plan["smallest_effect"], res.sd, plan["alpha"], plan["target_power"], plan["sides"],
                        plan["max_seeds"])
    return {"n": n, "target_power": plan["target_power"], "max_seeds": plan["max_seeds"],
            "enough": n is not None and res.n >= n,
            "method": "paired t power from the noncentral t at the observed sd "
                      "(internal pilot, Wittes & Brittain 1990)"}


def build(registration: dict, results: list[dict]) -> dict:
    """verdict.json's content. Raises MixedRegistrationError for results of another registration.
    A scale with fewer than 2 complete pairs gets verdict ``inconclusive`` and no analysis."""
    h = registration["registration_sha256"]
    plan = registration["analysis_plan"]
    order = {s: i for i, s in enumerate(plan["seeds"])}
    seq = plan.get("sequential")
    seq_plan = (SequentialPlan(looks=tuple(seq["looks"]), spending=seq["spending"], alpha=seq["alpha"],
                               sides=seq["sides"], levels=tuple(seq["nominal_levels"])) if seq else None)
    out = {"schema_version": SCHEMA_VERSION, "name": registration["name"], "registration_sha256": h,
           "metric": plan["metric"], "direction": plan["direction"], "scales": {}, "transfer": None}
    diffs_by_scale = {}
    for scale in registration["configurations"]:
        complete, incomplete = pairs(results, h, scale)
        complete.sort(key=lambda p: order.get(p["seed"], len(order) + p["seed"]))
        d = improvements([p["baseline"] for p in complete], [p["candidate"] for p in complete], plan["direction"])
        entry = {"pairs": [{**p, "improvement": float(x)} for p, x in zip(complete, d)],
                 "incomplete_seeds": sorted(incomplete), "sequential": None}
        if seq_plan is not None:
            dec = decide(d, seq_plan, smallest_effect=plan["smallest_effect"], power=plan["power"], test=plan["test"])
            entry["sequential"] = {"stop": dec.stop, "look": dec.look, "reason": dec.reason}
            res = dec.analysis
        elif len(d) >= 2:
            res = analyse(d, alpha=plan["alpha"], smallest_effect=plan["smallest_effect"], power=plan["power"],
                          sides=plan["sides"], test=plan["test"])
        else:
            res = None
        if res is None:
            entry.update(n_pairs=len(d), verdict="inconclusive",
                         sentence=f"inconclusive: {len(d)} complete pair(s), too few to analyse")
        else:
            entry.update(_analysis_dict(res))
            diffs_by_scale[scale] = d[: res.n]
            if plan.get("target_power"):
                entry["seeds_needed"] = _seeds_needed(plan, res)
        out["scales"][scale] = entry
    if "proxy" in diffs_by_scale and "full" in diffs_by_scale:
        t = transfer(diffs_by_scale["proxy"], diffs_by_scale["full"], level=1 - plan["alpha"])
        out["transfer"] = {"same_sign": t.same_sign, "ratio_full_to_proxy": _num(t.ratio),
                           "ratio_ci": [_num(b) if b is not None else None for b in t.ratio_ci],
                           "ci_level": t.ci_level, "method": t.method,
                           "proxy_verdict": out["scales"]["proxy"]["verdict"],
                           "full_verdict": out["scales"]["full"]["verdict"]}
    first = next(iter(out["scales"].values()))
    out["verdict"], out["sentence"] = first["verdict"], first["sentence"]
    return out


def write(folder: str | Path, verdict: dict) -> Path:
    """Write ``verdict.json`` atomically (records.write_json_atomic) in ``folder``."""
    path = Path(folder) / VERDICT_FILE
    write_json_atomic(path, verdict)
    return path
