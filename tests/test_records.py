"""Records on disk: written atomically, readable by whoever may read the folder (the umask decides)."""
import os
import stat

import pytest

from budgetsweep.records import write_json_atomic


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_files_honour_the_umask_like_any_other_output(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_json_atomic(tmp_path / "record.json", {"a": 1})
        (tmp_path / "plain.json").write_text("{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "record.json").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "plain.json").stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_run_and_artifact_files_are_group_readable_under_the_usual_umask(tmp_path):
    from budgetsweep.train.auxiliary import save_atomic

    old = os.umask(0o022)
    try:
        save_atomic(tmp_path / "scores.npy", lambda fh: fh.write(b"x"), {"what": "test"})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "scores.npy").stat().st_mode) == 0o644


def test_a_record_written_before_warnings_and_learned_existed_still_reads(tmp_path):
    """schema_version 1 gained two optional fields (issue 14): an older record lacks them and reads as
    no warnings and no verdict, through the record reader and the analysis loader alike."""
    import json

    from budgetsweep.analysis import load_runs
    from budgetsweep.records import RunRecord, Objective, read_record, write_record

    record = RunRecord(status="completed", config_key="k", config={}, overrides=[], recipe={}, full_recipe={},
                       reductions=[], reduction_label="full", seed=0, objective=Objective("val_loss", "minimize", 1.0))
    write_record(tmp_path, record)
    old = json.loads((tmp_path / "record.json").read_text())
    del old["warnings"], old["learned"]
    (tmp_path / "record.json").write_text(json.dumps(old, indent=2))
    back = read_record(tmp_path)
    assert (back.warnings, back.learned, back.schema_version) == ([], None, 1)
    assert load_runs(tmp_path)["learned"].isna().all()
