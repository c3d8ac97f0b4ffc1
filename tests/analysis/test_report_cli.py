"""budgetsweep-report end to end on synthetic records: in-process and once as a real process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import budgetsweep
from budgetsweep.analysis import fidelity, load_runs
from budgetsweep.cli import report_main

REPO = Path(budgetsweep.__file__).resolve().parents[1]
GOOD = "data_subset(fraction=0.1)"


def test_report_numbers_match_the_api(tmp_path, study_dirs, capsys, fast_figures):
    proxy_dir, full_dir, _ = study_dirs
    out = tmp_path / "report"
    code = report_main([str(proxy_dir), "--full", str(full_dir), "--out", str(out), "--format", "md,csv",
                        "--resamples", "300", "--seed", "4"])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"report written to {out / 'report.md'}" in printed and f"{out / 'tables'}" in printed
    assert not (out / "report.html").exists()

    proxy, full = load_runs(proxy_dir), load_runs(full_dir)
    table = pd.read_csv(out / "tables" / "fidelity.csv", index_col="strategy")
    md = (out / "report.md").read_text()
    for strategy in table.index:
        ref = fidelity(proxy[proxy["reduction_label"] == strategy], full, n_resamples=300, rng=4)
        row = table.loc[strategy]
        assert row["rho"] == pytest.approx(ref.rho) and row["tau"] == pytest.approx(ref.tau)
        assert (row["rho_low"], row["rho_high"]) == pytest.approx((ref.rho_low, ref.rho_high))
        assert row["top3"] == pytest.approx(ref.top_k[3]) and row["regret"] == pytest.approx(ref.regret)
        assert row["ceiling"] == pytest.approx(ref.ceiling.ceiling)
        assert f"| {strategy} | 12 | {ref.rho:.3f} [{ref.rho_low:.3f}, {ref.rho_high:.3f}] |" in md
    assert table.loc[GOOD, "recommended"]
    assert table.loc["short_schedule(fraction=0.05)", "rho"] < 0.8


def test_the_report_bootstraps_each_strategy_once(tmp_path, study_dirs, monkeypatch, capsys, fast_figures):
    """One bootstrap per strategy from the folders to the printed verdict and the written report:
    the table, the recommendation, the terminal text and the figures share it (it once ran twice)."""
    import importlib

    ranks = importlib.import_module("budgetsweep.analysis.ranks")
    real, calls = ranks.rank_agreement_ci, []

    def counted(*args, **kwargs):  # the real bootstrap, counted
        calls.append(len(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(ranks, "rank_agreement_ci", counted)
    proxy_dir, full_dir, _ = study_dirs
    assert report_main([str(proxy_dir), "--full", str(full_dir), "--out", str(tmp_path / "r"), "--format",
                        "md,html,csv", "--resamples", "200"]) == 0
    assert "95% interval" in capsys.readouterr().out
    assert calls == [12, 12]  # two proxy strategies, twelve configurations each


def test_cli_as_a_process(tmp_path, study_dirs):
    proxy_dir, full_dir, _ = study_dirs
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "budgetsweep.cli", str(proxy_dir), "--full", str(full_dir),
                           "--format", "csv", "--resamples", "0"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "report written to report/tables" in proc.stdout
    table = pd.read_csv(tmp_path / "report" / "tables" / "fidelity.csv", index_col="strategy")
    assert table.loc[GOOD, "recommended"] and table.loc[GOOD, "configs"] == 12


def test_the_command_exits_with_the_status_of_report_main(tmp_path):
    """budgetsweep-report runs report_console (report_main, then an exit without the final
    collections): its status is report_main's, here a usage error."""
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="budgetsweep-report")
    assert script.value == "budgetsweep.cli:report_console"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "budgetsweep.cli", str(tmp_path / "nowhere")], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"run path '{tmp_path / 'nowhere'}' does not exist" in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["{tmp}/nowhere"], "run path '{tmp}/nowhere' does not exist"),
        (["{tmp}/empty"], "no run records (record.json) found under path(s) {tmp}/empty"),
        (["{tmp}/empty", "--full", "{tmp}/empty"], "no run records (record.json) found under --full path(s)"),
        (["{tmp}/empty", "--storage", "sqlite:///x.db"], "give both (--storage URL --study NAME) or neither"),
        (["--storage", "sqlite:///{tmp}/no.db", "--study", "s"], "the SQLite file '{tmp}/no.db' does not exist"),
    ],  # no arguments at all: the usage, then the error (tests/test_cli_usage.py)
)
def test_errors_are_one_paragraph_and_nonzero(tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    code = report_main([a.format(tmp=tmp_path) for a in args] + ["--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("budgetsweep-report: error: ") and err.count("\n") == 1
    assert message.format(tmp=tmp_path) in err
    assert not (tmp_path / "no.db").exists()


def test_a_run_directory_after_by_is_named_not_read_as_a_column(tmp_path, capsys):
    (tmp_path / "grid" / "0").mkdir(parents=True)
    (tmp_path / "grid" / "0" / "record.json").write_text("{}")
    code = report_main(["--by", "task", str(tmp_path / "grid"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"'{tmp_path / 'grid'}' is a directory of runs, not a column" in err
    assert err.rstrip().endswith(f"budgetsweep-report {tmp_path / 'grid'} --by task")
    assert not (tmp_path / "out").exists()


def test_unknown_format_is_a_usage_error(tmp_path, capsys, study_dirs):
    code = report_main([str(study_dirs[0]), "--format", "md,pdf"])
    assert code == 2
    assert "unknown format pdf in --format; allowed: md,html,csv" in capsys.readouterr().err


def test_storage_url_is_printed_masked(capsys):
    # no server listens on port 1 (and the driver may be missing): either way one masked line
    code = report_main(["--storage", "postgresql://bob:hunter2@127.0.0.1:1/x", "--study", "s"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "hunter2" not in err and "cannot open storage postgresql://bob:***@127.0.0.1:1/x" in err


def test_study_report_end_to_end(tmp_path, capsys, write_run, make_record):
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    url = f"sqlite:///{tmp_path / 's.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=url, study_name="calib")
    for i in range(6):
        for label, value in (("full", float(i)), (GOOD, float(i) * 2)):
            job = write_run(tmp_path / "jobs", make_record(f"c{i}", label, 0, value))
            study.add_trial(create_trial(value=value, params={"lr": 0.1 * (i + 1)},
                                         distributions={"lr": FloatDistribution(0.01, 1.0)},
                                         user_attrs={"record_path": str(job / "record.json")}))
    code = report_main(["--storage", url, "--study", "calib", "--out", str(tmp_path / "r"), "--format", "csv",
                        "--resamples", "0"])
    assert code == 0, capsys.readouterr().err
    assert f"read study 'calib' from {url}" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "r" / "tables" / "fidelity.csv", index_col="strategy")
    assert table.loc[GOOD, "configs"] == 6 and table.loc[GOOD, "rho"] == pytest.approx(1.0)


def test_skipped_records_are_reported_by_the_cli(tmp_path, capsys, study_dirs, write_run, make_record,
                                                 fast_figures):
    proxy_dir, full_dir, _ = study_dirs
    bad = write_run(full_dir, make_record("cfg00")) / "record.json"
    bad.write_text(bad.read_text()[:100])
    code = report_main([str(proxy_dir), "--full", str(full_dir), "--out", str(tmp_path / "r"), "--format", "md",
                        "--resamples", "0"])
    captured = capsys.readouterr()
    assert code == 0
    assert f"budgetsweep-report: warning: skipped: unreadable run record {bad.resolve()}" in captured.err
    assert "skipped 1 unreadable record file(s)" in captured.out
    assert "record files skipped as unreadable: 1" in (tmp_path / "r" / "report.md").read_text()


def test_cli_knows_the_formats_the_report_writes():
    import budgetsweep.cli as cli
    from budgetsweep.analysis.report import FORMATS

    assert cli.FORMATS == FORMATS


def test_the_verdict_and_the_strategy_table_are_printed(tmp_path, study_dirs, capsys, fast_figures):
    proxy_dir, full_dir, _ = study_dirs
    code = report_main([str(proxy_dir), "--full", str(full_dir), "--out", str(tmp_path / "r"), "--format", "md",
                        "--resamples", "0"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0].startswith(f"Recommended proxy: {GOOD}, 10x cheaper (time); Spearman rho 1.00 [95% interval")
    header = next(line for line in lines if "rho [CI]" in line)
    assert "configs" in header and "p_worse" in header and "confident" in header
    row = next(line for line in lines if line.startswith(GOOD))
    assert " 12 " in row and "10.0x" in row and "yes" in row


def _record_with_recipe(make_record, key, label, seed, value, epochs):
    rec = make_record(key, label, seed, value, config={"optim.lr": 0.001 * (int(key[1:]) + 1)})
    rec["full_recipe"] = {"optim": {"lr": 0.001 * (int(key[1:]) + 1)}, "train": {"epochs": epochs, "device": "cpu"},
                          "seed": seed}
    return rec


def test_no_shared_configuration_names_the_fields_that_differ(tmp_path, write_run, make_record, capsys,
                                                              fast_figures):
    # train.epochs=10 at the proxy and 10.0 at full scale: different config keys, nothing pairs
    for i in range(4):
        write_run(tmp_path / "proxy", _record_with_recipe(make_record, f"p{i}", "data_subset(fraction=0.1)", 0,
                                                          float(i), 10))
        write_run(tmp_path / "full", _record_with_recipe(make_record, f"f{i}", "full", 0, float(i), 10.0))
    code = report_main([str(tmp_path / "proxy"), "--full", str(tmp_path / "full"), "--out", str(tmp_path / "r"),
                        "--format", "md", "--resamples", "0"])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 2  # nothing compared is no success: the reason on stderr, the report still written
    assert "error: Nothing was compared: The proxy runs (4 configurations)" in captured.err
    first = out.splitlines()[0]
    assert first.startswith("Nothing was compared: The proxy runs (4 configurations) and the full-scale runs (4) "
                            "share no config key")
    assert "train.epochs: proxy 10 vs full 10.0" in first
    assert "No strategy had" not in out and "train.device" not in first and "seed" not in first
    assert "train.epochs: proxy 10 vs full 10.0" in (tmp_path / "r" / "report.md").read_text()


def _task_dirs(root: Path, write_run, make_record) -> tuple[Path, Path]:
    """Two tasks x 12 configurations x 2 seeds: the proxy ranks digits' configurations as the full
    runs do and moons' in reverse."""
    proxy_dir, full_dir = root / "proxy", root / "full"
    for task, sign in (("digits", 1.0), ("moons", -1.0)):
        for i in range(12):
            key, config = f"{task}{i:02d}", {"task": task, "optim.lr": 0.001 * (i + 1)}
            for seed in range(2):
                write_run(full_dir, make_record(key, "full", seed, 1.0 + 0.1 * i + 0.001 * seed, config=config))
                write_run(proxy_dir, make_record(key, GOOD, seed, 2.0 + sign * 0.1 * i + 0.001 * seed, factor=0.1,
                                                 examples=100.0, wall=1.0, config=config))
    return proxy_dir, full_dir


def test_report_by_task_compares_each_group_and_summarises_across(tmp_path, write_run, make_record, capsys,
                                                                   fast_figures):
    from budgetsweep.analysis import compare_strategies

    proxy_dir, full_dir = _task_dirs(tmp_path, write_run, make_record)
    out = tmp_path / "report"
    code = report_main([str(proxy_dir), "--full", str(full_dir), "--by", "task", "--out", str(out),
                        "--format", "md,csv", "--resamples", "0"])
    printed = capsys.readouterr().out
    assert code == 0
    table = pd.read_csv(out / "tables" / "fidelity.csv").set_index(["config.task", "strategy"])
    ref = compare_strategies(load_runs(proxy_dir), load_runs(full_dir), by="config.task", n_resamples=0)
    for task in ("digits", "moons"):
        assert table.loc[(task, GOOD), "rho"] == pytest.approx(ref.loc[(task, GOOD), "rho"])
        assert table.loc[(task, GOOD), "configs"] == 12
    assert table.loc[("digits", GOOD), "rho"] == pytest.approx(1.0)
    assert table.loc[("moons", GOOD), "rho"] == pytest.approx(-1.0)
    groups = pd.read_csv(out / "tables" / "groups.csv", index_col="strategy")
    assert groups.loc[GOOD, "groups"] == 2 and groups.loc[GOOD, "share_meets"] == 0.5
    assert groups.loc[GOOD, "median_rho"] == pytest.approx(0.0)
    # the verdict and both tables on the terminal, and in the report
    assert f"Across groups: {GOOD} is recommended" in printed and "in 1 of 2 groups of task" in printed
    assert "Across groups (config.task):" in printed and "Per group:" in printed and "moons" in printed
    md = (out / "report.md").read_text()
    assert "## Across groups" in md and "## Per group" in md and "| moons |" in md


def test_report_by_an_unknown_column_names_what_there_is(tmp_path, write_run, make_record, capsys):
    proxy_dir, full_dir = _task_dirs(tmp_path, write_run, make_record)
    code = report_main([str(proxy_dir), "--full", str(full_dir), "--by", "dataset", "--resamples", "0",
                        "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "by='dataset'" in err and "'task'" in err


def test_no_completed_full_run_exits_non_zero_saying_so(tmp_path, write_run, make_record, capsys, fast_figures):
    for i in range(4):
        write_run(tmp_path / "proxy", make_record(f"c{i}", GOOD, 0, float(i), factor=0.1))
        write_run(tmp_path / "full", make_record(f"c{i}", "full", 0, None, status="failed"))
    code = report_main([str(tmp_path / "proxy"), "--full", str(tmp_path / "full"), "--out", str(tmp_path / "r"),
                        "--format", "md", "--resamples", "0"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Nothing was compared: no full-scale run completed with an objective value (4 full-scale runs read: " \
           "4 failed)" in err
    assert (tmp_path / "r" / "report.md").exists()


def test_groups_that_match_nowhere_exit_non_zero(tmp_path, write_run, make_record, capsys, fast_figures):
    for i in range(4):
        write_run(tmp_path / "proxy", make_record(f"m{i}", GOOD, 0, float(i), factor=0.1,
                                                  config={"task": "moons", "optim.lr": 0.1 * i}))
        write_run(tmp_path / "full", make_record(f"d{i}", "full", 0, float(i),
                                                 config={"task": "digits", "optim.lr": 0.1 * i}))
    code = report_main([str(tmp_path / "proxy"), "--full", str(tmp_path / "full"), "--by", "task",
                        "--out", str(tmp_path / "r"), "--format", "md", "--resamples", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "Nothing was compared" in err and "task" in err


@pytest.mark.parametrize("how", [["--full", "{grid}"], ["{grid}", "--full", "{grid}"]])
def test_a_grid_of_both_scales_given_as_full_is_compared(tmp_path, study_dirs, capsys, fast_figures, how):
    # `budgetsweep-report --full GRID`, GRID a multirun over reduction=full,data_subset,...: the proxies in it are
    # compared with its full-scale runs (it used to rank all of them as one full set, a summary with no comparison)
    grid = study_dirs[0].parent
    out = tmp_path / "report"
    code = report_main([a.format(grid=grid) for a in how] + ["--out", str(out), "--format", "md,csv",
                                                             "--resamples", "0"])
    printed = capsys.readouterr().out
    assert code == 0 and printed.startswith(f"Recommended proxy: {GOOD}, 10x cheaper (time)")
    table = pd.read_csv(out / "tables" / "fidelity.csv", index_col="strategy")
    assert sorted(table.index) == [GOOD, "short_schedule(fraction=0.05)"] and (table["configs"] == 12).all()
    assert table["proxy_runs"].tolist() == [24, 24] and table["full_runs"].tolist() == [36, 36]  # each run once
    assert ("48 runs under --full not labelled 'full' (2 strategies: data_subset(fraction=0.1), "
            "short_schedule(fraction=0.05)) compared as proxies; the 36 runs labelled 'full' are the full set"
            in (out / "report.md").read_text())


def test_runs_of_one_proxy_label_given_as_full_stay_the_reference(tmp_path, study_dirs, fast_figures):
    # no run labelled full under --full: the runs there are the reference, whatever their label (a proxy as reference)
    proxy_dir, _, _ = study_dirs
    full_dir = proxy_dir / "multirun" / "0"
    out = tmp_path / "r"
    assert report_main([str(proxy_dir / "multirun" / "1"), "--full", str(full_dir), "--out", str(out),
                        "--format", "csv", "--resamples", "0"]) == 0
    table = pd.read_csv(out / "tables" / "fidelity.csv", index_col="strategy")
    assert table.index.tolist() == ["short_schedule(fraction=0.05)"] and table.loc[table.index[0], "full_runs"] == 24
