"""report.md / report.html beside verdict.json, and the terminal summary: read back, values and hash."""
import base64
import html
import json
import re

import numpy as np

from budgetsweep.analysis.hypothesis_report import fmt4, terminal_summary, write_report
from budgetsweep.hypothesis import registration, verdict
from budgetsweep.hypothesis.spec import parse
from tests.hypothesis.test_verdict import BASE as SPEC
from tests.hypothesis.test_verdict import BASELINE, CANDIDATE, STUB

FULL_CANDIDATE = [0.47, 0.50, 0.48, 0.50, 0.50]


def _verdict(full_candidate=FULL_CANDIDATE):
    reg = registration.build(parse(SPEC, text=json.dumps(SPEC)), configurations=STUB)
    h = reg["registration_sha256"]
    results = [{"registration": h, "scale": scale, "arm": arm, "seed": s, "value": v}
               for scale, cand in (("proxy", CANDIDATE), ("full", full_candidate))
               for s, b, c in zip(SPEC["seeds"], BASELINE, cand) for arm, v in (("baseline", b), ("candidate", c))]
    return verdict.build(reg, results)


def test_report_files_carry_the_verdict_first_the_numbers_the_pairs_plot_and_the_hash(tmp_path):
    v = _verdict()
    verdict.write(tmp_path, v)
    md_path, html_path = write_report(tmp_path, v)
    assert (md_path, html_path) == (tmp_path / "report.md", tmp_path / "report.html")
    md, page = md_path.read_text(), html_path.read_text()
    proxy = v["scales"]["proxy"]
    assert md.splitlines()[0] == f"**{v['sentence']}**"  # the verdict sentence first
    assert v["registration_sha256"] in md and v["registration_sha256"] in page
    mean = np.mean(np.array(BASELINE) - np.array(CANDIDATE))  # 0.048
    lo, hi = proxy["effect"]["ci"]
    row = f"| interval | {fmt4(lo)} to {fmt4(hi)} (90.00% CI) |"
    assert f"| mean improvement | {fmt4(mean)} |" in md and fmt4(mean) == "0.04800" and row in md
    assert f"| paired t p | {fmt4(proxy['p_values']['paired_t'])} |" in md
    assert "| sign-flip p | 0.03125 |" in md  # 1/32: every proxy pair improves
    mde = proxy["mde"]
    assert f"| minimum detectable effect | {fmt4(mde['value'])} (d_z {fmt4(mde['cohens_dz'])}, power 0.8000) |" in md
    # per-seed pairs, in registered order, with their values
    assert re.search(r"\| 7 \| 0\.5000 \| 0\.4500 \| 0\.05000 \|", md)
    assert "ratio full / proxy" in md and "Transfer" in md
    # the pairs plot of each scale: a PNG file for the Markdown, inlined in the HTML
    for scale in ("proxy", "full"):
        png = (tmp_path / "figures" / f"pairs_{scale}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and f"figures/pairs_{scale}.png" in md
        assert base64.b64encode(png).decode() in page
    assert page.index(html.escape(v["sentence"])) < page.index("<h1>")


def test_terminal_summary_has_the_sentence_first_and_key_numbers_at_4_significant_digits():
    v = _verdict()
    lines = terminal_summary(v).splitlines()
    assert lines[0] == v["sentence"]
    proxy = next(ln for ln in lines if ln.strip().startswith("proxy:"))
    assert "mean improvement 0.04800" in proxy and "sign-flip p 0.03125" in proxy
    assert f"paired t p {fmt4(v['scales']['proxy']['p_values']['paired_t'])}" in proxy
    assert lines[-1].strip() == f"registration sha256 {v['registration_sha256']}"
    assert any(ln.strip().startswith("transfer: same sign yes") for ln in lines)


def test_undefined_numbers_show_as_na_not_as_a_collapsed_interval(tmp_path):
    v = _verdict(full_candidate=[b - 0.02 for b in BASELINE])  # a constant gain at full scale
    full = v["scales"]["full"]
    assert full["degenerate"] == "constant" and full["effect"]["ci"] == [None, None]
    md = write_report(tmp_path, v)[0].read_text()
    assert "| interval | n/a (undefined: see the notes) |" in md and "| paired t p | n/a |" in md
    assert "zero variance" in md
    assert "full: supported" in terminal_summary(v) and "interval n/a" in terminal_summary(v)
