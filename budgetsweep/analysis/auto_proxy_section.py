"""The auto-proxy section of a report on an auto-proxy study (``budgetsweep-report --storage URL --study
NAME``): the answer, the budget per phase, the calibration table (each candidate's measured cost factor,
fidelity with its interval against full scale, the noise ceiling, the choice and why), the verification
table (the search's top configurations at full scale) and a figure of proxy against full score.

Input: ``auto_proxy.story.Story``, read from the study; every number shown comes from its ``summary``, the
same dict as the sweep's ``auto_proxy_summary.json``, so report and summary agree. The tables exist raw
(``calibration_table`` ...: written as CSV) and formatted (``*_cells``: Markdown, HTML, terminal).
Imports no torch; ``auto_proxy.story`` (Optuna, the ledger) only when a study is read, matplotlib only
when the figure is drawn.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from .pair import pair_runs, split_runs
from .plots import _figure, _short
from .schema import FULL_LABEL, searched
from .render import NA, Document, fmt_fixed, fmt_float, fmt_interval, fmt_times, format_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from budgetsweep.auto_proxy.story import Story

Label = Callable[[object], str]  # config key -> the name a reader knows it by (``Report.label``)
PHASES = ("calibrate", "search", "verify")
NO_PAIR = "No candidate has a calibration configuration completed at both its scale and full scale."


def read_story(storage: str, study: str) -> Story | None:
    """The auto-proxy story of a study, None for a study no auto-proxy sweep ran (``auto_proxy.story``,
    imported here: ``budgetsweep.auto_proxy`` imports the analysis package, so not at module level)."""
    from budgetsweep.auto_proxy.story import read_story as read

    return read(storage, study)


# ----- tables, raw -----

def calibration_table(summary: dict[str, Any]) -> pd.DataFrame:
    """One row per candidate (its name): the measured and predicted cost factor (full / candidate), the
    fidelity against full scale on the calibration configurations with intervals, the noise ceiling,
    the verdict columns and whether it was chosen."""
    rows = summary["candidates"]
    chosen = summary["choice"]["label"]
    table = pd.DataFrame({
        "label": [r["label"] for r in rows],
        "configs": [r.get("configs") for r in rows],
        "cost_factor": [r.get("cost_reduction") for r in rows],
        "predicted_factor": [r.get("predicted_reduction") for r in rows],
        **{c: [r.get(c) for r in rows] for c in ("rho", "rho_low", "rho_high", "tau", "tau_low", "tau_high",
                                                 "ceiling", "rho_rel", "top1", "meets", "confident", "tie_limited",
                                                 "did_not_learn")},
        "chosen": [r["label"] == chosen for r in rows],
    }, index=pd.Index([r["name"] for r in rows], name="candidate"))
    return table.astype({c: float for c in ("cost_factor", "predicted_factor", "rho", "rho_low", "rho_high", "tau",
                                            "tau_low", "tau_high", "ceiling", "rho_rel", "top1")})


def verification_table(summary: dict[str, Any]) -> pd.DataFrame:
    """One row per verified configuration (config key), in the search's order: its proxy rank and
    score, its full-scale rank among the verified, seed mean, sd and seeds, whether it is the proxy's
    pick and the final pick (no row is when a calibration configuration won at full scale). Empty before
    verification."""
    v = summary.get("verification")
    if not v:
        return pd.DataFrame(columns=["proxy_rank", "proxy_score", "full_rank", "full_mean", "full_std", "seeds",
                                     "pick", "final"], index=pd.Index([], name="config_key"))
    rows = v["configs"]
    final = (summary.get("final") or {}).get("config_key")
    return pd.DataFrame({
        "proxy_rank": [r["proxy_rank"] for r in rows],
        "proxy_score": [r["proxy_score"] for r in rows],
        "full_rank": [r["full_rank"] for r in rows],
        "full_mean": [r["full_mean"] for r in rows],
        "full_std": [r["full_std"] for r in rows],
        "seeds": [" ".join(str(s) for s in r["seeds"]) for r in rows],
        "pick": [r["config_key"] == v["pick"] for r in rows],
        "final": [r["config_key"] == final for r in rows],
    }, index=pd.Index([r["config_key"] for r in rows], name="config_key")).astype(
        {c: float for c in ("proxy_rank", "proxy_score", "full_rank", "full_mean", "full_std")})


def budget_table(summary: dict[str, Any]) -> pd.DataFrame:
    """Per phase (and the total): its cap (share x limit), what the plan gave it, what it spent (the
    ledger's charges) and that as a share of the limit."""
    plan = summary.get("plan") or {}
    planned = {"calibrate": (plan.get("calibration") or {}).get("cost"),
               "search": (plan.get("search") or {}).get("budget"),
               "verify": (plan.get("verification") or {}).get("cost")}
    caps = plan.get("caps") or {}
    spent = summary["spent"]
    limit = float(summary["limit"])
    index = [*PHASES, "total"]
    return pd.DataFrame({
        "cap": [caps.get(p) for p in PHASES] + [limit],
        "planned": [planned[p] for p in PHASES] + [sum(float(planned[p] or 0) for p in PHASES)],
        "spent": [spent[p] for p in index],
        "share_of_limit": [spent[p] / limit for p in index],
    }, index=pd.Index(index, name="phase")).astype(float)


# ----- tables, as shown -----

def _rank(v: object) -> str:
    return NA if v is None or pd.isna(v) else f"{float(v):g}"  # type: ignore[arg-type]


def calibration_cells(table: pd.DataFrame) -> pd.DataFrame:
    shown = pd.DataFrame(index=table.index)
    shown["reduction"] = table["label"]
    shown["configs"] = table["configs"]
    shown["cost factor (measured)"] = table["cost_factor"]
    shown["predicted"] = table["predicted_factor"]
    shown["rho [CI]"] = [fmt_interval(*v) for v in table[["rho", "rho_low", "rho_high"]].itertuples(index=False)]
    shown["tau [CI]"] = [fmt_interval(*v) for v in table[["tau", "tau_low", "tau_high"]].itertuples(index=False)]
    shown["noise ceiling"] = table["ceiling"]
    shown["rho_rel"] = table["rho_rel"]
    shown["top1"] = table["top1"]
    for col in ("meets", "confident", "chosen"):
        shown[col] = table[col].map(lambda v: NA if v is None or pd.isna(v) else ("yes" if v else "no"))
    return format_table(shown, {"cost factor (measured)": fmt_times, "predicted": fmt_times,
                                "noise ceiling": fmt_fixed(3), "rho_rel": fmt_fixed(3), "top1": fmt_fixed(2)})


def verification_cells(table: pd.DataFrame, label: Label, searched: str = "proxy") -> pd.DataFrame:
    """``searched``: ``proxy``, or ``search`` when the search ran at full scale (its one-seed ranking is what the
    verification checks; there was no proxy)."""
    shown = pd.DataFrame(index=pd.Index([label(k) for k in table.index], name="configuration"))
    shown["key"] = table.index.astype(str)
    for col, name in (("proxy_rank", f"{searched} rank"), ("proxy_score", f"{searched} score"),
                      ("full_rank", "full rank"), ("full_mean", "full mean"), ("full_std", "full sd"),
                      ("seeds", "full seeds")):
        shown[name] = table[col].to_numpy()
    shown[f"{searched}'s pick"] = ["yes" if v else "" for v in table["pick"]]
    shown["final pick"] = ["yes" if v else "" for v in table["final"]]
    return format_table(shown, {f"{searched} rank": _rank, "full rank": _rank, f"{searched} score": fmt_float(4),
                                "full mean": fmt_float(4), "full sd": fmt_float(2)})


def _searched(summary: dict[str, Any]) -> str:
    return searched(summary["choice"]["kind"])


def budget_cells(table: pd.DataFrame, unit: str) -> pd.DataFrame:
    cost = functools.partial(_cost, unit=unit)
    shown = table.rename(columns={"cap": "share x limit", "share_of_limit": "spent / limit"})
    return format_table(shown, {"share x limit": cost, "planned": cost, "spent": cost, "spent / limit": fmt_fixed(3)})


def _cost(v: object, unit: str) -> str:
    """An amount of the budget in its unit's style (``budget.units.format_cost``: whole examples...)."""
    from budgetsweep.budget.units import format_cost

    return NA if v is None or pd.isna(v) else format_cost(float(v), unit)  # type: ignore[arg-type]


# ----- sentences -----

def _yes_no(v: object) -> str:
    return NA if v is None else ("yes" if v else "no")


def budget_sentence(summary: dict[str, Any]) -> str:
    s, unit = summary["spent"], summary["unit"]
    spent = ", ".join(f"{p} {_cost(s[p], unit)}" for p in PHASES)
    return (f"Budget: limit {_cost(summary['limit'], unit)} {unit}; spent {_cost(s['total'], unit)} ({spent}); "
            f"remaining {_cost(summary['remaining'], unit)}. Phase: {summary.get('phase') or NA}.")


def ceiling_sentence(story: Story) -> str:
    """How far the calibration's full-scale seeds agree (``fidelity.noise_ceiling``): why a ceiling is n/a."""
    from .fidelity import noise_ceiling

    full = story.calibration[story.calibration["reduction_label"] == FULL_LABEL]
    nc = noise_ceiling(full) if len(full) else None
    if nc is None or nc.seed_pairs == 0:
        return "Noise ceiling: none (it needs two full-scale seeds per calibration configuration)."
    return (f"Noise ceiling: the full-scale seeds rank the {nc.configs} calibration configurations with mean "
            f"Spearman rho {fmt_fixed(3)(nc.seed_rho)} between seeds; ceiling {fmt_fixed(3)(nc.ceiling)}"
            + (" (undefined at rho <= 0: seed noise swamps the ranking)" if math.isnan(nc.ceiling) else "") + ".")


KINDS = {"proxy": "it clears the target with its uncertainty", "milder": "a fallback: the best-evidenced candidate "
         "whose estimate meets the target", "full": "a fallback: full scale"}


def chosen_sentence(choice: dict[str, Any]) -> str:
    return f"Searched at: {choice['name']} ({KINDS.get(choice['kind'], choice['kind'])})."


def verification_sentence(summary: dict[str, Any]) -> str:
    v = summary.get("verification")
    if not v:
        return "Not verified yet: the search's top configurations have not run at full scale."
    if v["final"] is None:
        return (f"Top {len(v['configs'])} of the search at {summary['choice']['name']} queued for full scale; none "
                "completed there: no verified answer.")
    measured = sum(1 for c in v["configs"] if c.get("full_mean") is not None)
    missing = len(v["configs"]) - measured
    top = (f"Top {len(v['configs'])} of the search at {summary['choice']['name']}: {measured} verified at full scale, "
           f"{missing} without a completed full-scale run (no evidence; the table shows n/a)" if missing else
           f"Top {len(v['configs'])} of the search at {summary['choice']['name']} verified at full scale")
    searched = _searched(summary)  # a full-scale search: its one-seed ranking, checked on more seeds
    return (f"{top}. {searched.capitalize()} ranking held among them: {_yes_no(v['ranking_held'])}; the {searched}'s "
            f"pick is the verified best: {_yes_no(v['pick_is_best'])}; Spearman rho over the verified "
            f"{fmt_fixed(3)(v['rho'])}; regret of the {searched}'s pick {fmt_float(3)(v['regret'])} "
            f"({fmt_float(2)(v['regret_sd'])} seed sd of the top configurations), chance it is truly worse "
            f"{fmt_fixed(2)(v['p_worse'])}.")


def calibration_final_sentence(summary: dict[str, Any], label: Label) -> str | None:
    """Where the final pick came from when no verified configuration is it: a calibration configuration
    measured better at full scale (None otherwise)."""
    final = summary.get("final")
    if not final or final.get("source") != "calibration":
        return None
    seeds = final["seeds"]
    return (f"Final pick: {label(final['config_key'])} (key {final['config_key']}), a calibration configuration, "
            f"full-scale mean {fmt_float(4)(final['full_mean'])}, sd {fmt_float(2)(final['full_std'])} over "
            f"{len(seeds)} seed(s) ({' '.join(str(s) for s in seeds)}): better at full scale than every verified "
            "configuration, so no row below is the final pick.")


def notes(story: Story) -> list[str]:
    summary = story.summary or {}
    out = list(story.notes) + list((summary.get("plan") or {}).get("notes") or [])
    out += list((summary.get("verification") or {}).get("notes") or [])
    skipped = summary.get("calibration_skipped") or []
    if skipped:
        out.append(f"{len(skipped)} calibration trial(s) did not fit the calibration's cap and were not run: "
                   + ", ".join(f"{k['rung']} of configuration {k['config']}" for k in skipped))
    return out


# ----- the figure -----

def plot_proxy_vs_full(story: Story, label: Label) -> Figure:
    """Left: the calibration, each candidate's score against full scale per configuration (seed means).
    Right: the verified configurations, the search's score at the chosen rung against the full-scale
    seed mean (bars: seed sd), labelled with their rank in the search; the final pick starred when it is
    a verified one (a calibration final has no search score to plot at)."""
    fig = _figure(11, 4.6)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.86, wspace=0.25)
    left, right = fig.subplots(1, 2)
    proxy, full = split_runs(story.calibration)
    pairs = pair_runs(proxy, full) if len(proxy) and len(full) else pd.DataFrame(columns=["strategy", "paired"])
    pairs = pairs[pairs["paired"].astype(bool)]
    for i, (strategy, rows) in enumerate(pairs.groupby("strategy", sort=True)):
        name = story.names.get(str(strategy), str(strategy))
        left.scatter(rows["proxy_mean"], rows["full_mean"], s=30, marker="osD^v<>"[i % 7], alpha=0.85,
                     label=f"{_short(name)} ({len(rows)})")
    if len(pairs):
        left.legend(loc="best", fontsize=8, title="candidate (configurations)", title_fontsize=8)
        left.margins(0.1)
    else:
        left.text(0.5, 0.5, "no calibration pair completed", ha="center", transform=left.transAxes)
    left.set_xlabel("candidate objective (seed mean)")
    left.set_ylabel("full-scale objective (seed mean)")
    left.set_title("calibration", fontsize=10)
    table = verification_table(story.summary) if story.summary else verification_table({})
    ok = table.dropna(subset=["proxy_score", "full_mean"])
    if len(ok):
        right.errorbar(ok["proxy_score"], ok["full_mean"], yerr=ok["full_std"].fillna(0), fmt="o", color="tab:blue",
                       ecolor="0.6", capsize=3, ms=6, label="verified")
        final = ok[ok["final"].astype(bool)]
        right.scatter(final["proxy_score"], final["full_mean"], s=220, marker="*", color="tab:orange", zorder=4,
                      label=f"final pick: {_short(label(final.index[0]))}" if len(final) else None)
        for key, row in ok.iterrows():
            right.annotate(f"rank {row['proxy_rank']:g}", (row["proxy_score"], row["full_mean"]),
                           textcoords="offset points", xytext=(6, 4), fontsize=8)
        right.legend(loc="best", fontsize=8)
        right.margins(0.2)  # room for the labels of the outermost points
        rung = story.summary["choice"]["name"] if story.summary else NA
        right.set_xlabel(f"search objective at {_short(rung)} (seed mean)")
    else:
        right.text(0.5, 0.5, "no verified configuration yet", ha="center", transform=right.transAxes)
        right.set_xlabel("search objective (seed mean)")
    right.set_ylabel("full-scale objective (seed mean, bars: seed sd)")
    right.set_title("verification", fontsize=10)
    fig.suptitle(f"auto-proxy study {_short(story.study_name)}: proxy vs full")
    return fig


# ----- the section -----

def add_section(doc: Document, story: Story, label: Label) -> None:
    """The auto-proxy blocks, appended to ``doc``."""
    doc.add("h2", "Auto-proxy")
    summary = story.summary
    if summary is None:
        doc.add("p", f"Study {story.study_name} is an auto-proxy sweep with no completed calibration run yet: "
                     "nothing to show.")
        if story.notes:
            doc.add("list", items=notes(story))
        return
    doc.add("p", budget_sentence(summary))  # the answer is the report's verdict, first
    doc.add("table", table=budget_cells(budget_table(summary), summary["unit"]))
    c = summary["choice"]
    doc.add("h3", "Calibration")
    plan = (summary.get("plan") or {}).get("calibration") or {}
    design = (f"{plan['configs']} random configurations, each at full scale ({plan['full_seeds']} seed(s)) and at "
              f"every candidate ({plan['proxy_seeds']} seed(s)); " if plan else "")
    doc.add("p", f"{design}fidelity: Spearman rho and Kendall tau-b between each candidate's and the full-scale "
                 f"ranking of those configurations, with {_level(summary)} intervals; cost factor: full over "
                 f"candidate, measured in {c['cost_by']}. Target: {c['criterion']} >= {c['target']:g}, judged by "
                 "its interval's lower bound.")
    calib = calibration_table(summary)
    if len(calib):
        doc.add("table", table=calibration_cells(calib))
    else:
        doc.add("p", NO_PAIR)
    doc.add("p", ceiling_sentence(story))
    doc.add("p", f"{chosen_sentence(c)} {c['reason']}")
    doc.add("h3", "Verification")
    doc.add("p", verification_sentence(summary))
    if found := calibration_final_sentence(summary, label):
        doc.add("p", found)
    table = verification_table(summary)
    if len(table):
        doc.add("table", table=verification_cells(table, label, _searched(summary)))
    doc.add("figure", "proxy vs full: calibration (left) and verified configurations (right)", name="auto_proxy.png",
            figure=functools.partial(plot_proxy_vs_full, story, label))
    if found := notes(story):
        doc.add("list", items=found)
    doc.add("p", "The sections below take the study's runs as one set, every phase pooled (calibration, search "
                 "and verification alike).")


def _level(summary: dict[str, Any]) -> str:
    levels = {r.get("confidence_level") for r in summary["candidates"]} - {None}
    methods = {r.get("ci_method") for r in summary["candidates"]} - {None}
    return " ".join([*(f"{float(lv):.0%}" for lv in sorted(levels)), *sorted(map(str, methods))]) or NA


def terminal_lines(story: Story, label: Label) -> list[str]:
    """What ``budgetsweep-report`` prints for the study, before the pooled tables."""
    summary = story.summary
    if summary is None:
        return ["Auto-proxy: no completed calibration run yet."]
    calib = calibration_table(summary)
    lines = [budget_sentence(summary), "", "Auto-proxy calibration:",
             calibration_cells(calib).drop(columns="reduction").to_string() if len(calib) else NO_PAIR,
             chosen_sentence(summary["choice"]), "", verification_sentence(summary)]
    lines += [found] if (found := calibration_final_sentence(summary, label)) else []
    table = verification_table(summary)
    if len(table):
        lines.append(verification_cells(table, label, _searched(summary)).to_string())
    return lines + [""]


def tables(story: Story) -> dict[str, pd.DataFrame]:
    """The raw tables written as CSV, by file stem."""
    if story.summary is None:
        return {}
    return {"auto_proxy_calibration": calibration_table(story.summary),
            "auto_proxy_verification": verification_table(story.summary),
            "auto_proxy_budget": budget_table(story.summary)}


__all__ = ["add_section", "budget_table", "calibration_table", "plot_proxy_vs_full", "read_story", "tables",
           "terminal_lines", "verification_table"]
