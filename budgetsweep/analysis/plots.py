"""Figures of a report, drawn with matplotlib's Agg canvas (no pyplot, no display, no global state).

matplotlib is imported when figures are drawn, not with this module (about 0.5 CPU seconds): a
report written without figures (CSV only), the other budgetsweep-report paths and every other
user of ``budgetsweep.analysis`` never pay for it.
"""
from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100
MAX_LABEL = 38  # characters of a strategy label shown in a figure


def import_matplotlib() -> None:
    """Import the parts of matplotlib the figures use, before forking renderers: the children then
    share one import instead of paying one each (about 0.5 CPU seconds apiece)."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.collections  # noqa: F401
    import matplotlib.figure  # noqa: F401
    import matplotlib.lines  # noqa: F401
    import matplotlib.ticker  # noqa: F401


def _figure(width: float, height: float, layout: str | None = None) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # fixed margins where the layout is known: the constrained layout engine doubled drawing time
    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    # fast zlib level: a report's figures are drawn once and read once; size is not the concern
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def plot_proxy_vs_full(pairs: pd.DataFrame, strategy: str, *, label_top: int = 10) -> Figure:
    """Proxy vs full objective per configuration (left, identity line, top configs labelled with
    their full rank) and proxy rank vs full rank (right, the line of perfect agreement)."""
    rows = pairs[(pairs["strategy"] == strategy) & pairs["paired"]]
    fig = _figure(10, 4.4)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.86, wspace=0.25)
    left, right = fig.subplots(1, 2)
    many = len(rows) > 200
    style = {"s": 8 if many else 28, "alpha": 0.5 if many else 0.85, "color": "tab:blue"}
    if rows.empty:
        for ax in (left, right):
            ax.text(0.5, 0.5, "no configuration with both proxy and full runs", ha="center", transform=ax.transAxes)
        fig.suptitle(_short(strategy))
        return fig
    if not many and (rows["proxy_n"].gt(1).any() or rows["full_n"].gt(1).any()):
        left.errorbar(rows["proxy_mean"], rows["full_mean"], xerr=rows["proxy_std"].fillna(0),
                      yerr=rows["full_std"].fillna(0), fmt="none", ecolor="0.7", lw=0.8, zorder=1)
    left.scatter(rows["proxy_mean"], rows["full_mean"], zorder=2, **style)
    both = np.concatenate([rows["proxy_mean"].to_numpy(float), rows["full_mean"].to_numpy(float)])
    lo, hi = np.nanmin(both), np.nanmax(both)
    left.plot([lo, hi], [lo, hi], ls="--", color="0.5", lw=1, label="proxy = full")
    for _, row in rows.nsmallest(label_top, "full_rank").iterrows():  # a handful of labels, not a row loop
        left.annotate(f"{row['full_rank']:g}", (row["proxy_mean"], row["full_mean"]), textcoords="offset points",
                      xytext=(4, 3), fontsize=8)
    left.set_xlabel("proxy objective (seed mean)")
    left.set_ylabel("full objective (seed mean)")
    left.legend(loc="best", fontsize=8)
    left.set_title("objective; labels: full rank", fontsize=10)
    n = len(rows)
    right.scatter(rows["proxy_rank"], rows["full_rank"], **style)
    right.plot([1, n], [1, n], ls="--", color="0.5", lw=1)
    right.set_xlabel("proxy rank (1 = best)")
    right.set_ylabel("full rank (1 = best)")
    right.set_title(f"ranks of {n} configurations", fontsize=10)
    fig.suptitle(_short(strategy))
    return fig


def frontier(cost: pd.Series, value: pd.Series) -> pd.Index:
    """Strategies no other beats on both cost reduction and fidelity, cheapest first."""
    ok = cost.notna() & value.notna()
    order = cost[ok].sort_values(ascending=False, kind="stable").index
    best_so_far = value[order].cummax().shift(1, fill_value=-math.inf)
    return order[(value[order] > best_so_far).to_numpy()]


def plot_tradeoff(table: pd.DataFrame, *, cost_by: str = "time", criterion: str = "rho",
                  threshold: float | None = None) -> Figure:
    """Fidelity (rho with its interval, or rho relative to the noise ceiling) against measured cost
    reduction, one point per strategy; the frontier joins the strategies nothing beats on both."""
    cost = table[f"cost_reduction_{cost_by}"].astype(float)
    if criterion == "rho_rel":
        scale = table["ceiling"].astype(float)
        value, low, high = table["rho_rel"], table["rho_low"] / scale, table["rho_high"] / scale
        ylabel = "Spearman rho / noise ceiling"
    else:
        value, low, high = table["rho"], table["rho_low"], table["rho_high"]
        ylabel = "Spearman rho (proxy vs full)"
    value = value.astype(float)
    fig = _figure(7.5, 4.8)
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.11, top=0.93)
    ax = fig.subplots()
    ok = cost.notna() & value.notna() & (cost > 0)
    xerr_ok = ok & low.notna() & high.notna()
    ax.errorbar(cost[xerr_ok], value[xerr_ok],
                yerr=[(value - low)[xerr_ok].clip(lower=0), (high - value)[xerr_ok].clip(lower=0)],
                fmt="none", ecolor="0.6", lw=1, capsize=3)
    ax.scatter(cost[ok], value[ok], s=40, color="tab:blue", zorder=3)
    chosen = table.get("recommended", pd.Series(False, index=table.index)).astype(bool) & ok
    if chosen.any():
        ax.scatter(cost[chosen], value[chosen], s=160, marker="*", color="tab:orange", zorder=4, label="recommended")
    front = frontier(cost[ok], value[ok])
    if len(front) > 1:
        ax.plot(cost[front], value[front], color="tab:blue", lw=1, alpha=0.6, label="frontier")
    if ok.any():
        middle = np.sqrt(cost[ok].min() * cost[ok].max())  # log scale: labels of the right half go left
    for name in table.index[ok]:
        right = bool(cost[name] > middle)
        ax.annotate(_short(str(name)), (cost[name], value[name]), textcoords="offset points",
                    xytext=(-5, 4) if right else (5, 4), ha="right" if right else "left", fontsize=8)
    if threshold is not None:
        ax.axhline(threshold, ls="--", color="tab:red", lw=1, label=f"threshold {threshold:g}")
    if ok.any():
        ax.set_xscale("log")
        ax.margins(x=0.2)  # room for the labels of the outermost points
        from matplotlib.ticker import FuncFormatter

        times = FuncFormatter(lambda v, _: f"{v:g}x")
        ax.xaxis.set_major_formatter(times)
        ax.xaxis.set_minor_formatter(times)
    ax.set_xlabel(f"measured cost reduction, {cost_by} (full / proxy)")
    ax.set_ylabel(ylabel)
    missing = int((~ok).sum())
    ax.set_title("fidelity vs cost" + (f" ({missing} strategies without a cost or rho not shown)" if missing else ""),
                 fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    return fig


def has_curves(curves: pd.DataFrame, metric: str) -> bool:
    """Whether ``plot_learning_curves`` draws a figure: the histories hold a value of ``metric``."""
    return not curves.empty and metric in curves.columns and bool(curves[metric].notna().any())


def plot_learning_curves(curves: pd.DataFrame, metric: str, config_order: list[str], strategies: list[str],
                         *, legend_title: str = "config", names: dict[str, str] | None = None) -> Figure | None:
    """One panel per strategy; a line per run of the given configurations, coloured by configuration
    (same colour in every panel), named in the legend by ``names`` (config key -> label). None when
    the histories lack ``metric``."""
    if not has_curves(curves, metric):
        return None
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    x = "examples" if "examples" in curves.columns and curves["examples"].notna().any() else "step"
    panels = [s for s in strategies if (curves["reduction_label"] == s).any()]
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    # fixed margins with room for the legend on the right: the constrained layout engine took
    # most of the drawing time of a large report
    width, legend_width = 4.2 * cols, 2.8
    fig = _figure(width + legend_width, 3.4 * rows)
    fig.subplots_adjust(left=0.9 / (width + legend_width), right=(width - 0.1) / (width + legend_width),
                        bottom=0.5 / (3.4 * rows) + 0.02, top=1 - 0.35 / (3.4 * rows), wspace=0.35, hspace=0.45)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    colors = {key: f"C{i % 10}" for i, key in enumerate(config_order)}
    data = curves.dropna(subset=[metric, x]).sort_values(["path", x])
    for ax, strategy in zip(axes, panels):
        part = data[data["reduction_label"] == strategy]
        # every run of the panel in one LineCollection: one artist, not one Line2D per run
        runs = part.groupby(["config_key", "path"], sort=False).indices
        xs, ys, keys = part[x].to_numpy(float), part[metric].to_numpy(float), [k for k, _ in runs]
        segments = [np.column_stack([xs[i], ys[i]]) for i in runs.values()]
        line_colors = [colors.get(k, "0.5") for k in keys]
        ax.add_collection(LineCollection(segments, colors=line_colors, linewidths=1.2, alpha=0.8))
        single = [i for i, seg in enumerate(segments) if len(seg) == 1]  # one evaluation: a dot, not a line
        if single:
            ax.scatter([segments[i][0, 0] for i in single], [segments[i][0, 1] for i in single], s=12, alpha=0.8,
                       c=[line_colors[i] for i in single])
        ax.autoscale_view()
        ax.set_title(_short(strategy), fontsize=9)
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    names = names or {}
    handles = [Line2D([], [], color=colors[k], label=_short(f"#{i + 1} {names.get(k, k)}"))
               for i, k in enumerate(config_order)]
    fig.legend(handles=handles, loc="upper right", fontsize=8, title=legend_title)
    return fig
