"""``budgetsweep-report --storage ... --study ...`` on an auto-proxy study: a real tiny sweep (teacher_student,
``examples`` unit, the flags of ``test_sweep``) with five calibration configurations, two full-scale seeds
and bootstrap intervals; the report's numbers against the sweep's ``auto_proxy_summary.json``."""
from __future__ import annotations

import json
import math
import re
import os
import shutil
import sqlite3
import subprocess

import optuna
import pandas as pd
import pytest

from budgetsweep.analysis.auto_proxy_section import budget_table, calibration_table, verification_table
from budgetsweep.analysis.render import fmt_interval, fmt_sig
from budgetsweep.auto_proxy.phases import PhasePlan
from budgetsweep.auto_proxy.settings import AutoProxySettings
from budgetsweep.auto_proxy.story import read_story
from budgetsweep.auto_proxy.study_attrs import CHOICE_ATTR, PHASE_ATTR, PLAN_ATTR, SETTINGS_ATTR
from budgetsweep.cli import report_main

from tests.conftest import doc_text

from .test_sweep import AUTO, BIN, TINY

AUTO_PROXY_DOC = doc_text("docs/auto_proxy.md")

K = "hydra.sweeper.auto_proxy."
# calibrate 5 x (2 x 256 + 128) = 3,200 of a 0.65 x 5,000 cap; verify 2 x 2 x 256 = 1,024 of 1,250; the
# search gets the rest, 776: 6 trials at the candidate. A target of 0.5 lets the candidate be chosen by
# the milder fallback (5 configurations: below the analysis module's confident verdict) when its rho meets it.
RICHER = {K + "calibrate.configs": "5", K + "calibrate.full_seeds": "2", K + "verify.top_k": "2",
          K + "verify.seeds": "2", K + "n_resamples": "200", K + "target": "0.5",
          K + "shares": "{calibrate: 0.65, search: 0.1, verify: 0.25}"}
LIMIT = 5000.0


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """(storage URL, study name, the summary the sweep wrote, its folder): one sweep for the module."""
    cwd = tmp_path_factory.mktemp("auto_proxy_report")
    args = [a for a in AUTO if a.split("=")[0] not in RICHER] + [f"{k}={v}" for k, v in RICHER.items()]
    proc = subprocess.run([str(BIN / "budgetsweep"), "-m", f"hydra.sweep.dir={cwd}/sweep", *TINY, *args,
                           f"hydra.sweeper.budget.limit={LIMIT:g}"], cwd=cwd, capture_output=True, text=True,
                          timeout=400, env={**os.environ, "HYDRA_FULL_ERROR": "0"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((cwd / "sweep" / "auto_proxy_summary.json").read_text())
    storage = f"sqlite:///{cwd / 'outputs' / 'budgetsweep.db'}"
    [name] = optuna.get_all_study_names(storage)
    return storage, name, summary, cwd


def test_the_story_read_from_the_study_is_the_summary_the_sweep_wrote(sweep):
    storage, name, summary, _ = sweep
    story = read_story(storage, name)
    assert story is not None and story.notes == []
    # every number, the choice and its reason, the verification, the answer, the spent per phase
    assert json.loads(json.dumps(story.summary)) == summary
    assert summary["phase"] == "done" and summary["verification"] is not None
    assert summary["candidates"][0]["full_seeds"] == 2 and summary["candidates"][0]["ci_method"] == "BCa"
    calib = story.calibration.groupby("reduction_label").size().to_dict()
    assert calib == {"full": 10, "data_subset(fraction=0.5,keep=epochs,subset_seed=0)": 5}
    assert len(story.verification) == 4 and set(story.verification["reduction_label"]) == {"full"}
    assert set(story.search["reduction_label"]) == {story.rungs[summary["choice"]["name"]]["label"]}


def test_the_report_shows_the_summarys_numbers_in_csv_markdown_html_and_on_the_terminal(sweep, tmp_path, capsys):
    storage, name, summary, _ = sweep
    out = tmp_path / "report"
    code = report_main(["--storage", storage, "--study", name, "--out", str(out), "--format", "md,html,csv",
                        "--resamples", "0"])
    printed = capsys.readouterr().out
    assert code == 0
    # CSV: the raw numbers, exactly the summary's
    calib = pd.read_csv(out / "tables" / "auto_proxy_calibration.csv", index_col="candidate")
    [cand] = summary["candidates"]
    row = calib.loc[cand["name"]]
    for col, key in (("rho", "rho"), ("rho_low", "rho_low"), ("rho_high", "rho_high"), ("tau", "tau"),
                     ("tau_low", "tau_low"), ("tau_high", "tau_high"), ("cost_factor", "cost_reduction"),
                     ("predicted_factor", "predicted_reduction"), ("configs", "configs")):
        expected = math.nan if cand[key] is None else cand[key]  # null in the JSON, empty in the CSV
        assert row[col] == pytest.approx(expected, rel=1e-12, nan_ok=True), col
    assert bool(row["chosen"]) == (summary["choice"]["label"] == cand["label"])
    verified = pd.read_csv(out / "tables" / "auto_proxy_verification.csv", index_col="config_key", dtype={"seeds": str})
    configs = summary["verification"]["configs"]
    assert verified.index.tolist() == [c["config_key"] for c in configs]
    for c in configs:
        v = verified.loc[c["config_key"]]
        assert (v["proxy_rank"], v["full_rank"]) == (c["proxy_rank"], c["full_rank"])
        assert v["proxy_score"] == pytest.approx(c["proxy_score"], rel=1e-12)
        assert v["full_mean"] == pytest.approx(c["full_mean"], rel=1e-12)
        assert v["full_std"] == pytest.approx(c["full_std"], rel=1e-12)
        assert v["seeds"].split() == [str(s) for s in c["seeds"]] == ["1000", "1001"]
        assert bool(v["final"]) == (c["config_key"] == summary["final"]["config_key"])
    budget = pd.read_csv(out / "tables" / "auto_proxy_budget.csv", index_col="phase")
    assert budget["spent"].to_dict() == summary["spent"]
    assert budget.loc["total", "cap"] == LIMIT == summary["limit"]
    # Markdown and HTML: the same story, formatted; the figure beside the report
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for text in (md, html):
        assert "Auto-proxy" in text and "Calibration" in text and "Verification" in text
        assert summary["answer"].split(";")[0] in text
        assert fmt_interval(cand["rho"], cand["rho_low"], cand["rho_high"]) in text
        assert fmt_sig(summary["final"]["full_mean"], 4) in text
    assert f"| {cand['name']} | {cand['label']} | 5 | 2.0x | 2.0x |" in md
    assert "examples; spent " + f"{summary['spent']['total']:,.0f}" in md
    assert (out / "figures" / "auto_proxy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![proxy vs full" in md and "data:image/png;base64," in html
    # the terminal: the answer first, then the calibration and verification tables
    assert printed.index(summary["answer"]) < printed.index("Auto-proxy calibration:") < printed.index("Top 2 of")
    # docs/auto_proxy.md's trimmed output of this sweep has the printed layout (its numbers are from one run of it; the
    # search's sampler is not seeded, so the verified configurations differ from run to run)
    shown = re.search(r"```text\n(.*?)```", AUTO_PROXY_DOC.split("## Report of an auto-proxy study", 1)[1], re.S).group(1)
    layout = [line for line in shown.splitlines()
              if line.endswith(":") or line.lstrip().startswith(("configs ", "key "))]
    words = {" ".join(line.split()) for line in printed.splitlines()}  # column widths follow the numbers
    assert len(layout) == 3 and all(" ".join(line.split()) in words for line in layout), printed
    for start in ("Budget: limit ", "Searched at: ", "Top 2 of the search at "):
        assert any(line.startswith(start) for line in shown.splitlines()) and f"\n{start}" in printed


def test_the_raw_tables_are_the_summary(sweep):
    _, _, summary, _ = sweep
    calib = calibration_table(summary)
    assert calib.index.tolist() == [c["name"] for c in summary["candidates"]]
    assert calib["chosen"].sum() == (summary["choice"]["kind"] != "full")
    table = verification_table(summary)
    # the search's sampler is not seeded: the final pick may be a calibration configuration, then no row is it
    assert table["pick"].sum() == 1 and table["final"].sum() == (summary["final"]["source"] == "verification")
    budget = budget_table(summary)
    plan = summary["plan"]
    assert budget.loc["calibrate", "planned"] == plan["calibration"]["cost"] == budget.loc["calibrate", "spent"]
    assert budget.loc["total", "spent"] == summary["spent"]["total"] <= LIMIT


def _copy(sweep, tmp_path) -> str:
    storage, *_ = sweep
    db = tmp_path / "copy.db"
    shutil.copy(storage.removeprefix("sqlite:///"), db)
    return str(db)


def _set_study_attr(db: str, key: str, value) -> None:
    with sqlite3.connect(db) as conn:
        if value is None:
            conn.execute("DELETE FROM study_user_attributes WHERE key = ?", (key,))
        else:
            conn.execute("UPDATE study_user_attributes SET value_json = ? WHERE key = ?", (json.dumps(value), key))


def test_a_study_without_recorded_settings_shows_the_recorded_evidence(sweep, tmp_path):
    _, name, summary, _ = sweep
    db = _copy(sweep, tmp_path)
    _set_study_attr(db, SETTINGS_ATTR, None)
    story = read_story(f"sqlite:///{db}", name)
    assert json.loads(json.dumps(story.summary)) == summary
    assert story.notes and "records no auto-proxy settings" in story.notes[0]


def test_a_recorded_choice_that_the_runs_no_longer_give_is_shown_as_recorded_with_a_note(sweep, tmp_path):
    _, name, summary, _ = sweep
    db = _copy(sweep, tmp_path)
    recorded = json.loads(json.dumps(summary["choice"] | {"candidates": summary["candidates"]}))
    other = "full" if recorded["kind"] != "full" else "proxy"
    recorded.update(kind=other, reason="edited")
    _set_study_attr(db, CHOICE_ATTR, recorded)
    story = read_story(f"sqlite:///{db}", name)
    assert story.summary["choice"]["kind"] == other and story.summary["choice"]["reason"] == "edited"
    assert "before its search, which ran at it: shown as recorded" in story.notes[0]


def test_a_study_in_calibration_shows_a_provisional_choice(sweep, tmp_path):
    _, name, summary, _ = sweep
    db = _copy(sweep, tmp_path)
    for attr in (CHOICE_ATTR, PHASE_ATTR):  # as before the choice was written
        _set_study_attr(db, attr, None)
    story = read_story(f"sqlite:///{db}", name)
    assert story.summary["phase"] == "calibrate"
    assert story.summary["candidates"] == summary["candidates"]  # choose() on the same calibration runs
    assert "calibration is not finished" in story.notes[0]


def test_a_plain_study_has_no_story(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=url, study_name="plain")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert read_story(url, "plain") is None


def test_the_study_keeps_what_a_reader_needs_to_judge_again(sweep):
    storage, name, summary, _ = sweep
    attrs = optuna.load_study(study_name=name, storage=storage).user_attrs
    settings = AutoProxySettings.from_mapping(attrs[SETTINGS_ATTR])
    assert (settings.target, settings.n_resamples, settings.calibrate.configs) == (0.5, 200, 5)
    assert settings.candidates[0].label == "half"
    plan = PhasePlan.from_dict(attrs[PLAN_ATTR])
    assert plan.to_dict() == summary["plan"] and plan.verification.top_k == 2
