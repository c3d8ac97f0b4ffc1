"""The report flags strategies whose proxy runs did not learn (their records' learned verdict)."""
from __future__ import annotations

import pandas as pd

from budgetsweep.analysis import build_report, load_runs
from budgetsweep.analysis.report import not_learned_note


def test_the_note_names_each_strategy_with_runs_that_did_not_learn():
    runs = pd.DataFrame({"role": ["proxy"] * 4 + ["full"],
                         "reduction_label": ["a", "a", "b", "c", "full"],
                         "learned": ["not_learned", "learned", "learned", None, "not_learned"]})
    note = not_learned_note(runs)
    assert note.endswith(": a (1 of 2 runs).")  # b learned, c predates the verdict, full runs are no proxies
    assert not_learned_note(runs.assign(learned="learned")) is None
    assert not_learned_note(runs.drop(columns="learned")) is None


def test_a_report_of_real_records_says_which_proxy_did_not_learn(compose_cfg, tmp_path):
    from budgetsweep.app import run

    base = ["task=digits", "model.hidden=16", "train.device=cpu", "train.epochs=null", "train.eval_every=1000",
            "train.warmup_steps=0"]
    for name, extra in {"learned": ["train.steps=100"], "stuck": ["train.steps=2", "reduction=short_schedule",
                                                                   "reduction.short_schedule.fraction=0.5"]}.items():
        overrides = [*base, *extra]
        run(compose_cfg(overrides), tmp_path / name, overrides)
    runs = load_runs(tmp_path)
    assert sorted(runs["learned"]) == ["learned", "not_learned"]
    text = build_report(runs, n_resamples=50).terminal_text()
    assert "Did not learn" in text and "short_schedule(fraction=0.5,mode=compress) (1 of 1 runs)" in text
