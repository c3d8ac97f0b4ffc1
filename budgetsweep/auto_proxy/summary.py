"""``auto_proxy_summary.json``: the whole story of an auto-proxy sweep in one strict JSON file.

Candidates with their calibration fidelity and intervals, the chosen rung and why, the verified
configurations with full-scale scores and seeds, the final pick (the best configuration measured at full
scale, ``final``), what each phase spent, the limit and the unit. Written through the project's one atomic writer (``records.write_json_atomic``), so a
reader never sees half a file; NaN is written as null (strict JSON).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from budgetsweep.analysis.schema import searched
from budgetsweep.budget.units import check_unit, cost_in_unit
from budgetsweep.records import write_json_atomic

from .choose import Choice
from .final import CALIBRATION, FinalPick
from .jsonable import jsonable
from .phases import PhasePlan
from .verify import Verification

SUMMARY_FILE = "auto_proxy_summary.json"
SUMMARY_VERSION = 1
PHASES = ("calibrate", "search", "verify")


def spent_from_runs(runs: pd.DataFrame, unit: str) -> float:
    """What a run frame's runs cost in ``unit`` (every status: a failed, pruned or stopped run spent
    compute too), by ``budget.units.cost_in_unit`` on each run's measured cost. Runs without a
    measured cost count 0 (the ledger, not the records, knows what the sweeper charged them)."""
    unit = check_unit(unit, "unit")
    total = 0.0
    for row in runs[["wall_seconds", "examples", "flops", "device_count"]].itertuples(index=False):
        measured = {k: (None if pd.isna(v) else float(v)) for k, v in row._asdict().items()}
        total += cost_in_unit(measured, unit)
    return total


def spent_by_phase(charges: Iterable[Any], phase_of: Mapping[int, str]) -> dict[str, float]:
    """What each phase cost by the ledger: per ``PHASES`` entry, the sum over its trials' charges (the
    actual cost, else what is still held). ``charges``: ``budget.ledger.Charge`` rows; ``phase_of``:
    trial number -> phase (its ``Job`` tag); a charge of an untagged trial counts in no phase."""
    out = {p: 0.0 for p in PHASES}
    for c in charges:
        phase = phase_of.get(c.trial)
        if phase in out:
            out[phase] += c.actual if c.actual is not None else (c.reserved or 0.0)
    return out


def launched(charges: Iterable[Any]) -> set[int]:
    """The trial numbers the ledger charged (reserved or committed): those launched. A trial without a
    charge, or with a released one, never ran."""
    from budgetsweep.budget.ledger import RELEASED

    return {c.trial for c in charges if c.state != RELEASED}


def _final(final: FinalPick | None, verification: Verification | None, choice: Choice) -> dict[str, Any] | None:
    if final is None:
        return None
    assert verification is not None  # final_pick answers only once verification did
    return {**final.to_dict(), "rung": choice.label, "is_proxy_pick": final.config_key == verification.pick}


def _answer(final: FinalPick | None, verification: Verification | None, choice: Choice) -> str:
    if verification is None:
        return "Not verified yet: no answer."
    if final is None:
        return "No verification run completed: there is no verified answer."
    top = f"the top {len(verification.configs)} of the search at {choice.name}"
    measured = sum(1 for c in verification.configs if c.full_mean is not None)
    if measured < len(verification.configs):  # a configuration the budget could not verify is no evidence
        top += f" ({len(verification.configs) - measured} without a completed full-scale run)"
        verified = f"the {measured} of {top} verified"
    else:
        verified = f"{top} verified"
    if final.source == CALIBRATION:
        where = f"a calibration configuration measured at full scale, better than {verified} there"
    else:
        where = f"best of {verified} at full scale"
        if final.calibration_configs:
            where += f" and the {final.calibration_configs} calibration configuration(s) measured there"
    if final.calibration_fewer_seeds:
        where += (f" ({final.calibration_fewer_seeds} calibration configuration(s) measured on fewer than the "
                  f"verification's {final.verify_seeds} seed(s) not compared: the best of one-seed means is mostly "
                  "the luckiest seed)")
    pick = f"the {searched(choice.kind)}'s pick"
    if verification.pick_is_best is None:
        held = f"{pick} was not verified"
    elif verification.pick_is_best:
        held = f"{pick} is the verified best"
    else:
        held = f"{pick} ({verification.pick}) is not the verified best"
    return (f"Final pick: {final.config_key}, full-scale objective {final.full_mean:.4g} over {len(final.seeds)} "
            f"seed(s), {where}; {held}.")


def build_summary(*, limit: float, unit: str, choice: Choice, spent: Mapping[str, float],
                  plan: PhasePlan | None = None, verification: Verification | None = None,
                  final: FinalPick | None = None) -> dict[str, Any]:
    """The summary as a JSON-ready dict.

    Args:
        limit, unit: the budget (``hydra.sweeper.budget``).
        choice: ``choose``'s result (candidates' calibration evidence, the chosen rung and why).
        spent: cost per phase in ``unit`` (keys among ``calibrate``, ``search``, ``verify``; the
            sweeper passes its ledger's charges, a test ``spent_from_runs`` of each phase's records).
        plan: the phase plan (``plan_phases``), when the sweeper made one.
        verification: ``verify``'s result (None before the verify phase ran).
        final: the answer, ``final_pick`` of this verification and the calibration's full-scale runs
            (required once the verification has a verified best).

    Raises:
        ValueError: an unknown phase in ``spent``, a unit that is not a budget unit, or a verified best
            without ``final``.
    """
    unit = check_unit(unit, "unit")
    unknown = sorted(set(spent) - set(PHASES))
    if unknown:
        raise ValueError(f"spent has phase(s) {unknown}; allowed: {PHASES}")
    if final is None and verification is not None and verification.final is not None:
        raise ValueError("final is None but the verification has a verified best; pass final_pick(verification, "
                         "verified_runs, calibration_runs)")
    by_phase = {p: float(spent.get(p, 0.0)) for p in PHASES}
    total = sum(by_phase.values())
    choice_dict = {k: v for k, v in choice.to_dict().items() if k != "candidates"}
    return jsonable({
        "summary_version": SUMMARY_VERSION,
        "limit": float(limit),
        "unit": unit.value,
        "spent": {**by_phase, "total": total},
        "remaining": float(limit) - total,
        "candidates": choice.candidates,
        "choice": choice_dict,
        "verification": verification.to_dict() if verification is not None else None,
        "final": _final(final, verification, choice),
        "answer": _answer(final, verification, choice),
        "plan": plan.to_dict() if plan is not None else None,
    })


def write_summary(folder: str | os.PathLike, summary: Mapping[str, Any]) -> Path:
    """Write ``summary`` (``build_summary``) as ``folder/auto_proxy_summary.json``, atomically; returns the path."""
    path = Path(folder) / SUMMARY_FILE
    write_json_atomic(path, jsonable(summary))
    return path


__all__ = ["PHASES", "SUMMARY_FILE", "build_summary", "launched", "spent_by_phase", "spent_from_runs",
           "write_summary"]
