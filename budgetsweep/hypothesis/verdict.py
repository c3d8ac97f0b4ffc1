"""``verdict.json``: the analysis of one registration's results, as a JSON-ready dict.

Input: the registration (from :mod:`budgetsweep.hypothesis.registration`) and results, dicts
``{registration, scale, arm, seed, value}`` (value: the registered metric of that run's record).
Per scale: the complete pairs in the registered seed order, the paired analysis (the sequential
look's when the plan has looks), and with a proxy and a full scale the transfer of the effect.
The headline verdict is the first scale's (proxy when there is one).

A pair with a non-finite value (a run that diverged: NaN loss) makes its scale ``inconclusive``: dropping
it would keep only the seeds where both arms survived, a biased comparison, so no test is run and the
sentence names the seeds (a sequential scale stops there). Every undefined number is written as null.
"""
from __future__ import annotations

import math
from pathlib import Path

from budgetsweep.hypothesis.registration import pairs
from budgetsweep.hypothesis.sequential import SequentialPlan, decide
import numpy as np

from budgetsweep.hypothesis.stats import PairedAnalysis, analyse, seeds_for_power, transfer
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
        "p_values": {"paired_t": _num(res.p_t), "sign_flip_permutation": _num(res.p_permutation),
                     "permutation_method": res.permutation_method, "deciding_test": res.test,
                     "sides": res.sides, "level": res.alpha},
        "mde": {"value": _num(res.mde), "cohens_dz": res.mde_dz, "power": res.power,
                "detectable": not math.isinf(res.mde)},
        "smallest_effect": res.smallest_effect, "degenerate": res.degenerate,
        "verdict": res.verdict, "sentence": res.sentence, "notes": list(res.notes),
    }


def _seeds_needed(plan: dict, res: PairedAnalysis) -> dict:
    if res.degenerate == "deterministic":
        return {"n": None, "target_power": plan["target_power"], "max_seeds": plan["max_seeds"], "enough": False,
                "method": "none: the seed changes neither arm, so more seeds add no information"}
    if res.degenerate == "constant":
        # zero-variance differences: the exact sign-flip test decides once sides x 2^-n < alpha
        n = math.floor(math.log2(plan["sides"] / plan["alpha"])) + 1
        return {"n": n, "target_power": plan["target_power"], "max_seeds": plan["max_seeds"], "enough": res.n >= n,
                "method": "zero-variance differences: the smallest n at which the exact sign-flip test can reach alpha"}
    # internal pilot (Wittes & Brittain 1990): the pair count re-estimated from the sd observed so far
    n = seeds_for_power(plan["smallest_effect"], res.sd, plan["alpha"], plan["target_power"], plan["sides"],
                        plan["max_seeds"])
    return {"n": n, "target_power": plan["target_power"], "max_seeds": plan["max_seeds"],
            "enough": n is not None and res.n >= n,
            "method": "paired t power from the noncentral t at the observed sd "
                      "(internal pilot, Wittes & Brittain 1990)"}


def _nonfinite_sentence(metric: str, complete: list[dict]) -> tuple[list[int], str]:
    bad = {arm: [p["seed"] for p in complete if not math.isfinite(p[arm])] for arm in ("baseline", "candidate")}
    named = "; ".join(f"the {arm} at seed(s) {seeds}" for arm, seeds in bad.items() if seeds)
    seeds = sorted({s for v in bad.values() for s in v})
    return seeds, (f"inconclusive: {metric} is not finite (the run diverged) for {named}; a paired test of the "
                   "surviving seeds alone would be biased, so none is run")


def _scale_entry(plan: dict, seq_plan: SequentialPlan | None, complete: list[dict], incomplete: list[int]) -> dict:
    """One scale's part of verdict.json (pairs in registered order) and its analysis (None: not analysed)."""
    entry = {"pairs": [{"seed": p["seed"], "baseline": _num(p["baseline"]), "candidate": _num(p["candidate"]),
                        "improvement": _num(x)}
                       for p, x in zip(complete, _raw_improvements(complete, plan["direction"]))],
             "incomplete_seeds": sorted(incomplete), "sequential": None}
    if not all(math.isfinite(p["baseline"]) and math.isfinite(p["candidate"]) for p in complete):
        seeds, sentence = _nonfinite_sentence(plan["metric"], complete)
        entry.update(n_pairs=len(complete), nonfinite_seeds=seeds, verdict="inconclusive", sentence=sentence)
        if seq_plan is not None:
            entry["sequential"] = {"stop": True, "look": None,
                                   "reason": "a non-finite metric: the verdict cannot change"}
        return entry, None
    base, cand = [p["baseline"] for p in complete], [p["candidate"] for p in complete]
    d = np.array([p["improvement"] for p in entry["pairs"]])
    kw = dict(smallest_effect=plan["smallest_effect"], power=plan["power"], test=plan["test"], arms=(base, cand))
    res = None
    if seq_plan is not None:
        dec = decide(d, seq_plan, **kw)
        entry["sequential"] = {"stop": dec.stop, "look": dec.look, "reason": dec.reason}
        res = dec.analysis
    elif len(d) >= 2:
        res = analyse(d, alpha=plan["alpha"], sides=plan["sides"], **kw)
    if res is None:
        entry.update(n_pairs=len(d), verdict="inconclusive",
                     sentence=f"inconclusive: {len(d)} complete pair(s), too few to analyse")
    else:
        entry.update(_analysis_dict(res))
        if plan.get("target_power"):
            entry["seeds_needed"] = _seeds_needed(plan, res)
    return entry, res


def _raw_improvements(complete: list[dict], direction: str) -> list[float]:
    # as stats.improvements, NaN where a value is not finite (a diverged run)
    sign = 1.0 if direction == "maximize" else -1.0
    return [sign * (p["candidate"] - p["baseline"]) for p in complete]


def build(registration: dict, results: list[dict]) -> dict:
    """verdict.json's content. Raises MixedRegistrationError for results of another registration.
    A scale with fewer than 2 complete pairs, or with a non-finite value, gets verdict ``inconclusive``
    and no analysis."""
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
        out["scales"][scale], res = _scale_entry(plan, seq_plan, complete, incomplete)
        if res is not None:
            improvement = [p["improvement"] for p in out["scales"][scale]["pairs"]]
            diffs_by_scale[scale] = (improvement[: res.n], res.degenerate)
    if "proxy" in diffs_by_scale and "full" in diffs_by_scale:
        out["transfer"] = _transfer(plan, out["scales"], diffs_by_scale)
    first = next(iter(out["scales"].values()))
    out["verdict"], out["sentence"] = first["verdict"], first["sentence"]
    return out


def _transfer(plan: dict, scales: dict, diffs_by_scale: dict) -> dict:
    (proxy, proxy_kind), (full, full_kind) = diffs_by_scale["proxy"], diffs_by_scale["full"]
    verdicts = {"proxy_verdict": scales["proxy"]["verdict"], "full_verdict": scales["full"]["verdict"]}
    if proxy_kind or full_kind:  # zero-variance differences: Fieller's interval is undefined
        mp, mf = float(np.mean(proxy)), float(np.mean(full))
        return {"same_sign": (mp > 0) == (mf > 0) and mp != 0 and mf != 0,
                "ratio_full_to_proxy": _num(mf / mp) if mp != 0 else None, "ratio_ci": [None, None],
                "ci_level": None, "method": "no interval: the differences have zero variance at a scale", **verdicts}
    t = transfer(proxy, full, level=1 - plan["alpha"])
    return {"same_sign": t.same_sign, "ratio_full_to_proxy": _num(t.ratio),
            "ratio_ci": [_num(b) if b is not None else None for b in t.ratio_ci], "ci_level": t.ci_level,
            "method": t.method, **verdicts}


def write(folder: str | Path, verdict: dict) -> Path:
    """Write ``verdict.json`` atomically (records.write_json_atomic) in ``folder``."""
    path = Path(folder) / VERDICT_FILE
    write_json_atomic(path, verdict)
    return path
