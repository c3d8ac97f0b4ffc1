"""The auto-proxy section appears only for an auto-proxy study: a plain study's report is what it was
(the auto-proxy study itself: tests/auto_proxy/test_auto_proxy_report.py, on a real sweep)."""
from __future__ import annotations

import re

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import create_trial

from budgetsweep.analysis.render import to_html, to_markdown
from budgetsweep.analysis.report import build_report, load_sets, report_from_paths

PROXY = "data_subset(fraction=0.1)"

GENERATED = re.compile(r"Generated \S+\.")  # the one line that differs between two reports of the same runs


def _plain_study(tmp_path, write_run, make_record) -> str:
    url = f"sqlite:///{tmp_path / 's.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=url, study_name="plain")
    for i in range(6):
        for label, value in (("full", float(i)), (PROXY, float(i) * 2 + (i % 2))):
            job = write_run(tmp_path / "jobs", make_record(f"c{i}", label, 0, value))
            study.add_trial(create_trial(value=value, params={"lr": 0.1 * (i + 1)},
                                         distributions={"lr": FloatDistribution(0.01, 1.0)},
                                         user_attrs={"record_path": str(job / "record.json"),
                                                     "reduction_label": label, "config_key": f"c{i}"}))
    return url


def test_a_plain_study_report_is_unchanged(tmp_path, write_run, make_record, fast_figures):
    url = _plain_study(tmp_path, write_run, make_record)
    report = report_from_paths(storage=url, study="plain", n_resamples=0)
    assert report.auto_proxy is None
    # the same report as the analysis of the study's runs alone, block for block
    proxy, full, sources, skipped = load_sets(storage=url, study="plain")
    plain = build_report(proxy, full, n_resamples=0, sources=sources, skipped_files=skipped)
    got, want = report.document(), plain.document()
    assert [b.kind for b in got.blocks] == [b.kind for b in want.blocks]
    md_got, md_want = to_markdown(got)[0], to_markdown(want)[0]
    assert GENERATED.sub("", md_got) == GENERATED.sub("", md_want) and "Auto-proxy" not in md_got
    assert GENERATED.sub("", to_html(got, "t")) == GENERATED.sub("", to_html(want, "t"))
    assert report.terminal_text() == plain.terminal_text()
    assert report.tables().keys() == plain.tables().keys() and not any("auto_proxy" in k for k in report.tables())
    assert report.verdict == plain.verdict and report.verdict.startswith(("Recommended", "No "))
