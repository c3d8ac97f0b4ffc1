"""The lean-output settings for proxy sweeps (docs/speed.md): Hydra writes no .hydra/ copies and no log file,
and every job still writes its record and metrics (what the reports read)."""
import json

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

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


PRESETS = ["proxy50", "small_batch", "mup_width", "charlm_proxy50"]


@pytest.mark.parametrize("preset", PRESETS)
def test_proxy_presets_are_lean_and_restorable(preset):
    """The proxy presets set the lean settings themselves; the two documented overrides bring Hydra's outputs back."""
    with initialize_config_module(config_module="budgetsweep.conf", version_base=None):
        lean = compose(config_name="config", overrides=[f"experiment={preset}"], return_hydra_config=True)
        full = compose(config_name="config", overrides=[f"experiment={preset}", "hydra.output_subdir=.hydra",
                                                        "hydra/job_logging=default"], return_hydra_config=True)
        plain = compose(config_name="config", overrides=[], return_hydra_config=True)
    assert lean.hydra.output_subdir is None and lean.hydra.runtime.choices["hydra/job_logging"] == "none"
    assert full.hydra.output_subdir == ".hydra" and full.hydra.runtime.choices["hydra/job_logging"] == "default"
    assert plain.hydra.output_subdir == ".hydra" and plain.hydra.runtime.choices["hydra/job_logging"] == "default"
    # the job's own config is the same either way
    job = lambda cfg: {k: v for k, v in OmegaConf.to_container(cfg, resolve=False).items() if k != "hydra"}  # noqa: E731
    assert job(lean) == job(full)


def test_proxy_preset_alone_writes_no_hydra_copies(tmp_path):
    cli(["task=digits", "experiment=proxy50", "model.hidden=16", "guards.min_steps=0",
         f"hydra.run.dir={tmp_path / 'lean'}"], cwd=tmp_path)
    assert sorted(p.name for p in (tmp_path / "lean").iterdir()) == ["metrics.jsonl", "record.json"]
    cli(["task=digits", "experiment=proxy50", "model.hidden=16", "guards.min_steps=0", "hydra.output_subdir=.hydra",
         "hydra/job_logging=default", f"hydra.run.dir={tmp_path / 'restored'}"], cwd=tmp_path)
    assert (tmp_path / "restored" / ".hydra" / "overrides.yaml").exists()
    assert list((tmp_path / "restored").glob("*.log"))
