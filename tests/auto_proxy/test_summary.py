"""auto_proxy_summary.json from real records of the three phases: its numbers against the records."""
from __future__ import annotations

import json

import pytest

from budgetsweep.analysis import load_runs
from budgetsweep.auto_proxy.choose import choose
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
    path = write_summary(tmp_path, build_summary(limit=60_000, unit="examples", choice=choice, spent=spent,
                                                 plan=plan, verification=result))
    assert path == tmp_path / SUMMARY_FILE
    summary = _strict(path.read_text())
    assert summary["spent"] == {"calibrate": 12 * (2 * 1000 + 125 + 20), "search": 21 * 125, "verify": 3 * 2 * 1000,
                                "total": 25_740 + 2_625 + 6_000}
    assert summary["remaining"] == 60_000 - 34_365 and summary["unit"] == "examples"
    assert [c["name"] for c in summary["candidates"]] == ["proxy50", "mup_width"]
    assert summary["choice"]["name"] == "mup_width" and not summary["choice"]["fell_back"]
    faithful = next(c for c in summary["candidates"] if c["name"] == "mup_width")
    assert faithful["rho_low"] >= 0.8 and faithful["rho_high"] <= 1.0 and faithful["configs"] == 12
    # the final pick's numbers are its verification records'
    final = summary["final"]
    records = verified[verified["config_key"] == final["config_key"]]
    assert final["full_mean"] == pytest.approx(records["objective_value"].mean())
    assert final["seeds"] == sorted(records["seed"].astype(int)) == [100, 101]
    assert final["full_mean"] == pytest.approx(verified.groupby("config_key")["objective_value"].mean().min())
    assert summary["verification"]["configs"][0]["config_key"] == top[0]
    assert summary["answer"].startswith(f"Final pick: {final['config_key']}")
    assert summary["plan"]["calibration"]["configs"] == 12


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
