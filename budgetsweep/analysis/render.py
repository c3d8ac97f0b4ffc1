"""Report documents: a list of blocks rendered to Markdown (figures as PNG files beside it) or to
one self-contained HTML file (figures inlined as base64 data URIs, CSS inline, no scripts).

Markdown tables are written here, so no table library is needed.
"""
from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

NA = "n/a"


@dataclass(frozen=True)
class Block:
    """One piece of a report: kind is h1, h2, h3, p, verdict (the answer, shown first and bold),
    list, table or figure."""

    kind: str
    text: str = ""
    items: Sequence[str] = ()
    table: pd.DataFrame | None = None  # cells already formatted as strings
    png: bytes = b""
    name: str = ""  # figure file name
    # a matplotlib Figure, or a callable that draws one, not yet rendered to ``png`` (report.render_figures)
    figure: object = None

    KINDS = ("h1", "h2", "h3", "p", "verdict", "list", "table", "figure")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"block kind={self.kind!r}; allowed: {self.KINDS}")


@dataclass
class Document:
    blocks: list[Block] = field(default_factory=list)

    def add(self, kind: str, text: str = "", **kw: object) -> None:
        self.blocks.append(Block(kind, text, **kw))  # type: ignore[arg-type]


# ----- cell formatting (shared by Markdown and HTML, so both show the same numbers) -----

def fmt_sig(v: float, digits: int = 3) -> str:
    """``v`` at ``digits`` significant digits, without losing integer digits: 0.0081 -> 0.00810,
    0.9636 -> 0.964, 1234.5 -> 1,235; exponent form below 1e-4 and from 1e6."""
    if v == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(v)))
    if magnitude >= 6 or magnitude < -4:
        mant, exp = f"{v:.{digits - 1}e}".split("e")
        return f"{mant}e{int(exp)}"
    if magnitude >= digits - 1:
        return f"{v:,.0f}"
    return f"{v:.{digits - 1 - magnitude}f}"


def fmt_float(digits: int = 3) -> Callable[[object], str]:
    """A cell formatter: numbers at ``digits`` significant digits, bools yes/no, NaN n/a."""
    def fmt(v: object) -> str:
        if v is None or (isinstance(v, float) and not math.isfinite(v)) or v is pd.NA:
            return NA
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        return fmt_sig(float(v), digits)  # type: ignore[arg-type]
    return fmt


def fmt_fixed(decimals: int = 2) -> Callable[[object], str]:
    """A cell formatter at a fixed number of decimals (shares, chances, correlations)."""
    def fmt(v: object) -> str:
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if v is None or v is pd.NA or not math.isfinite(float(v)):  # type: ignore[arg-type]
            return NA
        return f"{float(v):.{decimals}f}"  # type: ignore[arg-type]
    return fmt


def fmt_times(v: object) -> str:
    """A cost reduction factor, e.g. 12.3x."""
    if v is None or v is pd.NA or not math.isfinite(float(v)):  # type: ignore[arg-type]
        return NA
    v = float(v)  # type: ignore[arg-type]
    return f"{v:.1f}x" if v < 1000 else f"{v:,.0f}x"


def fmt_interval(value: float, low: float, high: float, digits: int = 3) -> str:
    """A correlation and its interval at ``digits`` decimals: 0.912 [0.874, 0.951]."""
    def f(v: float) -> str:
        return f"{v:.{digits}f}" if math.isfinite(v) else NA
    if not (math.isfinite(low) and math.isfinite(high)):
        return f(value)
    return f"{f(value)} [{f(low)}, {f(high)}]"


def format_table(df: pd.DataFrame, formats: Mapping[str, Callable[[object], str]] | None = None,
                 default: Callable[[object], str] | None = None) -> pd.DataFrame:
    """Every cell as a string: per-column formatter, else ``default`` (3 decimals for numbers)."""
    formats = dict(formats or {})
    default = default or fmt_float(3)
    if isinstance(df.index, pd.MultiIndex):  # (group..., strategy): the groups as leading columns
        levels = [str(n) for n in df.index.names[:-1]]
        df = df.reset_index(level=list(range(df.index.nlevels - 1)))
        df.columns = [*levels, *df.columns[len(levels):]]
        formats.update({name: str for name in levels})
    out = pd.DataFrame(index=df.index.astype(str))
    out.index.name = df.index.name
    for col in df.columns:
        f = formats.get(col, default)
        out[str(col)] = [f(v) if not isinstance(v, str) else v for v in df[col].tolist()]
    return out


# ----- Markdown -----

def _md_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(df: pd.DataFrame, index: bool = True) -> str:
    """A GitHub-flavoured Markdown table of string cells."""
    cols = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(_md_cell(c) for c in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for label, row in zip(df.index, df.itertuples(index=False)):
        cells = ([label] if index else []) + list(row)
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def to_markdown(doc: Document, figure_dir: str = "figures") -> tuple[str, dict[str, bytes]]:
    """(Markdown text, {relative file name: PNG bytes}) for the figures it links."""
    out: list[str] = []
    files: dict[str, bytes] = {}
    for b in doc.blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append("#" * int(b.kind[1]) + " " + b.text)
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "verdict":
            out.append(f"**{b.text}**")
        elif b.kind == "list":
            out.append("\n".join(f"- {item}" for item in b.items))
        elif b.kind == "table":
            out.append(markdown_table(b.table if b.table is not None else pd.DataFrame()))
        elif b.kind == "figure":
            rel = f"{figure_dir}/{b.name}"
            files[rel] = b.png
            out.append(f"![{b.text}]({rel})")
    return "\n\n".join(out) + "\n", files


# ----- HTML -----

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; display: block; overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
td { white-space: nowrap; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; }
.verdict { font-size: 1.15em; padding: 0.6em 0.9em; background: #eef5ff; border-left: 4px solid #3a7bd5; }
"""


def to_html(doc: Document, title: str) -> str:
    """One HTML file with everything inside it: no external stylesheet, script or image."""
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>"]
    for b in doc.blocks:
        if b.kind in ("h1", "h2", "h3"):
            parts.append(f"<{b.kind}>{html.escape(b.text)}</{b.kind}>")
        elif b.kind == "p":
            parts.append(f"<p>{html.escape(b.text)}</p>")
        elif b.kind == "verdict":
            parts.append(f"<p class=\"verdict\" id=\"verdict\"><strong>{html.escape(b.text)}</strong></p>")
        elif b.kind == "list":
            items = "".join(f"<li>{html.escape(i)}</li>" for i in b.items)
            parts.append(f"<ul>{items}</ul>")
        elif b.kind == "table":
            table = b.table if b.table is not None else pd.DataFrame()
            # the index as a first column: one header row, as in the Markdown
            parts.append(table.reset_index().to_html(escape=True, border=0, na_rep=NA, index=False))
        elif b.kind == "figure":
            data = base64.b64encode(b.png).decode("ascii")
            parts.append(f"<figure><img alt=\"{html.escape(b.text)}\" src=\"data:image/png;base64,{data}\">"
                         f"<figcaption>{html.escape(b.text)}</figcaption></figure>")
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_document(out: Path, doc: Document, title: str, stem: str = "report") -> tuple[Path, Path]:
    """Write ``<stem>.md`` (its figures under ``figures/``) and ``<stem>.html`` in ``out``; returns both paths.
    The figures must be rendered (``report.render_figures``)."""
    text, files = to_markdown(doc)
    for rel, data in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    md, page = out / f"{stem}.md", out / f"{stem}.html"
    write_text(md, text)
    write_text(page, to_html(doc, title))
    return md, page
