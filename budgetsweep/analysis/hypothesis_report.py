"""The report of a hypothesis test: ``report.md`` (+ ``figures/``) and ``report.html`` beside ``verdict.json``.

Input: the verdict dict (``budgetsweep.hypothesis.verdict.build``; JSON-ready, nulls for undefined numbers).
The verdict sentence comes first, then per scale the effect with its interval, both p-values, the minimum
detectable effect and the per-seed pairs plot, then the transfer and the registration hash. The same key
numbers, at 4 significant digits, are what :func:`terminal_summary` prints at the end of the command.
Imports no torch (analysis layer); matplotlib only when figures are drawn.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import pandas as pd

from .plots import _figure
from .render import NA, Document, fmt_sig, write_document

DIGITS = 4  # significant digits of every number shown
REPORT_STEM = "report"


def fmt4(v) -> str:
    """A number at 4 significant digits; n/a for null/NaN; inf as such."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return NA
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return fmt_sig(float(v), DIGITS)


def _interval(effect: dict) -> str:
    lo, hi = effect["ci"]
    if lo is None or hi is None:
        return f"{NA} (undefined: see the notes)"
    return f"{fmt4(lo)} to {fmt4(hi)} ({fmt4(100 * effect['ci_level'])}% CI)"


def key_numbers(entry: dict) -> list[tuple[str, str]]:
    """[(label, value)] of one scale of verdict.json, numbers at 4 significant digits."""
    rows = [("verdict", entry["verdict"]), ("complete pairs", str(entry["n_pairs"]))]
    if "effect" not in entry:  # too few pairs, or a non-finite metric: nothing was analysed
        return rows
    effect, p, mde = entry["effect"], entry["p_values"], entry["mde"]
    mde_text = ("none detectable at this n" if not mde.get("detectable", True)
                else f"{fmt4(mde['value'])} (d_z {fmt4(mde['cohens_dz'])}, power {fmt4(mde['power'])})")
    rows += [
        ("mean improvement", fmt4(effect["mean_improvement"])),
        ("interval", _interval(effect)),
        ("Cohen's d_z", fmt4(effect["cohens_dz"])),
        ("paired t p", fmt4(p["paired_t"])),
        ("sign-flip p", fmt4(p["sign_flip_permutation"])),
        ("deciding test, level", f"{p['deciding_test']}, {fmt4(p['level'])} ({p['sides']}-sided)"),
        ("minimum detectable effect", mde_text),
        ("smallest effect worth acting on", fmt4(entry["smallest_effect"])),
    ]
    return rows


def _transfer_text(t: dict) -> str:
    lo, hi = t["ratio_ci"]
    ci = (f"{fmt4(lo)} to {fmt4(hi)} ({fmt4(100 * t['ci_level'])}% Fieller interval)" if lo is not None
          else "interval unbounded or undefined")
    return (f"transfer: same sign {'yes' if t['same_sign'] else 'no'}; ratio full / proxy "
            f"{fmt4(t['ratio_full_to_proxy'])}, {ci}; proxy {t['proxy_verdict']}, full {t['full_verdict']}")


def terminal_summary(verdict: dict) -> str:
    """The lines printed at the end of ``budgetsweep-hypothesis``: the verdict sentence, then each scale's
    key numbers (4 significant digits), the transfer and the registration hash."""
    lines = [verdict["sentence"]]
    for scale, entry in verdict["scales"].items():
        numbers = "; ".join(f"{k} {v}" for k, v in key_numbers(entry)[1:])
        lines.append(f"  {scale}: {entry['verdict']}: {numbers}")
    if verdict.get("transfer"):
        lines.append("  " + _transfer_text(verdict["transfer"]))
    lines.append(f"  registration sha256 {verdict['registration_sha256']}")
    return "\n".join(lines)


def plot_pairs(entry: dict, metric: str, direction: str, scale: str):
    """Left: baseline and candidate per seed, a line joining each pair (green: candidate better, red: worse);
    right: the per-seed improvements, their mean with its interval, the smallest effect worth acting on
    and the minimum detectable effect. A pair with a non-finite value is listed in the title, not drawn."""
    fig = _figure(10, 4.8)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.27, top=0.87, wspace=0.3)
    left, right = fig.subplots(1, 2)
    pairs = [p for p in entry["pairs"] if p["baseline"] is not None and p["candidate"] is not None]
    for p in pairs:
        color = "tab:green" if (p["improvement"] or 0) > 0 else "tab:red" if (p["improvement"] or 0) < 0 else "0.5"
        left.plot([0, 1], [p["baseline"], p["candidate"]], "-o", color=color, lw=1.2, ms=5, alpha=0.85)
        left.annotate(str(p["seed"]), (0, p["baseline"]), textcoords="offset points", xytext=(-14, -3), fontsize=7)
    left.set_xticks([0, 1], ["baseline", "candidate"])
    left.set_xlim(-0.3, 1.3)
    left.set_ylabel(f"{metric} ({direction})")
    left.set_title(f"{len(pairs)} seed pair(s); labels: seed", fontsize=10)
    imp = [p["improvement"] for p in pairs]
    right.scatter(range(len(imp)), imp, color="tab:blue", s=22, zorder=3, label="per seed")
    right.axhline(0, color="0.3", lw=0.8)
    if "smallest_effect" in entry:
        right.axhline(entry["smallest_effect"], color="tab:orange", ls="--", lw=1,
                      label="smallest effect worth acting on")
    effect = entry.get("effect")
    if effect:
        mean, (lo, hi) = effect["mean_improvement"], effect["ci"]
        x = len(imp) + 0.5
        if lo is not None and hi is not None:
            right.errorbar([x], [mean], yerr=[[mean - lo], [hi - mean]], fmt="s", color="k", capsize=4,
                           label=f"mean, {fmt4(100 * effect['ci_level'])}% CI")
        else:
            right.scatter([x], [mean], marker="s", color="k", label="mean (no interval)")
        mde = entry["mde"]["value"]
        if mde is not None and math.isfinite(mde):
            right.axhline(mde, color="tab:purple", ls=":", lw=1, label="minimum detectable effect")
    right.set_xticks(range(len(imp)), [str(p["seed"]) for p in pairs])
    right.set_xlabel("seed")
    right.set_ylabel("improvement (positive = candidate better)")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2, fontsize=7)  # below: no dot hidden
    missing = entry.get("nonfinite_seeds")
    title = f"{scale}: {entry['verdict']}" + (f" (not finite at seeds {missing})" if missing else "")
    fig.suptitle(title, fontsize=11)
    return fig


def document(verdict: dict) -> Document:
    """The report's blocks: the verdict sentence first, figures as callables drawn when rendered."""
    doc = Document()
    doc.add("verdict", verdict["sentence"])
    doc.add("h1", f"Hypothesis {verdict['name']}: {verdict['metric']} ({verdict['direction']})")
    for scale, entry in verdict["scales"].items():
        doc.add("h2", f"Scale {scale}: {entry['verdict']}")
        doc.add("p", entry["sentence"])
        rows = key_numbers(entry)
        doc.add("table", table=pd.DataFrame({"value": [v for _, v in rows]},
                                            index=pd.Index([k for k, _ in rows], name="quantity")))
        if entry.get("notes"):
            doc.add("list", items=list(entry["notes"]))
        if entry.get("pairs"):
            doc.add("figure", f"{scale}: per-seed pairs and improvements", name=f"pairs_{scale}.png",
                    figure=functools.partial(plot_pairs, entry, verdict["metric"], verdict["direction"], scale))
            table = pd.DataFrame([{k: fmt4(p[k]) if k != "seed" else str(p[k]) for k in p} for p in entry["pairs"]])
            doc.add("table", table=table.set_index("seed"))
        if entry.get("incomplete_seeds"):
            doc.add("p", f"seeds with one arm only (rerun on resume): {entry['incomplete_seeds']}")
    if verdict.get("transfer"):
        doc.add("h2", "Transfer")
        doc.add("p", _transfer_text(verdict["transfer"]))
    if verdict.get("budget"):
        b = verdict["budget"]
        doc.add("p", f"budget: spent {fmt4(b['spent'])} of {fmt4(b['limit'])} {b['unit']}"
                     + ("; stopped before every planned seed ran" if b.get("stopped") else ""))
    doc.add("h2", "Registration")
    doc.add("p", f"registration sha256 {verdict['registration_sha256']}: every number above comes from the runs of "
                 "this registration (registration.json beside this report)")
    return doc


def write_report(folder: str | Path, verdict: dict) -> tuple[Path, Path]:
    """Write ``report.md`` (figures under ``figures/``) and ``report.html`` in ``folder``; returns both paths."""
    from .report import render_figures

    doc = render_figures(document(verdict))
    return write_document(Path(folder), doc, f"hypothesis {verdict['name']}", stem=REPORT_STEM)
