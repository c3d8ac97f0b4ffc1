"""The budget summary of a sweep: totals, per-trial predicted vs actual cost, prediction error.

Prediction error is measured on completed trials only: a pruned or budget-stopped trial did less
than was predicted on purpose, and a failed one says nothing about the cost model.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from budgetsweep.budget.units import format_cost
from budgetsweep.records import RunStatus


def build_summary(*, study_name: str, storage: str, unit: str, limit: float | None, tolerance: float,
                  spent: float, reserved: float, charges: Sequence[Any],
                  trials: Mapping[int, Mapping[str, Any]], n_trials: int, stopped: str) -> dict[str, Any]:
    """``charges``: the ledger's rows; ``trials``: number -> {state, status, label, basis, predicted}
    from the study (``budgetsweep.budget.trial_attrs.summary_info``). ``limit=None``: no cap
    (``remaining`` is then null). Trials that never launched hold no charge and are not listed."""
    rows = []
    for charge in charges:
        info = trials.get(charge.trial, {})
        predicted = info["predicted"] if "predicted" in info else charge.reserved
        if predicted is not None and not math.isfinite(predicted):  # no limit: an unbounded reservation
            predicted = None
        actual = charge.actual
        error = actual - predicted if predicted is not None and actual is not None else None
        rows.append({
            "trial": charge.trial, "state": info.get("state"), "status": info.get("status"),
            "label": info.get("label") or charge.label, "ledger": charge.state, "predicted": predicted,
            "actual": actual,
            "error": error, "basis": info.get("basis"),
        })
    done = [r for r in rows if r["status"] == RunStatus.COMPLETED and r["error"] is not None]
    errors = [abs(r["error"]) for r in done]
    relative = [abs(r["error"]) / r["predicted"] for r in done if r["predicted"]]
    remaining = limit - spent - reserved if limit is not None else None
    return {
        "study_name": study_name,
        "storage": storage,
        "unit": unit,
        "limit": limit,
        "tolerance": tolerance,
        "spent": spent,
        "reserved": reserved,
        "remaining": remaining,
        "remaining_fraction": remaining / limit if limit is not None else None,
        "n_trials": n_trials,
        "n_charged": sum(1 for r in rows if r["ledger"] == "committed"),
        "stopped": stopped,
        "prediction": {
            "n": len(done),
            "mean_abs_error": statistics.fmean(errors) if errors else None,
            "mean_abs_relative_error": statistics.fmean(relative) if relative else None,
            "mean_error": statistics.fmean(r["error"] for r in done) if done else None,
        },
        "trials": rows,
    }


def summary_table(summary: Mapping[str, Any], max_rows: int = 30) -> str:
    """A short text table for the log."""
    unit = summary["unit"]
    if summary["limit"] is None:
        head = (f"budget of study {summary['study_name']!r} ({unit}): spent {format_cost(summary['spent'], unit)}, "
                "no limit")
    else:
        head = (f"budget of study {summary['study_name']!r} ({unit}): spent {format_cost(summary['spent'], unit)}, "
                f"reserved {format_cost(summary['reserved'], unit)}, remaining "
                f"{format_cost(summary['remaining'], unit)} of {format_cost(summary['limit'], unit)} "
                f"({100 * summary['remaining_fraction']:.1f}%)")
    rows = summary["trials"]
    shown = rows if len(rows) <= max_rows else rows[-max_rows:]
    # the label column as wide as the longest label shown: a reduction label is never cut
    # (data_subset(fraction=0.05)+short_schedule(...) told apart from its siblings only at its end)
    width = max([24, *(len(str(r["label"] or "-")) for r in shown)])
    lines = [
        head,
        f"{'trial':>5}  {'status':<15} {'label':<{width}} {'predicted':>12} {'actual':>12} {'error':>12}",
    ]
    if len(shown) < len(rows):
        lines.append(f"  ... {len(rows) - len(shown)} earlier trials in budget_summary.json")
    for r in shown:
        lines.append(f"{r['trial']:>5}  {str(r['status'] or r['ledger']):<15} {str(r['label'] or '-'):<{width}} "
                     f"{format_cost(r['predicted'], unit):>12} {format_cost(r['actual'], unit):>12} "
                     f"{format_cost(r['error'], unit):>12}")
    pred = summary["prediction"]
    if pred["n"]:
        lines.append(f"prediction error over {pred['n']} completed trials: mean absolute "
                     f"{format_cost(pred['mean_abs_error'], unit)} {unit} "
                     f"({100 * pred['mean_abs_relative_error']:.1f}% of the prediction)")
    elif summary["limit"] is None:
        lines.append("prediction error: none (no limit, so no trial cost was predicted)")
    else:
        lines.append("prediction error: none yet (no completed trial with a prediction and a measured cost)")
    return "\n".join(lines)
