"""The README's lean-output settings for proxy sweeps: Hydra writes no .hydra/ copies and no log file,
and every job still writes its record and metrics (what the reports read)."""
import json

from tests.conftest import cli


def test_lean_hydra_outputs_keep_records_and_metrics(tmp_path):
    cli(["-m", "task=digits", "experiment=proxy50", "model.hidden=16", "optim.lr=1e-3,1e-2", "guards.min_steps=0",
         "hydra.output_subdir=null", "hydra/job_logging=none", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path)
    jobs = sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1"]
    for job in jobs:
        record = json.loads((job / "record.json").read_text())
        assert record["status"] == "completed" and record["cost"]["measured"]["examples"] > 0
        assert (job / "metrics.jsonl").read_text().count("\n") >= 1
        assert not (job / ".hydra").exists()
        assert not list(job.glob("*.log"))
