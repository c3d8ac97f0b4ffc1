from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from budgetsweep.analysis import RecordWarning, load_curves, load_runs


def test_loads_runs_at_any_depth_one_row_each(tmp_path, write_run, make_record):
    write_run(tmp_path / "single", make_record("a", seed=0, value=0.5), name="run")
    job = write_run(tmp_path / "multirun" / "2026-01-01" / "12-00-00",
                    make_record("b", "data_subset(fraction=0.1)", seed=3, value=0.7, factor=0.1), name="0")
    hydra = tmp_path / "multirun" / ".hydra"
    hydra.mkdir(parents=True)
    (hydra / "record.json").write_text("{}")  # Hydra's folder is never a run, even with this name

    df = load_runs(tmp_path)

    assert len(df) == 2 and df.attrs["skipped"] == 0
    row = df.set_index("config_key").loc["b"]
    assert row["reduction_label"] == "data_subset(fraction=0.1)"
    assert row["seed"] == 3 and row["objective_value"] == 0.7
    assert row["objective_name"] == "val_loss" and row["objective_direction"] == "minimize"
    assert row["predicted_factor"] == 0.1 and row["examples"] == 1000 and row["wall_seconds"] == 10.0
    assert row["config.optim.lr"] == 0.01 and row["config.model.hidden"] == 64
    assert row["metric.val_loss"] == 0.7
    assert row["status"] == "completed" and row["source"] == "records"
    assert row["path"] == str(job.resolve()) and row["record_path"] == str(job.resolve() / "record.json")


def test_nested_config_is_flattened_with_dots(tmp_path, write_run, make_record):
    write_run(tmp_path, make_record(config={"optim": {"lr": 0.1, "name": "sgd"}}))
    df = load_runs(tmp_path)
    assert df.loc[0, "config.optim.lr"] == 0.1 and df.loc[0, "config.optim.name"] == "sgd"


@pytest.mark.parametrize(
    "spoil, reason",
    [
        (lambda rec: json.dumps(rec)[:40], "line 1 column"),  # truncated mid-write
        (lambda rec: json.dumps({**rec, "schema_version": 2}), "schema_version=2"),
        (lambda rec: json.dumps({**rec, "status": "exploded"}), "status='exploded'"),
        (lambda rec: json.dumps({**rec, "config_key": None}), "config_key=None"),
        (lambda rec: json.dumps([1, 2]), "not a JSON object"),
        (lambda rec: "", "Expecting value"),
    ],
    ids=["truncated", "schema_version", "status", "config_key", "not_object", "empty"],
)
def test_unreadable_record_is_skipped_with_a_warning_naming_the_file(tmp_path, write_run, make_record, spoil,
                                                                      reason):
    write_run(tmp_path, make_record("good"))
    bad = write_run(tmp_path, make_record("bad")) / "record.json"
    bad.write_text(spoil(make_record("bad")))

    with pytest.warns(RecordWarning) as caught:
        df = load_runs(tmp_path)

    assert list(df["config_key"]) == ["good"]
    assert df.attrs["skipped"] == 1 and df.attrs["skipped_files"] == [str(bad.resolve())]
    message = str(caught[0].message)
    assert str(bad.resolve()) in message and reason in message


def test_missing_path_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_runs([tmp_path / "nowhere"])


def test_overlapping_paths_count_a_record_once(tmp_path, write_run, make_record):
    job = write_run(tmp_path / "sweep", make_record("a"))
    df = load_runs([tmp_path, tmp_path / "sweep", job / "record.json"])
    assert len(df) == 1


def test_empty_directory_gives_an_empty_frame_with_the_columns(tmp_path):
    df = load_runs(tmp_path)
    assert df.empty and {"config_key", "objective_value", "wall_seconds"} <= set(df.columns)
    assert df.attrs["skipped"] == 0


def test_failed_run_without_objective_loads_with_nan(tmp_path, write_run, make_record):
    write_run(tmp_path, make_record("a", value=None, status="failed"))
    df = load_runs(tmp_path)
    assert df.loc[0, "status"] == "failed" and np.isnan(df.loc[0, "objective_value"])


def test_learning_curves_come_from_metrics_jsonl(tmp_path, write_run, make_record, history):
    job = write_run(tmp_path, make_record("a", seed=1, value=0.3), history(0.3, steps=3))
    write_run(tmp_path, make_record("b"))  # no history
    with (job / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 4, "val_lo')  # a crash mid-line is dropped
    curves = load_curves(load_runs(tmp_path))
    assert len(curves) == 3
    assert set(curves["config_key"]) == {"a"} and set(curves["seed"]) == {1}
    assert curves["val_loss"].iloc[-1] == pytest.approx(0.3 + 0.5 / 3)


def _layouts(record: dict) -> dict[str, str]:
    """One record written the ways a user's own writer might: every layout must load alike."""
    indented = json.dumps(record, indent=2)
    info_first = {"info": {"steps": 3, "config": {"x": 1}}, **record}
    same_line = json.dumps(info_first, indent=2).replace('\n  },\n  "status"', '\n  }, "status"', 1)
    assert '}, "status"' in same_line  # a top-level key on the line of a skipped field's end
    rest = json.dumps({k: v for k, v in record.items() if k != "config"}, indent=2)
    # nested keys indented like top-level ones, one of them named like a field analysis skips
    nested_flat = '{\n  "config": {\n  "info": 5,\n  "optim.lr": 0.01\n  },' + rest[1:]
    return {
        "indented": indented,
        "compact": json.dumps(record, separators=(",", ":")),
        "reordered": json.dumps(dict(reversed(list(record.items()))), indent=2),
        "whitespace": json.dumps(record, indent=2).replace('": ', '" :  ').replace("\n", "  \r\n"),
        "indent4": json.dumps(record, indent=4),
        "same_line": same_line,
        "nested_flat": nested_flat,
        "nan": json.dumps({**record, "metrics": {"val_loss": float("nan"), "train_loss": 0.5}}, indent=2),
        "bom": "\ufeff" + indented,
    }


def test_any_layout_of_a_record_loads_as_json_loads_reads_it(tmp_path, make_record):
    """A record written compact, reordered, with other whitespace, or with keys where the old
    byte-cut looked for top-level fields must give the row of json.loads + record_row."""
    from budgetsweep.analysis.load import record_row
    from budgetsweep.analysis.schema import normalize_runs

    record = make_record("k", "data_subset(fraction=0.1)", 3, 1.5, factor=0.1)
    record["recipe"] = {"train": {"epochs": 10, "note": 'a "quoted"\n  "reductions": value'}}
    record["full_recipe"] = record["recipe"]
    record["reductions"] = [{"name": "data_subset"}]
    record["info"] = {"steps": 3}
    record["trial"] = {"number": 4, "study_name": "s"}
    layouts = _layouts(record)
    rows = []
    for name, text in sorted(layouts.items()):
        job = tmp_path / name
        job.mkdir()
        (job / "record.json").write_text(text, encoding="utf-8")
        rows.append(record_row(json.loads(text.encode("utf-8")), str(job.resolve() / "record.json")))
    df = load_runs(tmp_path)
    assert df.attrs["skipped"] == 0 and len(df) == len(layouts)
    pd.testing.assert_frame_equal(df, normalize_runs(pd.DataFrame(rows)))
    by_name = df.set_index(df["path"].map(lambda p: p.rsplit("/", 1)[-1]))
    assert by_name.loc["nested_flat", "config.info"] == 5  # not cut out of config
    assert by_name.loc["same_line", "status"] == "completed" and by_name.loc["same_line", "seed"] == 3
    assert np.isnan(by_name.loc["nan", "metric.val_loss"]) and by_name.loc["nan", "metric.train_loss"] == 0.5


def test_records_decoded_fast_or_by_json_loads_give_the_same_frame(tmp_path, make_record, write_run, monkeypatch):
    """The msgspec path and the json.loads path (no msgspec) build equal frames, values and dtypes."""
    from budgetsweep.analysis import load

    rng = np.random.default_rng(1)
    for i in range(40):
        rec = make_record(f"c{i % 7}", "full" if i % 3 else "data_subset(fraction=0.1)", i, float(rng.normal()),
                          status="completed" if i % 5 else "failed",
                          config={"optim": {"lr": float(rng.uniform()), "name": "adamw"}, "hidden": 2 ** (i % 4)})
        if i % 4 == 0:
            rec["trial"] = {"number": i, "study_name": "s"}
        if i % 6 == 0:
            rec["metrics"] = {"val_loss": float(rng.normal()), "extra": i}
        write_run(tmp_path, rec, name=f"job{i:02d}")
    fast = load.load_runs(tmp_path)
    monkeypatch.setattr(load, "msgspec", None)
    slow = load.load_runs(tmp_path)
    pd.testing.assert_frame_equal(fast, slow)
    assert len(fast) == 40


def test_many_records_are_read_in_processes_in_file_order(tmp_path, make_record, write_run, monkeypatch):
    from budgetsweep.analysis import load

    monkeypatch.setattr(load, "PARALLEL_FROM", 10)
    for i in range(30):
        write_run(tmp_path, make_record(f"c{i:02d}", "full", 0, float(i)), name=f"job{i:02d}")
    (tmp_path / "job05" / "record.json").write_text("{")
    with pytest.warns(load.RecordWarning, match="job05"):
        df = load.load_runs(tmp_path)
    assert df["config_key"].tolist() == [f"c{i:02d}" for i in range(30) if i != 5]
    assert df.attrs["skipped"] == 1


@pytest.mark.parametrize("slow", [False, True])
def test_threaded_and_sequential_reading_give_the_same_frame(tmp_path, make_record, write_run, monkeypatch, slow):
    from budgetsweep.analysis import load

    monkeypatch.setattr(load, "PROBE", 4)
    monkeypatch.setattr(load, "_reads_wait", lambda seconds, switches: slow)  # force the threads, or never
    for i in range(20):
        write_run(tmp_path, make_record(f"c{i:02d}", "full", 0, float(i)), name=f"job{i:02d}")
    (tmp_path / "job07" / "record.json").unlink()
    (tmp_path / "job07" / "record.json").mkdir()  # no record: a folder where the file should be
    (tmp_path / "job08" / "record.json").write_text("{")  # unreadable
    frame, errors, absent = load._read_rows(sorted(str(p) for p in tmp_path.rglob("record.json")))
    assert frame["config_key"].tolist() == [f"c{i:02d}" for i in range(20) if i not in (7, 8)]
    assert len(errors) == 1 and "job08" in errors[0][0]
    assert len(absent) == 1 and "job07" in absent[0]


def test_records_larger_than_one_read_block_are_read_whole(tmp_path, make_record):
    from budgetsweep.analysis import load

    record = make_record("big", "full", 0, 2.5)
    record["info"] = {"padding": "x" * (3 * load._BLOCK)}  # several blocks
    path = tmp_path / "record.json"
    path.write_text(__import__("json").dumps(record, indent=2))
    assert load._read_bytes(str(path)) == path.read_bytes()
    assert load.read_record_row(path)["objective_value"] == 2.5
    assert isinstance(load._read_bytes(str(tmp_path / "missing.json")), OSError)


@pytest.mark.parametrize("parallel", [False, True])
def test_runs_are_found_as_find_records_finds_them_in_its_order(tmp_path, make_record, write_run, monkeypatch,
                                                                parallel):
    """load_runs opens sub-folders' record.json directly and descends where there is none: the same
    files, in the same order (by given path, then by file), as find_records."""
    from budgetsweep.analysis import load

    if parallel:
        monkeypatch.setattr(load, "PARALLEL_FROM", 5)
    for day, time_, n in [("d2", "t1", 4), ("d1", "t2", 3), ("d1", "t1", 2)]:
        for i in range(n):
            write_run(tmp_path / "multirun" / day / time_, make_record(f"{day}{time_}{i}"), name=str(i))
            (tmp_path / "multirun" / day / time_ / str(i) / "checkpoints").mkdir()  # inside a job: never searched
    (tmp_path / "multirun" / "d1" / ".hydra").mkdir()
    (tmp_path / "multirun" / "d1" / ".hydra" / "record.json").write_text("{}")
    (tmp_path / "multirun" / "d1" / "t1" / "empty").mkdir()
    write_run(tmp_path / "single", make_record("single"), name="job")
    roots = [tmp_path / "single", tmp_path / "multirun", tmp_path / "multirun" / "d1"]  # d1 twice: once
    df = load.load_runs(roots)
    assert df["record_path"].tolist() == [str(p) for p in load.find_records(roots)]
    assert len(df) == 10 and df.attrs["skipped"] == 0


def test_reads_slowed_by_a_busy_cpu_stay_sequential_and_waits_for_a_device_use_threads():
    from budgetsweep.analysis import load

    # slow wall time without sleeping: other processes had the CPU; threads would only add GIL hand-offs
    assert not load._reads_wait(500e-6, 0.0)
    assert load._reads_wait(500e-6, 1.0)  # each read slept: a disk or a network file system
    assert not load._reads_wait(5e-6, 1.0)  # fast anyway
    assert load._reads_wait(500e-6, None) and not load._reads_wait(5e-6, None)  # no count: wall time decides
    assert load._voluntary_switches() is None or load._voluntary_switches() >= 0


@pytest.mark.parametrize("processes", [False, True])
def test_config_columns_decoded_once_per_config_text_equal_json_loads(tmp_path, make_record, write_run, monkeypatch,
                                                                       processes):
    """Records sharing a config text share its decoded columns (decoded once): the frame equals the
    one built record by record from json.loads, whatever the config holds (NaN, null, nothing,
    nesting, keys other records lack), and a config that is not an object still loads as json.loads
    + record_row reads it."""
    from budgetsweep.analysis import load
    from budgetsweep.analysis.schema import normalize_runs

    if processes:
        monkeypatch.setattr(load, "PARALLEL_FROM", 5)
    configs = [{"optim.lr": 0.1, "model": {"hidden": 64, "act": "relu"}}, {"optim.lr": 0.2, "extra": [1, 2]},
               {"optim.lr": float("nan")}, None, {}, {"optim.lr": 0.1, "model": {"hidden": 64, "act": "relu"}},
               {"only_here": True}, 0]
    rows = []
    for i in range(48):
        rec = make_record(f"c{i % 8}", "full" if i % 2 else "data_subset(fraction=0.1)", i // 8, float(i),
                          config={})
        config = configs[i % len(configs)]
        if config is None and i % 16 == 3:
            del rec["config"]
        else:
            rec["config"] = config
        if i % 5 == 0:
            rec["metrics"] = {"val_loss": float(i), "other": i}
        job = write_run(tmp_path, rec, name=f"job{i:02d}")
        text = (job / "record.json").read_bytes()
        rows.append(load.record_row(json.loads(text), str(job.resolve() / "record.json")))
    df = load.load_runs(tmp_path)
    expected = normalize_runs(pd.DataFrame(rows))
    pd.testing.assert_frame_equal(df, expected)
    assert df.attrs["skipped"] == 0 and np.isnan(df.loc[2, "config.optim.lr"])
    assert df.loc[0, "config.model.hidden"] == 64 and df.loc[1, "config.extra"] == [1, 2]
