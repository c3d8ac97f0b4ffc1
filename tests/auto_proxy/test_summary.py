"""auto_proxy_summary.json from real records of the three phases: its numbers against the records."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from budgetsweep.analysis import load_runs
from budgetsweep.auto_proxy.choose import choose
from budgetsweep.auto_proxy.final import final_pick
from budgetsweep.auto_proxy.phases import RungCost, plan_phases
from budgetsweep.auto_proxy.settings import AutoProxySettings
from budgetsweep.auto_proxy.summary import SUMMARY_FILE, build_summary, spent_from_runs, write_summary
from budgetsweep.auto_proxy.verify import top_configs, verify

from .synthetic import BIASED, FAITHFUL, LRS, WIDTHS, write_calibration, write_run

NAMES = {FAITHFUL: "mup_width", BIASED: "proxy50"}


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def test_summary_tells_the_story_the_records_tell(tmp_path):
    settings = AutoProxySettings(n_resamples=400, calibrate={"configs": 12, "full_seeds": 2},
                                 candidates=[{"preset": "mup_width"}, {"preset": "proxy50"}])
    plan = plan_phases(settings, 60_000, "examples", RungCost("full", 1000),
                       [RungCost("mup_width", 125, FAITHFUL), RungCost("proxy50", 20, BIASED)])
    assert (plan.calibration.full_seeds, plan.calibration.cost) == (2, 12 * (2000 + 145))
    # calibrate
    write_calibration(tmp_path / "calibrate", ("faithful", "biased"), n_configs=12)
    calibration = load_runs(tmp_path / "calibrate")
    choice = choose(calibration, settings, "examples", NAMES)
    assert choice.label == FAITHFUL
    # search at the chosen rung: every configuration of the grid, one seed
    for lr in LRS:
        for width in WIDTHS:
            write_run(tmp_path / "search", "faithful", lr, width, 0)
    search = load_runs(tmp_path / "search")
    # verify the top 3 at full scale with the planned seeds
    top = top_configs(search, plan.verification.top_k)
    for key in top:
        lr, width = (float(p.split("=")[1]) for p in key.split(","))
        for seed in range(plan.verification.seeds):
            write_run(tmp_path / "verify", "full", lr, int(width), 100 + seed)
    verified = load_runs(tmp_path / "verify")
    result = verify(search, verified, plan.verification.top_k)
    spent = {"calibrate": spent_from_runs(calibration, "examples"), "search": spent_from_runs(search, "examples"),
             "verify": spent_from_runs(verified, "examples")}
    final = final_pick(result, verified, calibration)
    path = write_summary(tmp_path, build_summary(limit=60_000, unit="examples", choice=choice, spent=spent,
                                                 plan=plan, verification=result, final=final))
    assert path == tmp_path / SUMMARY_FILE
    summary = _strict(path.read_text())
    assert summary["spent"] == {"calibrate": 12 * (2 * 1000 + 125 + 20), "search": 21 * 125, "verify": 3 * 2 * 1000,
                                "total": 25_740 + 2_625 + 6_000}
    assert summary["remaining"] == 60_000 - 34_365 and summary["unit"] == "examples"
    assert [c["name"] for c in summary["candidates"]] == ["proxy50", "mup_width"]
    assert summary["choice"]["name"] == "mup_width" and not summary["choice"]["fell_back"]
    faithful = next(c for c in summary["candidates"] if c["name"] == "mup_width")
    assert faithful["rho_low"] >= 0.8 and faithful["rho_high"] <= 1.0 and faithful["configs"] == 12
    # the final pick is the verified best; calibration ran it at full scale too (the grid's best, lr 1e-3 and
    # width 512): its numbers are all its full-scale records', calibration's seeds 0 and 1 pooled with verification's
    final = summary["final"]
    assert final["config_key"] == result.final == "lr=0.001,hidden=512"
    assert (final["source"], final["proxy_rank"], final["is_proxy_pick"]) == ("verification", 1.0, True)
    full = pd.concat([verified, calibration[calibration["reduction_label"] == "full"]])
    records = full[full["config_key"] == final["config_key"]]
    assert final["full_mean"] == pytest.approx(records["objective_value"].mean())
    assert final["seeds"] == sorted(records["seed"].astype(int)) == [0, 1, 100, 101]
    assert final["full_mean"] == pytest.approx(full.groupby("config_key")["objective_value"].mean().min())
    assert summary["verification"]["configs"][0]["config_key"] == top[0]
    assert summary["answer"].startswith(f"Final pick: {final['config_key']}")
    assert "best of the top 3 of the search at mup_width verified at full scale and the 12 calibration" in \
        summary["answer"]
    assert summary["plan"]["calibration"]["configs"] == 12


def _swept(root, calibrated, kind="biased"):
    """Calibration of ``calibrated`` (lr, width) at full scale (seeds 0, 1), a search of the whole grid at the
    ``kind`` proxy (biased: its best at lr 1e-1, the worst learning rate at full scale) and its top 3
    verified at full scale (seeds 100, 101). Returns (calibration, search, verified runs, verification)."""
    for lr, width in calibrated:
        for seed in (0, 1):
            write_run(root / "calibrate", "full", lr, width, seed)
        write_run(root / "calibrate", "biased", lr, width, 0)
    for lr in LRS:
        for width in WIDTHS:
            write_run(root / "search", kind, lr, width, 0)
    search = load_runs(root / "search")
    for key in top_configs(search, 3):
        lr, width = (float(p.split("=")[1]) for p in key.split(","))
        for seed in (100, 101):
            write_run(root / "verify", "full", lr, int(width), seed)
    calibration, verified = load_runs(root / "calibrate"), load_runs(root / "verify")
    return calibration, search, verified, verify(search, verified, 3)


def _summary(calibration, verification, final):
    choice = choose(calibration, AutoProxySettings(n_resamples=0), "examples", {BIASED: "proxy50"})
    return build_summary(limit=1e6, unit="examples", choice=choice, spent={}, verification=verification, final=final)


def test_a_calibration_configuration_better_at_full_scale_than_every_verified_one_is_the_answer(tmp_path):
    # calibration measured the grid's best (lr 1e-3, width 512) at full scale; the biased search's top 3 are at high
    # learning rates, far worse there
    calibration, search, verified, result = _swept(tmp_path, [(1e-3, 512), (1e-4, 32), (3e-2, 128)])
    assert {c.config_key for c in result.configs} == {"lr=0.1,hidden=512", "lr=0.1,hidden=128", "lr=0.03,hidden=512"}
    before = result.to_dict()
    final = final_pick(result, verified, calibration)
    summary = _summary(calibration, result, final)
    assert summary["verification"] == before  # the verdict on the proxy's top 3 is unchanged
    assert summary["verification"]["final"] in {c.config_key for c in result.configs}
    best = summary["final"]
    assert (best["config_key"], best["source"], best["proxy_rank"], best["is_proxy_pick"]) == \
        ("lr=0.001,hidden=512", "calibration", None, False)
    assert best["config"] == {"task": "synthetic", "optim.lr": 1e-3, "model.hidden": 512}
    # the best seed mean over every full-scale record of the sweep, calibration's and verification's
    full = pd.concat([verified, calibration[calibration["reduction_label"] == "full"]])
    means = full.groupby("config_key")["objective_value"].mean()
    assert best["full_mean"] == pytest.approx(means.min()) and means.idxmin() == best["config_key"]
    assert best["full_std"] == pytest.approx(full[full["config_key"] == best["config_key"]]["objective_value"].std())
    assert best["seeds"] == [0, 1]
    assert summary["answer"].startswith(
        f"Final pick: lr=0.001,hidden=512, full-scale objective {best['full_mean']:.4g} over 2 seed(s), a calibration "
        "configuration measured at full scale, better than the top 3 of the search at "
        f"{summary['choice']['name']} verified there; ")


def test_the_report_shows_a_calibration_final_beside_the_verification_table(tmp_path):
    import matplotlib.pyplot as plt

    from budgetsweep.analysis.auto_proxy_section import (add_section, plot_proxy_vs_full, terminal_lines,
                                                         verification_table)
    from budgetsweep.analysis.render import Document, fmt_sig, to_markdown
    from budgetsweep.auto_proxy.story import Story

    calibration, search, verified, result = _swept(tmp_path, [(1e-3, 512), (1e-4, 32), (3e-2, 128)])
    summary = _summary(calibration, result, final_pick(result, verified, calibration))
    story = Story("s", summary, {"full": {"label": "full", "overrides": [], "cost": 1000.0}}, calibration, search,
                  verified)
    table = verification_table(summary)
    assert len(table) == 3 and not table["final"].any()  # no verified configuration is the final pick
    line = ("Final pick: lr=0.001,hidden=512 (key lr=0.001,hidden=512), a calibration configuration, full-scale mean "
            f"{fmt_sig(summary['final']['full_mean'], 4)}, sd {fmt_sig(summary['final']['full_std'], 2)} over 2 seed(s) "
            "(0 1): better at "
            "full scale than every verified configuration, so no row below is the final pick.")
    doc = Document()
    add_section(doc, story, str)
    assert line in to_markdown(doc)[0]
    assert line in terminal_lines(story, str)
    fig = plot_proxy_vs_full(story, str)
    right = fig.axes[1]
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["verified"]  # no star: nothing verified won
    plt.close(fig)


def test_the_verified_best_stays_the_answer_when_calibration_measured_worse(tmp_path):
    # the faithful search's top 3 are the grid's best; calibration measured three configurations far from them
    calibration, _, verified, result = _swept(tmp_path, [(1e-4, 32), (1e-1, 32), (1e-2, 32)], "faithful")
    assert result.final == "lr=0.001,hidden=512"
    final = final_pick(result, verified, calibration)
    summary = _summary(calibration, result, final)
    verified_best = next(c for c in result.configs if c.config_key == result.final)
    assert summary["final"] == {"config_key": result.final, "config": verified_best.config,
                                "full_mean": verified_best.full_mean, "full_std": verified_best.full_std,
                                "seeds": [100, 101], "source": "verification", "proxy_rank": verified_best.proxy_rank,
                                "rung": summary["choice"]["label"], "is_proxy_pick": result.final == result.pick}
    assert "verified at full scale and the 3 calibration configuration(s) measured there;" in summary["answer"]


def test_a_tie_at_full_scale_goes_to_the_verified_configuration(tmp_path):
    calibration, _, verified, result = _swept(tmp_path, [(1e-4, 32)], "faithful")
    verified_best = next(c for c in result.configs if c.config_key == result.final)
    for seed in (0, 1):  # a calibration configuration measured exactly as good as the verified best
        write_run(tmp_path / "calibrate", "full", 1e-1, 512, seed, value=verified_best.full_mean)
    calibration = load_runs(tmp_path / "calibrate")
    final = final_pick(result, verified, calibration)
    assert (final.config_key, final.source) == (result.final, "verification")


def test_no_answer_before_verification_even_with_calibration_measured(tmp_path):
    calibration, search, verified, result = _swept(tmp_path, [(1e-3, 512), (1e-4, 32), (3e-2, 128)])
    assert final_pick(None, verified, calibration) is None
    unverified = verify(search, verified.iloc[:0], 3)  # queued, none completed
    assert unverified.final is None and final_pick(unverified, verified.iloc[:0], calibration) is None
    with pytest.raises(ValueError, match="final is None but the verification has a verified best"):
        _summary(calibration, result, None)


def test_before_verification_there_is_no_answer(tmp_path):
    write_calibration(tmp_path, ("biased",), n_configs=12)
    choice = choose(load_runs(tmp_path), AutoProxySettings(n_resamples=0), "examples")
    summary = build_summary(limit=100.0, unit="examples", choice=choice, spent={"calibrate": 40.0})
    assert summary["final"] is None and summary["answer"] == "Not verified yet: no answer."
    assert summary["choice"]["kind"] == "full" and summary["spent"]["total"] == 40.0
    json.dumps(summary, allow_nan=False)  # strict JSON (raises on NaN): NaN is written as null


def test_unknown_phase(tmp_path):
    write_calibration(tmp_path, ("faithful",), n_configs=3)
    choice = choose(load_runs(tmp_path), AutoProxySettings(n_resamples=0), "examples")
    with pytest.raises(ValueError, match=r"spent has phase\(s\) \['warmup'\]"):
        build_summary(limit=1.0, unit="examples", choice=choice, spent={"warmup": 1.0})


def test_gpu_hours_spent_is_device_time(tmp_path):
    write_run(tmp_path, "full", 1e-3, 32, 0)  # wall 0.01 + 1000 / 1e4 = 0.11 s, one device
    assert spent_from_runs(load_runs(tmp_path), "gpu_hours") == pytest.approx(0.11 / 3600)


def test_a_calibration_configuration_on_fewer_seeds_than_the_verified_ones_is_not_compared(tmp_path):
    # calibration measured the grid's best at full scale on one seed only, the verification ran two seeds per
    # configuration: one lucky seed must not beat two, so the answer is the verified best
    write_run(tmp_path / "calibrate", "full", 1e-3, 512, 0, value=0.0)  # a lucky draw no two-seed mean reaches
    write_run(tmp_path / "calibrate", "biased", 1e-3, 512, 0)
    calibration, search, verified, result = _swept(tmp_path, [])
    final = final_pick(result, verified, calibration)
    assert (final.source, final.config_key) == ("verification", result.final)
    assert (final.calibration_configs, final.calibration_fewer_seeds, final.verify_seeds) == (0, 1, 2)
    answer = _summary(calibration, result, final)["answer"]
    assert "(1 calibration configuration(s) measured on fewer than the verification's 2 seed(s) not compared" in answer


def test_a_top_configuration_the_budget_could_not_verify_is_not_called_verified(tmp_path):
    # verification priced the wide top configurations one by one and one did not fit: 2 of the top 3 ran at full
    # scale. The answer and the report once said "best of the top 3 ... verified at full scale"
    from budgetsweep.analysis.auto_proxy_section import verification_sentence

    calibration, search, verified, result = _swept(tmp_path, [(1e-4, 32)], "faithful")
    unrun = [c.config_key for c in result.configs if c.config_key != result.final][0]
    partial = verified[verified["config_key"] != unrun]
    result = verify(search, partial, 3)
    assert sum(c.full_mean is not None for c in result.configs) == 2
    summary = _summary(calibration, result, final_pick(result, partial, calibration))
    at = summary["choice"]["name"]
    assert (f"best of the 2 of the top 3 of the search at {at} (1 without a completed full-scale run) verified at "
            "full scale") in summary["answer"], summary["answer"]
    assert verification_sentence(summary).startswith(
        f"Top 3 of the search at {at}: 2 verified at full scale, 1 without a completed full-scale run")
    full = verify(search, verified, 3)  # all three ran: the sentence is as before
    assert f"best of the top 3 of the search at {at} verified at full scale" in \
        _summary(calibration, full, final_pick(full, verified, calibration))["answer"]


def test_a_search_at_full_scale_is_not_called_a_proxy(tmp_path):
    from budgetsweep.analysis.auto_proxy_section import terminal_lines
    from budgetsweep.auto_proxy.story import Story

    calibration, search, verified, result = _swept(tmp_path, [(1e-4, 32), (1e-1, 32), (1e-2, 32)], "full")
    summary = _summary(calibration, result, final_pick(result, verified, calibration))
    assert summary["choice"]["kind"] == "full"  # the only candidate is biased: the search ran at full scale
    assert summary["answer"].endswith("; the search's pick is the verified best.")
    story = Story("s", summary, {"full": {"label": "full", "overrides": [], "cost": 1000.0}}, calibration, search,
                  verified)
    text = "\n".join(terminal_lines(story, str))
    assert "Search ranking held among them: " in text and "the search's pick is the verified best: yes" in text
    assert "search rank" in text and "proxy" not in text.split("Searched at:")[1]  # the table's columns too
