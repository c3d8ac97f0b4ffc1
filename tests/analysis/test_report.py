from __future__ import annotations

import base64
import re
import shutil
import subprocess

import pandas as pd
import pytest

from budgetsweep.analysis import build_report, compare_strategies, load_runs, split_runs, write_report


def _assert_self_contained(html: str) -> None:
    assert 'src="http' not in html and "src='http" not in html
    assert "<link" not in html.lower() and "<script" not in html.lower()
    assert "url(" not in html  # no external resources in CSS either
    sources = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert sources, "the report has figures"
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_fidelity_report_writes_markdown_html_and_csv(tmp_path, study_dirs):
    proxy_dir, full_dir, expected = study_dirs
    out = write_report([proxy_dir], [full_dir], tmp_path / "out", ("md", "html", "csv"), n_resamples=200)

    assert out == tmp_path / "out"
    md = (out / "report.md").read_text()
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (out / link).read_bytes()[:4] == b"\x89PNG"
    assert "figures/tradeoff.png" in md and "figures/learning_curves.png" in md
    assert "Recommended proxy: data_subset(fraction=0.1)" in md
    _assert_self_contained((out / "report.html").read_text())

    table = pd.read_csv(out / "tables" / "fidelity.csv", index_col="strategy")
    proxy, full = load_runs(proxy_dir), load_runs(full_dir)
    ref = compare_strategies(proxy, full, n_resamples=200)
    assert table.index.tolist() == ref.index.tolist()
    pd.testing.assert_series_equal(table["rho"], ref["rho"], check_names=False)
    pd.testing.assert_series_equal(table["rho_high"], ref["rho_high"], check_names=False)
    assert table.loc["data_subset(fraction=0.1)", "cost_reduction_time"] == pytest.approx(10.0)
    ranking = pd.read_csv(out / "tables" / "ranking.csv")
    assert ranking.set_index("config_key")["mean"].to_dict() == pytest.approx(expected)
    runs = pd.read_csv(out / "tables" / "runs.csv")
    assert len(runs) == 12 * 3 + 12 * 2 * 2


def test_run_counts_and_skipped_files_are_in_the_report(tmp_path, study_dirs, write_run, make_record,
                                                         fast_figures):
    proxy_dir, full_dir, _ = study_dirs
    write_run(proxy_dir, make_record("cfg00", "data_subset(fraction=0.1)", seed=9, value=None, status="failed"))
    bad = write_run(proxy_dir, make_record("x")) / "record.json"
    bad.write_text('{"schema_version": 1, "sta')
    with pytest.warns(UserWarning, match="record.json"):
        out = write_report([proxy_dir], [full_dir], tmp_path / "out", ["md"], n_resamples=0)
    md = (out / "report.md").read_text()
    assert "record files skipped as unreadable: 1" in md and str(bad.resolve()) in md
    assert "| data_subset(fraction=0.1) | 24 | 1 | 25 |" in md  # completed, failed, total


def test_one_set_report_ranks_configurations(tmp_path, study_dirs, fast_figures):
    proxy_dir, _, _ = study_dirs
    out = write_report([proxy_dir / "multirun" / "0"], (), tmp_path / "out", ("md", "html"))
    md = (out / "report.md").read_text()
    assert md.startswith("# budgetsweep run report")
    assert "## Ranking" in md and "Recommendation" not in md
    # best of the faithful proxy is cfg00 (lowest loss), shown first with rank 1, named by its lr
    assert re.search(r"\| 1 \| lr=0\.001 \| 1\.500", md)
    assert md.split("\n")[2].startswith("**Best configuration (data_subset(fraction=0.1)): lr=0.001, val_loss 1.500")
    _assert_self_contained((out / "report.html").read_text())


def test_mixed_multirun_is_split_by_label(tmp_path, study_dirs):
    # proxy and full runs under one folder (a grid over reduction=full,data_subset): no --full needed
    proxy_dir, full_dir, _ = study_dirs
    out = write_report([proxy_dir, full_dir], (), tmp_path / "out", ["csv"], n_resamples=0)
    table = pd.read_csv(out / "tables" / "fidelity.csv", index_col="strategy")
    assert sorted(table.index) == ["data_subset(fraction=0.1)", "short_schedule(fraction=0.05)"]


def test_build_report_without_full_is_a_summary(study_dirs):
    proxy_dir, full_dir, _ = study_dirs
    runs = load_runs([proxy_dir, full_dir])
    proxy, full = split_runs(runs)
    assert build_report(proxy, full.iloc[0:0]).comparison is None
    report = build_report(proxy, full, n_resamples=0, top_n=2)
    assert report.is_fidelity and report.curve_configs == ["cfg00", "cfg01"]
    assert set(report.curves["config_key"]) == {"cfg00", "cfg01"}
    assert set(report.tables()) == {"runs", "status", "costs", "ranking", "fidelity", "pairs"}


def test_unknown_format_is_rejected_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="format=pdf is not known; allowed: md, html, csv"):
        write_report([tmp_path / "does-not-matter"], (), tmp_path / "out", ["md", "pdf"])


def test_html_opens_with_the_verdict(tmp_path, study_dirs, fast_figures):
    proxy_dir, full_dir, _ = study_dirs
    out = write_report([proxy_dir], [full_dir], tmp_path / "out", ["html"], n_resamples=0)
    html = (out / "report.html").read_text()
    body = html.split("<body>", 1)[1]
    assert re.match(r'\s*<h1>budgetsweep fidelity report</h1>\s*<p class="verdict" id="verdict"><strong>'
                    r'Recommended proxy: data_subset\(fraction=0\.1\)', body)


@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
                    reason="needs a headless Chromium (apt-get install chromium)")
def test_html_in_a_headless_browser(tmp_path, study_dirs):
    proxy_dir, full_dir, _ = study_dirs
    out = write_report([proxy_dir], [full_dir], tmp_path / "out", ["html"], n_resamples=0)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    shot = tmp_path / "shot.png"
    proc = subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,900",
                           f"--screenshot={shot}", "--dump-dom", (out / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    # the page the browser built: the verdict right under the title, every figure decoded
    first = re.search(r"<h1>[^<]*</h1>\s*<p[^>]*><strong>([^<]*)</strong>", dom)
    assert first and first.group(1).startswith("Recommended proxy: data_subset(fraction=0.1)")
    assert dom.count("<img") == 4 and "data:image/png;base64," in dom


def test_ranking_treats_float_ties_as_ties(runs, make_record):
    from budgetsweep.analysis import ranking

    # the same score over 1, 5 and 7 seeds: means 0.9636, 0.9635999999999999, 0.9635999999999998
    records = [make_record(k, "full", s, 0.9636, direction="maximize") for k, n in (("a", 1), ("b", 5), ("c", 7))
               for s in range(n)] + [make_record("d", "full", 0, 0.5, direction="maximize")]
    table = ranking(runs(records)).set_index("config_key")
    assert table["rank"].to_dict() == {"a": 1, "b": 1, "c": 1, "d": 4}


def test_cost_summary_counts_the_runs_its_means_are_over(runs, make_record):
    from budgetsweep.analysis import cost_summary

    records = [make_record("a", "full", 0, 0.5, examples=1600), make_record("b", "full", 0, 0.6, examples=1600),
               make_record("c", "full", 0, None, status="budget_stopped", examples=896),
               make_record("d", "full", 0, None, status="budget_stopped", examples=896)]
    row = cost_summary(runs(records)).loc["full"]
    assert (row["runs"], row["completed"]) == (4, 2)
    assert (row["total_examples"], row["mean_examples"]) == (4992, 1600)  # total over all, mean over completed
    stopped = cost_summary(runs(records[2:])).loc["full"]
    assert (stopped["runs"], stopped["completed"], stopped["total_examples"]) == (2, 0, 1792)


def test_figures_rendered_by_processes_equal_those_rendered_in_one(study_dirs, monkeypatch):
    import budgetsweep.analysis.report as report_module

    proxy_dir, full_dir, _ = study_dirs
    report = build_report(load_runs(proxy_dir), load_runs(full_dir), n_resamples=0)
    monkeypatch.setattr(report_module, "PARALLEL_FIGURES", 10**6)  # never in processes
    alone = [b.png for b in report.document().blocks if b.kind == "figure"]
    monkeypatch.setattr(report_module, "PARALLEL_FIGURES", 1)
    shared = [b.png for b in report.document().blocks if b.kind == "figure"]
    assert len(alone) >= 4 and all(p.startswith(b"\x89PNG") for p in alone)
    assert shared == alone


def test_report_counts_a_seed_run_with_two_how_not_what_settings_once(tmp_path, write_run, make_record,
                                                                      fast_figures):
    # new-user check: 2 seeds, each run at two train.eval_budget_share values, were "mean of 4 seed(s)"
    for key, base in (("a", 1.0), ("b", 2.0)):
        for seed in (0, 1):
            for share in (0.1, 0.3):
                write_run(tmp_path / "runs", make_record(key, "full", seed, base + 0.1 * seed,
                                                         config={"optim.lr": base / 100,
                                                                 "train.eval_budget_share": share}))
    from budgetsweep.analysis.report import report_from_paths

    report = report_from_paths([tmp_path / "runs"], n_resamples=0)
    assert "(mean of 2 seed(s))" in report.verdict
    assert report.ranking["n"].tolist() == [2, 2]
    assert report.status.loc["full", "completed"] == 8  # the runs themselves are all counted as runs
