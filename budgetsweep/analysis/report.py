"""The report: analyse a proxy set against a full set (or summarise one set) and write it as
Markdown, self-contained HTML and CSV tables."""
from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .compare import CRITERIA, MIN_CONFIGS_VERDICT, Recommendation, comparison_table, recommend
from . import auto_proxy_section, forked, ranks
from .fidelity import FidelitySettings
from .labels import config_labels
from .learned import learned_counts
from .load import load_curves, load_runs
from .mismatch import explain_no_overlap
from .pair import aggregate_seeds, as_columns, pair_runs, split_runs
from .plots import has_curves, import_matplotlib, plot_learning_curves, plot_proxy_vs_full, plot_tradeoff, png_bytes
from .render import (Document, fmt_fixed, fmt_float, fmt_interval, fmt_times, format_table, to_html, to_markdown,
                     write_text)
from .schema import CONFIG_PREFIX, COST_COLUMNS, FULL_LABEL, check_runs, direction_of, empty_runs, scores, usable
from .study import load_study_runs, mask_url
from .summary import cost_summary, ranking, status_counts

FORMATS = ("md", "html", "csv")
TOP_ROWS = 20  # configurations per strategy shown in a ranking table (the CSV has all)
TOP_SHOWN = 10  # best full-scale configurations named in a fidelity report
MAX_SKIPPED_LISTED = 20
MAX_TERMINAL_ROWS = 40  # per-group rows printed on the terminal; more go to the report only

if TYPE_CHECKING:
    from budgetsweep.auto_proxy.story import Story


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """Validated, de-duplicated output formats."""
    if isinstance(formats, str):
        formats = [f for f in formats.split(",") if f]
    out = tuple(dict.fromkeys(f.strip().lower() for f in formats))
    bad = ",".join(f for f in out if f not in FORMATS)
    if bad or not out:
        raise ValueError(f"format={bad or '(none)'} is not known; allowed: {', '.join(FORMATS)}")
    return out


@dataclass
class Report:
    """Everything a report shows, as DataFrames; ``write`` renders it."""

    runs: pd.DataFrame  # every run read, proxy and full (column ``role``)
    status: pd.DataFrame
    costs: pd.DataFrame
    ranking: pd.DataFrame
    comparison: pd.DataFrame | None = None
    pairs: pd.DataFrame | None = None
    recommendation: Recommendation | None = None
    curves: pd.DataFrame | None = None
    curve_configs: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # config_key -> the hyperparameters that differ
    by: list[str] = field(default_factory=list)  # grouping columns: comparison is per (group, strategy)
    # why no configuration was compared although a full set was given (None when something was)
    nothing_compared: str | None = None
    groups: pd.DataFrame | None = None  # with ``by``: the summary across groups, one row per strategy
    # a study an auto-proxy sweep ran (``auto_proxy_section.read_story``): its section comes first
    auto_proxy: Story | None = None

    @property
    def is_fidelity(self) -> bool:
        return self.comparison is not None

    def label(self, key: object) -> str:
        """A configuration as a reader names it (``lr=0.0081, hidden=512``); the key without config."""
        return self.labels.get(str(key), str(key))

    @property
    def verdict(self) -> str:
        """The answer in one sentence: an auto-proxy sweep's verified pick, the recommendation, or the best
        configuration of one set."""
        if self.auto_proxy is not None and self.auto_proxy.summary is not None:
            return str(self.auto_proxy.summary["answer"])
        if self.recommendation is not None:
            return self.recommendation.text
        if self.ranking.empty:
            return "No completed run with an objective value: nothing to rank."
        best = self.ranking.iloc[0]
        n_configs = int((self.ranking["strategy"] == best["strategy"]).sum())
        return (f"Best configuration ({best['strategy']}): {self.label(best['config_key'])}, "
                f"{self.objective_name or 'objective'} {fmt_float(4)(best['mean'])} (mean of {int(best['n'])} "
                f"seed(s)); {n_configs} configurations ranked.")

    def strategy_table(self) -> pd.DataFrame:
        """The strategy table as shown (cells formatted), one row per strategy; empty in a summary."""
        if self.comparison is None:
            return pd.DataFrame()
        return _strategy_cells(self.comparison, str(self.settings.get("cost_by", "time")))

    def terminal_text(self) -> str:
        """What budgetsweep-report prints: the verdict, then the strategy table (or the top of the
        ranking in a summary)."""
        lines = [self.verdict, ""]
        if self.auto_proxy is not None:
            lines += auto_proxy_section.terminal_lines(self.auto_proxy, self.label)
            lines += ["Every phase's runs pooled:"]
        if note := not_learned_note(self.runs):
            lines += [note, ""]
        if self.groups is not None and len(self.groups):
            lines += [f"Across groups ({', '.join(self.by)}):", group_cells(self.groups).to_string(), ""]
            if len(self.comparison) <= MAX_TERMINAL_ROWS:  # type: ignore[arg-type]
                lines += ["Per group:", self.strategy_table().to_string()]
            else:
                lines.append(f"Per group: {len(self.comparison)} rows, in the report.")  # type: ignore[arg-type]
        elif self.comparison is not None and len(self.comparison):
            lines.append(self.strategy_table().to_string())
        elif not self.ranking.empty:
            top = self.ranking.head(5)
            shown = pd.DataFrame({"strategy": top["strategy"].to_numpy(),
                                  "config": [self.label(k) for k in top["config_key"]],
                                  "mean": [fmt_float(4)(v) for v in top["mean"]], "n": top["n"].to_numpy()},
                                 index=pd.Index(top["rank"].to_numpy(), name="rank"))
            lines.append(shown.to_string())
        return "\n".join(lines)

    def _reference(self) -> pd.DataFrame:
        """Usable runs of the full set (of the one set, in a summary)."""
        ref = self.runs[self.runs["role"] == "full"] if self.is_fidelity else self.runs
        return ref[usable(ref)]

    @property
    def objective(self) -> str:
        """The objective as shown: name (direction)."""
        ref = self._reference()
        names = ref["objective_name"].dropna().unique()
        direction = ref["objective_direction"].dropna().unique()
        if len(names) == 0:
            return "unknown"
        return f"{' / '.join(map(str, names))} ({' / '.join(map(str, direction))})"

    @property
    def objective_name(self) -> str | None:
        """The metric the learning curves show: the reference set's objective."""
        names = self._reference()["objective_name"].dropna()
        return str(names.iloc[0]) if len(names) else None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables written as CSV, by file stem."""
        out = {"runs": self.runs, "status": self.status, "costs": self.costs, "ranking": self.ranking}
        if self.comparison is not None:
            out["fidelity"] = self.comparison
        if self.groups is not None:
            out["groups"] = self.groups
        if self.pairs is not None:
            out["pairs"] = self.pairs
        if self.auto_proxy is not None:
            out.update(auto_proxy_section.tables(self.auto_proxy))
        return out

    def document(self) -> Document:
        """The report as blocks, figures rendered to PNG."""
        if self.groups is not None:
            doc = _grouped_document(self)
        else:
            doc = _fidelity_document(self) if self.is_fidelity else _summary_document(self)
        return render_figures(doc)

    def write(self, out_dir: str | os.PathLike, formats: Iterable[str] = ("md", "html")) -> Path:
        """Write report.md (+ figures/), report.html and/or tables/*.csv under ``out_dir``; returns it."""
        formats = check_formats(formats)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        title = "budgetsweep fidelity report" if self.is_fidelity else "budgetsweep run report"
        if "md" in formats or "html" in formats:
            doc = self.document()
            if "md" in formats:
                text, files = to_markdown(doc)
                for rel, data in files.items():
                    (out / rel).parent.mkdir(parents=True, exist_ok=True)
                    (out / rel).write_bytes(data)
                write_text(out / "report.md", text)
            if "html" in formats:
                write_text(out / "report.html", to_html(doc, title))
        if "csv" in formats:
            (out / "tables").mkdir(exist_ok=True)
            for stem, table in self.tables().items():
                index = not isinstance(table.index, pd.RangeIndex)
                table.to_csv(out / "tables" / f"{stem}.csv", index=index)
        return out


PARALLEL_FIGURES = 4  # figures from which their rendering is shared by processes
_PENDING: list = []  # the figures a forked renderer reads (inherited, not sent)


def _png(figure: object) -> bytes:
    """PNG bytes of a figure, or of the figure a callable draws (``functools.partial`` of a plot)."""
    return png_bytes(figure() if callable(figure) else figure)


def _render_one(i: int) -> bytes:
    return _png(_PENDING[i])


def render_figures(doc: Document) -> Document:
    """Render every figure block to PNG bytes. With several figures and CPUs, in forked processes
    (at most 4): drawing with Agg is CPU-bound Python, half a second for a 1,000-point figure,
    and figures are independent. The figures stay in the parent; children inherit them. A
    figure block may hold a callable that draws its figure: then drawing happens in the child too."""
    global _PENDING
    todo = [i for i, b in enumerate(doc.blocks) if b.kind == "figure" and b.figure is not None]
    figures = [doc.blocks[i].figure for i in todo]
    workers = min(forked.cpus(), 4, len(figures))
    if workers >= 2 and len(figures) >= PARALLEL_FIGURES and forked.can_fork():
        _PENDING = figures
        import_matplotlib()  # once, here: forked renderers inherit it
        try:
            with forked.pool(workers) as pool:
                pngs = list(pool.map(_render_one, range(len(figures))))
        finally:
            _PENDING = []
    else:
        pngs = [_png(f) for f in figures]
    for i, png in zip(todo, pngs):
        doc.blocks[i] = replace(doc.blocks[i], png=png, figure=None)
    return doc


# ----- analysis -----

def _skipped(*frames: pd.DataFrame | None) -> list[str]:
    return [p for f in frames if f is not None for p in f.attrs.get("skipped_files", [])]


def _top_configs(runs: pd.DataFrame, n: int, agg: pd.DataFrame | None = None) -> list[str]:
    """The n best configurations by seed mean; ``agg``: ``aggregate_seeds(runs)`` when known."""
    if n <= 0 or not usable(runs).any():
        return []
    agg = aggregate_seeds(runs) if agg is None else agg.copy()
    agg["score"] = scores(agg["mean"], direction_of(runs, "runs") or "minimize")
    best = agg.sort_values(["score", "config_key"], ascending=[False, True])["config_key"]
    return best.drop_duplicates().head(n).tolist()


def resolve_by(runs: pd.DataFrame, by: str | Sequence[str] | None) -> list[str]:
    """The ``by`` names as run-frame columns: a column of that name, else the hyperparameter
    ``config.<name>`` (``task`` -> ``config.task``). ValueError names what the runs have."""
    out = []
    for name in as_columns(by):
        if name in runs.columns:
            out.append(name)
        elif f"{CONFIG_PREFIX}{name}" in runs.columns:
            out.append(f"{CONFIG_PREFIX}{name}")
        else:
            config = sorted(c[len(CONFIG_PREFIX):] for c in runs.columns if c.startswith(CONFIG_PREFIX))
            raise ValueError(f"by={name!r}: the runs have no column {name!r} and no hyperparameter "
                             f"{CONFIG_PREFIX}{name}; hyperparameters: {config[:20]}")
    return out


def _statuses(runs: pd.DataFrame) -> str:
    counts = runs["status"].fillna("unknown").value_counts()
    return ", ".join(f"{n} {status}" for status, n in counts.items()) or "none"


def why_nothing_compared(proxy: pd.DataFrame, full: pd.DataFrame, comparison: pd.DataFrame) -> str | None:
    """Why no configuration of any strategy was compared with the full set, naming what was found;
    None when at least one was."""
    if len(comparison) and comparison["configs"].sum() > 0:
        return None
    head = "Nothing was compared: "
    if not usable(full).any():
        return (head + f"no full-scale run completed with an objective value ({len(full)} full-scale runs read: "
                f"{_statuses(full)}). Rerun the full-scale configurations, or point --full at runs that finished.")
    if not usable(proxy).any():
        return (head + f"no proxy run completed with an objective value ({len(proxy)} proxy runs read: "
                f"{_statuses(proxy)}).")
    return head + explain_no_overlap(proxy[usable(proxy)], full[usable(full)])


def grouped_verdict(summary: pd.DataFrame, by: Sequence[str], *, threshold: float, criterion: str,
                    cost_by: str) -> Recommendation:
    """One sentence over groups: the strategy recommended in the most groups (then confident, then
    meeting the threshold in the most, then the higher median rho), with its counts."""
    name = "rho relative to the noise ceiling" if criterion == "rho_rel" else "Spearman rho"
    what = ", ".join(c[len(CONFIG_PREFIX):] if c.startswith(CONFIG_PREFIX) else c for c in by)
    if summary.empty:
        return Recommendation(None, f"No proxy strategy was compared in any group of {what}.", threshold, criterion,
                              cost_by)
    order = summary.sort_values(["share_recommended", "share_confident", "share_meets", "median_rho"],
                                ascending=False, kind="stable")
    best, row = order.index[0], order.iloc[0]
    n = int(row["groups"])

    def count(share: float) -> int:
        return int(round(float(share) * n))

    median = f"{row['median_rho']:.2f}" if np.isfinite(row["median_rho"]) else "n/a"
    tally = (f"recommended (interval's lower bound clears {threshold:.2f}) in {count(row['share_recommended'])} of "
             f"{n} groups of {what}, {name} >= {threshold:.2f} by its estimate in {count(row['share_meets'])} "
             f"(median rho {median})")
    stuck = count(row.get("share_did_not_learn", 0.0))
    if stuck:
        tally += (f"; in {stuck} of {n} groups most of its proxy runs did not learn (did not beat the task's "
                  f"trivial baseline), so it is not recommended there")
    if count(row["share_recommended"]) > 0:
        return Recommendation(str(best), f"Across groups: {best} is {tally}.", threshold, criterion, cost_by)
    return Recommendation(None, f"No proxy is recommended in any group of {what}; the closest, {best}, is {tally}.",
                          threshold, criterion, cost_by)


def build_report(
    proxy: pd.DataFrame,
    full: pd.DataFrame | None = None,
    *,
    threshold: float = 0.8,
    criterion: str = "rho",
    cost_by: str = "time",
    k: Sequence[int] = (1, 3, 5),
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    ci_method: str = "BCa",
    rng: int | None = 0,
    top_n: int = 5,
    sources: Sequence[str] = (),
    skipped_files: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
) -> Report:
    """Analyse run frames. With a non-empty ``full``: fidelity of every proxy strategy against it;
    otherwise a summary of ``proxy`` alone (ranking, cost, status counts).

    ``top_n`` configurations get learning curves (read from their metrics.jsonl).

    ``by``: column(s) that split the runs into independent groups (a task, a dataset): every
    strategy is compared within each group (``comparison`` indexed by (by..., strategy)), and
    ``Report.groups`` holds the summary across groups (``compare.group_summary``: median rho, the
    share of groups where each strategy meets the threshold, is confident, is recommended). A name
    that is not a column but a hyperparameter (``task`` for ``config.task``) is taken as that.
    Raises ValueError naming the columns when a ``by`` column is in neither set.
    """
    check_runs(proxy, "proxy")
    if full is not None:
        check_runs(full, "full")
    FidelitySettings(tuple(k), n_resamples, confidence_level, ci_method, rng)  # validate early
    if criterion not in CRITERIA:
        raise ValueError(f"criterion={criterion!r}; allowed: {CRITERIA}")
    skipped = list(skipped_files) if skipped_files is not None else _skipped(proxy, full)
    settings = dict(threshold=threshold, criterion=criterion, cost_by=cost_by, k=tuple(k), n_resamples=n_resamples,
                    confidence_level=confidence_level, ci_method=ci_method, rng=rng)
    fidelity_mode = full is not None and len(full) > 0
    if fidelity_mode:
        assert full is not None
        runs = pd.concat([proxy.assign(role="proxy"), full.assign(role="full")], ignore_index=True)
    else:  # one set: the role follows the label
        runs = (proxy if len(proxy) else empty_runs()).copy()
        runs["role"] = runs["reduction_label"].eq(FULL_LABEL).map({True: "full", False: "proxy"})
    report = Report(runs=runs, status=status_counts(runs), costs=cost_summary(runs), ranking=pd.DataFrame(),
                    sources=list(sources), skipped_files=skipped, settings=settings, labels=config_labels(runs))
    by_cols = resolve_by(runs, by)
    report.by = by_cols
    if fidelity_mode and by_cols:
        assert full is not None
        report.pairs = pair_runs(proxy, full, by_cols)
        fid_settings = FidelitySettings(tuple(k), n_resamples, confidence_level, ci_method, rng)
        report.comparison = comparison_table(proxy, full, fid_settings, threshold=threshold, criterion=criterion,
                                             cost_by=cost_by, by=by_cols, pairs=report.pairs)
        report.groups = report.comparison.attrs["summary"]
        report.recommendation = grouped_verdict(report.groups, by_cols, threshold=threshold, criterion=criterion,
                                                cost_by=cost_by)
        report.nothing_compared = why_nothing_compared(proxy, full, report.comparison)
        if report.nothing_compared is not None:
            report.recommendation = Recommendation(None, report.nothing_compared, threshold, criterion, cost_by)
        report.ranking = ranking(full, by_cols)
        report.curves = pd.DataFrame()
        return report
    if by_cols:  # one set: its ranking per group
        report.ranking = ranking(proxy, by_cols)
        report.curves = pd.DataFrame()
        return report
    if fidelity_mode:
        assert full is not None  # for type checkers: fidelity_mode says so
        # pair once and bootstrap once: the table, the recommendation and the figures share them
        report.pairs = pair_runs(proxy, full)
        fid_settings = FidelitySettings(tuple(k), n_resamples, confidence_level, ci_method, rng)
        report.comparison = comparison_table(proxy, full, fid_settings, threshold=threshold, criterion=criterion,
                                             cost_by=cost_by, pairs=report.pairs)
        report.recommendation = recommend(report.comparison, threshold=threshold, criterion=criterion,
                                          cost_by=cost_by)
        report.nothing_compared = why_nothing_compared(proxy, full, report.comparison)
        if report.nothing_compared is not None:
            # nothing paired: say why (the fields that differ), not just "nothing to compare"
            report.recommendation = Recommendation(None, report.nothing_compared, threshold, criterion, cost_by)
        ranked = full
    else:
        ranked = proxy
    agg = aggregate_seeds(ranked)  # once for the ranking and the curves' configurations
    report.ranking = ranking(ranked, agg=agg)
    report.curve_configs = _top_configs(ranked, top_n, agg)
    chosen = runs[runs["config_key"].isin(report.curve_configs)]
    report.curves = load_curves(chosen) if "path" in chosen.columns and len(chosen) else pd.DataFrame()
    return report


def load_sets(
    proxy_paths: Sequence[str | os.PathLike] = (),
    full_paths: Sequence[str | os.PathLike] = (),
    *,
    storage: str | None = None,
    study: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """(proxy runs, full runs, sources, skipped files) from paths and an optional Optuna study.

    Runs under ``proxy_paths`` and from the study are split by label: those labelled ``full`` join
    the full set (a multirun or a calibration study holding both scales), the others are proxies.
    Runs under ``full_paths`` are the full set; where they hold runs labelled ``full`` and runs of
    other labels (a grid over both scales), only the former are, and the others join the proxies
    (``sources`` says so). A run seen twice (same record file)
    counts once. Raises ValueError when a group of paths holds no record at all.
    """
    if (storage is None) != (study is None):
        raise ValueError(f"storage={mask_url(storage) if storage else None!r} and study={study!r}: "
                         "give both (--storage URL --study NAME) or neither")
    if not proxy_paths and not full_paths and storage is None:
        raise ValueError("nothing to read: give run directories and/or --storage URL --study NAME")
    frames_full, frames_other, sources, skipped = [], [], [], []
    for paths, target, what in ((full_paths, frames_full, "--full "), (proxy_paths, frames_other, "")):
        if not paths:
            continue
        df = load_runs(paths)
        skipped += df.attrs.get("skipped_files", [])
        if df.empty:
            extra = f" ({df.attrs['skipped']} record files were unreadable)" if df.attrs.get("skipped") else ""
            raise ValueError(f"no run records (record.json) found under {what}path(s) "
                             f"{', '.join(map(str, paths))}{extra}")
        sources += [f"{what}{p}".strip() for p in paths]
        if target is frames_full and df["reduction_label"].eq(FULL_LABEL).any() \
                and df["reduction_label"].ne(FULL_LABEL).any():
            # a grid holding both scales under --full: its runs labelled full are the reference, the others
            # are proxies compared with them (all of them the reference only when none is labelled full)
            moved, df = split_runs(df)
            frames_other.append(moved)
            labels = sorted(moved["reduction_label"].unique())
            sources.append(f"{len(moved)} runs under --full not labelled {FULL_LABEL!r} ({len(labels)} strategies: "
                           f"{', '.join(labels[:5])}{', ...' if len(labels) > 5 else ''}) compared as proxies; "
                           f"the {len(df)} runs labelled {FULL_LABEL!r} are the full set")
        target.append(df)
    if storage is not None and study is not None:
        df = load_study_runs(storage, study)
        skipped += df.attrs.get("skipped_files", [])
        frames_other.append(df)
        sources.append(f"study {study} at {mask_url(storage)}")
    other = pd.concat(frames_other, ignore_index=True) if frames_other else empty_runs()
    moved_proxy, moved_full = split_runs(other)
    both = pd.concat([f.assign(role="full") for f in frames_full + [moved_full]] + [moved_proxy.assign(role="proxy")],
                     ignore_index=True)
    # the same record reached through two paths (or a path and the study) counts once, as full first
    both = both[~(both["record_path"].notna() & both["record_path"].duplicated())]
    proxy = both[both["role"] == "proxy"].drop(columns="role").reset_index(drop=True)
    full = both[both["role"] == "full"].drop(columns="role").reset_index(drop=True)
    return proxy, full, sources, skipped


def report_from_paths(
    proxy_paths: Sequence[str | os.PathLike] = (),
    full_paths: Sequence[str | os.PathLike] = (),
    *,
    storage: str | None = None,
    study: str | None = None,
    threshold: float = 0.8,
    criterion: str = "rho",
    cost_by: str = "time",
    n_resamples: int = 2000,
    rng: int | None = 0,
    top_n: int = 5,
    by: str | Sequence[str] | None = None,
) -> Report:
    """Load runs (see ``load_sets``) and analyse them (``by``: see ``build_report``): the Report,
    not yet written.

    Raises ValueError when nothing is found, FileNotFoundError for a path that does not exist.
    """
    if isinstance(proxy_paths, (str, os.PathLike)):
        proxy_paths = [proxy_paths]
    if isinstance(full_paths, (str, os.PathLike)):
        full_paths = [full_paths]
    proxy, full, sources, skipped = load_sets(proxy_paths, full_paths, storage=storage, study=study)
    if proxy.empty and full.empty:
        raise ValueError(f"no runs found in {', '.join(sources)}")
    if proxy.empty:  # only full-scale runs: summarise them
        proxy, full = full, None
    report = build_report(proxy, full, threshold=threshold, criterion=criterion, cost_by=cost_by,
                          n_resamples=n_resamples, rng=rng, top_n=top_n, sources=sources, skipped_files=skipped,
                          by=by)
    if storage is not None and study is not None:
        report.auto_proxy = auto_proxy_section.read_story(storage, study)
    return report


def write_report(
    proxy_paths: Sequence[str | os.PathLike] = (),
    full_paths: Sequence[str | os.PathLike] = (),
    out_dir: str | os.PathLike = "report",
    formats: Iterable[str] = ("md", "html"),
    *,
    storage: str | None = None,
    study: str | None = None,
    threshold: float = 0.8,
    criterion: str = "rho",
    cost_by: str = "time",
    n_resamples: int = 2000,
    rng: int | None = 0,
    top_n: int = 5,
    by: str | Sequence[str] | None = None,
) -> Path:
    """Load runs (see ``load_sets``), analyse them and write the report; returns ``out_dir``.

    ``out_dir`` then holds report.md with figures/*.png, report.html (self-contained) and/or
    tables/*.csv, by ``formats``.
    """
    formats = check_formats(formats)
    report = report_from_paths(proxy_paths, full_paths, storage=storage, study=study, threshold=threshold,
                               criterion=criterion, cost_by=cost_by, n_resamples=n_resamples, rng=rng, top_n=top_n,
                               by=by)
    return report.write(out_dir, formats)


# ----- documents -----

def _strategy_cells(table: pd.DataFrame, cost_by: str) -> pd.DataFrame:
    """The strategy table as a reader sees it: correlations with intervals, top-k, regret against the
    top configurations' seed noise, the chance the pick is worse, the cost reduction, the verdict, and
    (where any proxy run did not learn) its proxy runs that did not learn of those judged."""
    fid = pd.DataFrame(index=table.index)
    fid["configs"] = table["configs"]
    fid["rho [CI]"] = [fmt_interval(*v) for v in table[["rho", "rho_low", "rho_high"]].itertuples(index=False)]
    fid["tau [CI]"] = [fmt_interval(*v) for v in table[["tau", "tau_low", "tau_high"]].itertuples(index=False)]
    for col in [c for c in table.columns if c.startswith("top") and c[3:].isdigit()]:
        fid[col] = table[col]
    fid["regret_sd"] = table["regret_sd"]
    fid["p_worse"] = table["p_worse"]
    fid["rho_rel"] = table["rho_rel"]
    fid[f"cheaper ({cost_by})"] = table[f"cost_reduction_{cost_by}"]
    fid["meets"] = table["meets"]
    fid["confident"] = table["confident"]
    if "judged_runs" in table and table["not_learned_runs"].gt(0).any():  # the records' learned verdicts
        fid["not learned"] = [f"{int(n)}/{int(m)}" if m else "-"
                              for n, m in zip(table["not_learned_runs"], table["judged_runs"])]
    share = fmt_fixed(2)  # shares and chances in [0, 1]: two decimals, aligned
    formats = {**{c: share for c in fid.columns if c.startswith("top")}, "p_worse": share,
               "regret_sd": fmt_float(2), "rho_rel": fmt_fixed(3), f"cheaper ({cost_by})": fmt_times}
    return format_table(fid, formats)


def group_cells(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary across groups as shown: shares as fractions of groups, rho at 3 decimals."""
    share = fmt_fixed(2)
    formats = {c: share for c in summary.columns if c.startswith("share_")}
    formats.update({c: fmt_fixed(3) for c in ("median_rho", "rho_q25", "rho_q75")})
    formats.update({c: fmt_times for c in summary.columns if c.startswith("median_cost_reduction")})
    return format_table(summary, formats)


def _grouped_document(report: Report) -> Document:
    """A report per group of ``by``: the summary across groups, then every (group, strategy) row."""
    assert report.comparison is not None and report.groups is not None
    s = report.settings
    doc = Document()
    _common_head(doc, report, "budgetsweep fidelity report by " + ", ".join(report.by))
    doc.add("p", f"Criterion: {s['criterion']} >= {float(s['threshold']):.2f}, judged with its interval, in each "
                 f"group of {', '.join(report.by)} separately; cost measured by {s['cost_by']}.")
    doc.add("h2", "Across groups")
    doc.add("p", "Per strategy: groups compared, median and quartiles of rho over groups, and the share of groups "
                 "where the estimate meets the threshold (share_meets), where its interval's lower bound clears it "
                 "(share_confident) and where it is the recommended proxy (share_recommended).")
    doc.add("table", table=group_cells(report.groups))
    doc.add("h2", "Per group")
    doc.add("table", table=report.strategy_table())
    _runs_section(doc, report)
    _method_notes(doc, report)
    return doc


def _common_head(doc: Document, report: Report, title: str) -> None:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    doc.add("h1", title)
    doc.add("verdict", report.verdict)  # the answer first: a reader who stops here has it
    doc.add("p", f"Generated {now}. Objective: {report.objective}. Runs read: {len(report.runs)}; "
                 f"record files skipped as unreadable: {len(report.skipped_files)}.")
    if report.sources:
        doc.add("list", items=[f"source: {s}" for s in report.sources])
    if note := not_learned_note(report.runs):
        doc.add("p", note)
    if report.auto_proxy is not None:
        auto_proxy_section.add_section(doc, report.auto_proxy, report.label)


def not_learned_note(runs: pd.DataFrame) -> str | None:
    """One line naming the strategies with proxy runs whose record says ``learned: not_learned`` (the
    objective did not beat the task's trivial baseline: class prior, unigram entropy, mean predictor),
    with their counts; None when there are none (or the records predate the verdict)."""
    proxy = runs[runs["role"] == "proxy"] if "role" in runs.columns else runs
    counts = learned_counts(proxy)
    counts = counts[counts["not_learned_runs"] > 0]
    if not len(counts):
        return None
    found = [f"{label} ({row.not_learned_runs} of {row.judged_runs} runs)" for label, row in
             zip(counts.index.get_level_values("strategy"), counts.itertuples())]
    return ("Did not learn: proxy runs whose objective did not beat the task's trivial baseline (class prior, "
            "unigram entropy or mean predictor; the record's learned verdict), so their ranking says little: "
            + "; ".join(found) + ".")


def _runs_section(doc: Document, report: Report) -> None:
    doc.add("h2", "Runs")
    doc.add("p", "Runs per strategy and status. Only completed runs with an objective value enter the "
                 "fidelity measures; the others are counted here.")
    doc.add("table", table=format_table(report.status))
    cost_fmt = {c: fmt_float(3) for c in report.costs.columns}
    doc.add("table", table=format_table(report.costs, cost_fmt))
    if report.skipped_files:
        listed = report.skipped_files[:MAX_SKIPPED_LISTED]
        more = len(report.skipped_files) - len(listed)
        doc.add("p", f"{len(report.skipped_files)} record files were skipped as unreadable (truncated, not JSON "
                     "or of another schema version):")
        doc.add("list", items=listed + ([f"... and {more} more"] if more > 0 else []))


def _curves_section(doc: Document, report: Report, legend: str) -> None:
    metric = report.objective_name
    if not report.curve_configs or metric is None:
        return
    order = report.comparison.index.tolist() if report.comparison is not None else []
    # unique() first: a set of 100k label strings costs a pandas item access per run
    strategies = order + sorted(set(report.runs["reduction_label"].dropna().unique()) - set(order))
    if report.is_fidelity:
        full_labels = sorted(report.runs.loc[report.runs["role"] == "full", "reduction_label"].dropna().unique())
        strategies = full_labels + [s for s in strategies if s not in full_labels]
    curves = report.curves if report.curves is not None else pd.DataFrame()
    # drawn where it is rendered (a child process in a large report), like the other figures
    fig = functools.partial(plot_learning_curves, curves, metric, report.curve_configs, strategies,
                            legend_title=legend, names={k: report.label(k) for k in report.curve_configs})
    doc.add("h2", "Learning curves of the top configurations")
    if not has_curves(curves, metric):
        doc.add("p", f"No metrics.jsonl history with {metric!r} was found for the top configurations "
                     "(runs read from an Optuna storage have none).")
        return
    doc.add("figure", f"learning curves ({metric}) of the top {len(report.curve_configs)} configurations",
            figure=fig, name="learning_curves.png")


def _method_notes(doc: Document, report: Report) -> None:
    s = report.settings
    doc.add("h2", "Method")
    doc.add("list", items=[
        "Seeds are averaged per configuration (config key); proxy and full configurations are paired by key. "
        "Scores are direction-aware: rank 1 is the best for a minimised and a maximised objective alike. "
        "Scores equal within a relative 1e-9 are ties in every statistic.",
        "rho: Spearman; tau: Kendall tau-b (scipy.stats). Intervals: paired bootstrap over configurations "
        f"(scipy.stats.bootstrap, {s['ci_method']}, at least {s['n_resamples']} resamples, rng {s['rng']}, "
        f"{float(s['confidence_level']):.0%}); resamples where rho is undefined (one side all tied) are left out "
        f"and redrawn, and more are drawn (up to {ranks.MAX_RESAMPLES_FACTOR}x) until each bound's Monte Carlo "
        f"standard error is at most {ranks.MC_SE}; without resamples, the Fisher-z approximation.",
        "topk: expected share of the full top-k in the proxy's top-k; a configuration tied with the k-th best "
        "full score is in the full top-k, and proxy ties at the cut are a random pick. regret: best full score "
        "minus the full score of the proxy's pick; regret_sd: the same in seed standard deviations of the three "
        "best full-scale configurations; p_worse: the chance the pick is truly worse than the best (t test of "
        "the two seed means with that noise).",
        "Noise ceiling: rho_1 = mean Spearman between pairs of full-scale seeds; R_m = m rho_1 / (1 + (m-1) rho_1) "
        "for m seeds averaged; ceiling = sqrt(R_m); rho_rel = rho / ceiling.",
        "Cost reduction: per configuration, the mean cost of a run; then full over proxy of the means over the "
        "configurations compared (examples, wall seconds, flops); predicted = 1 / the reductions' predicted factor.",
        f"A proxy is recommended when the lower bound of its interval clears the threshold and at least "
        f"{MIN_CONFIGS_VERDICT} configurations were compared; 'meets' compares the estimate alone.",
    ])


def _top_configurations(doc: Document, report: Report) -> None:
    """The best full-scale configurations by name, with their rank under every proxy."""
    assert report.pairs is not None
    pairs = report.pairs[report.pairs["paired"]]
    if pairs.empty:
        return
    full = pairs.drop_duplicates("config_key").nsmallest(TOP_SHOWN, "full_rank", keep="all").head(TOP_SHOWN)
    shown = pd.DataFrame(index=pd.Index([report.label(k) for k in full["config_key"]], name="configuration"))
    shown["full mean"] = full["full_mean"].to_numpy()
    shown["full sd"] = full["full_std"].to_numpy()
    shown["seeds"] = full["full_n"].to_numpy()
    shown["full rank"] = full["full_rank"].to_numpy()
    ranks_by = pairs.pivot_table(index="config_key", columns="strategy", values="proxy_rank", aggfunc="first")
    for strategy in ranks_by.columns:
        shown[f"rank: {strategy}"] = ranks_by.reindex(full["config_key"])[strategy].to_numpy()
    doc.add("h2", "Top configurations at full scale")
    doc.add("p", "Configurations named by the hyperparameters that differ between them; ranks 1 = best "
                 "(ties share the average rank).")
    def fmt_rank(v: object) -> str:  # 3, or 2.5 for a tie shared by two
        return f"{float(v):g}" if v is not None and np.isfinite(float(v)) else "n/a"  # type: ignore[arg-type]

    rank_fmt = {c: fmt_rank for c in shown.columns if "rank" in c}
    doc.add("table", table=format_table(shown, {"full mean": fmt_float(4), "full sd": fmt_float(2), **rank_fmt}))


def _fidelity_document(report: Report) -> Document:
    assert report.comparison is not None and report.pairs is not None
    table = report.comparison
    s = report.settings
    doc = Document()
    _common_head(doc, report, "budgetsweep fidelity report")
    doc.add("p", f"Criterion: {s['criterion']} >= {float(s['threshold']):.2f}, judged with its interval; cost "
                 f"measured by {s['cost_by']}. Strategies sorted by measured cost reduction, largest first.")
    doc.add("h2", "Strategies")
    doc.add("table", table=report.strategy_table())
    cost = pd.DataFrame(index=table.index)
    for unit in COST_COLUMNS:
        cost[f"reduction ({unit})"] = table[f"cost_reduction_{unit}"]
    cost["predicted"] = table["predicted_reduction"]
    for col in ("proxy_runs", "full_runs", "proxy_only", "full_only", "excluded_runs"):
        cost[col] = table[col]
    cost["regret"] = table["regret"]
    cost["top seed sd"] = table["top_seed_std"]
    times = {c: fmt_times for c in cost.columns if c.startswith("reduction") or c == "predicted"}
    doc.add("p", "Cost and coverage: proxy_only / full_only are configurations left out for lack of a run at the "
                 "other scale; excluded_runs are proxy runs that did not complete. regret in objective units; "
                 "top seed sd: seed standard deviation of the three best full-scale configurations.")
    doc.add("table", table=format_table(cost, times))
    if len(table):
        # drawn where it is rendered (a child process in a large report), not here
        fig = functools.partial(plot_tradeoff, table, cost_by=str(s["cost_by"]), criterion=str(s["criterion"]),
                                threshold=float(s["threshold"]))  # type: ignore[arg-type]
        doc.add("figure", "fidelity vs measured cost reduction, one point per strategy", figure=fig,
                name="tradeoff.png")
    _top_configurations(doc, report)
    doc.add("h2", "Noise ceiling")
    ceiling = table[["seed_rho", "full_seeds", "reliability", "ceiling"]]
    if ceiling["seed_rho"].notna().any():
        doc.add("p", "Rank agreement between full-scale seeds over the configurations each strategy is compared on.")
        doc.add("table", table=format_table(ceiling))
    else:
        doc.add("p", "No noise ceiling: it needs at least two full-scale seeds per configuration (and three "
                     "configurations). Judge rho against how much full-scale seeds disagree before trusting it.")
    doc.add("h2", "Proxy vs full, per configuration")
    for i, strategy in enumerate(table.index, start=1):
        doc.add("h3", str(strategy))
        row = table.loc[strategy]
        doc.add("p", f"{int(row['configs'])} configurations compared; {int(row['proxy_only'])} with proxy runs only "
                     f"and {int(row['full_only'])} with full runs only were left out.")
        fig = functools.partial(plot_proxy_vs_full, report.pairs, str(strategy))
        doc.add("figure", f"proxy vs full objective, {strategy}", figure=fig, name=f"proxy_vs_full_{i}.png")
    _curves_section(doc, report, "config (full rank)")
    _runs_section(doc, report)
    _method_notes(doc, report)
    return doc


def _summary_document(report: Report) -> Document:
    doc = Document()
    _common_head(doc, report, "budgetsweep run report")
    doc.add("p", "One set of runs (no full-scale set given): configurations ranked by their seed-mean objective.")
    doc.add("h2", "Ranking")
    for strategy, rows in report.ranking.groupby("strategy", sort=True):
        doc.add("h3", str(strategy))
        top = rows.head(TOP_ROWS)
        shown = pd.DataFrame({"config": [report.label(k) for k in top["config_key"]], "mean": top["mean"].to_numpy(),
                              "std": top["std"].to_numpy(), "n": top["n"].to_numpy()},
                             index=pd.Index(top["rank"].to_numpy(), name="rank"))
        for col in ("examples", "wall_seconds", "flops"):
            if col in top and top[col].notna().any():
                shown[col] = top[col].to_numpy()
        doc.add("table", table=format_table(shown, {"mean": fmt_float(4), "std": fmt_float(2)}))
        if len(rows) > TOP_ROWS:
            doc.add("p", f"Top {TOP_ROWS} of {len(rows)} configurations (all of them in tables/ranking.csv).")
    _curves_section(doc, report, "config (rank)")
    _runs_section(doc, report)
    return doc
