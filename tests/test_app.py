"""The app end to end, through the real console script and Hydra's launcher."""
import json
import math

import pytest

from tests.conftest import load_json

FAST = ["train.epochs=2", "train.eval_every=10"]


def test_single_run_writes_complete_record(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    run_cli(["task=digits", "reduction=[data_subset,short_schedule]", "reduction.data_subset.fraction=0.5",
             "reduction.short_schedule.fraction=0.5", f"hydra.run.dir={run_dir}", *FAST], cwd=tmp_path)
    rec = load_json(run_dir / "record.json")
    assert rec["schema_version"] == 1 and rec["status"] == "completed"
    assert rec["objective"]["name"] == "val_loss" and rec["objective"]["direction"] == "minimize"
    assert math.isfinite(rec["objective"]["value"])
    assert [r["name"] for r in rec["reductions"]] == ["data_subset", "short_schedule"]
    assert rec["reductions"][0]["params"]["fraction"] == 0.5
    assert rec["cost"]["predicted_factor"] == pytest.approx(0.25)
    m = rec["cost"]["measured"]
    assert m["examples"] > 0 and m["flops"] > 0 and m["wall_seconds"] > 0 and m["peak_memory_mb"] > 0
    assert m["device_kind"] == "cpu" and m["device_count"] == 1
    assert rec["recipe"]["data"]["fraction"] == 0.5 and rec["full_recipe"]["data"]["fraction"] == 1.0
    assert set(rec["versions"]) >= {"budgetsweep", "torch", "python"}
    assert rec["started_at"] and rec["ended_at"] and rec["error"] is None
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["val_loss"] == pytest.approx(rec["objective"]["value"])
    assert not list(run_dir.rglob("*.pkl"))


def test_multirun_one_record_per_job_and_shared_config_key(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    run_cli(["-m", "task=digits", "reduction=full,data_subset", "optim.lr=0.01,0.03", f"hydra.sweep.dir={sweep}",
             *FAST], cwd=tmp_path)
    recs = [load_json(p) for p in sorted(sweep.glob("*/record.json"))]
    assert len(recs) == 4 and all(r["status"] == "completed" for r in recs)
    keys = {}
    for r in recs:
        keys.setdefault(r["config"]["optim.lr"], set()).add(r["config_key"])
    assert all(len(v) == 1 for v in keys.values()) and len(keys) == 2  # proxy and full share the key


def test_failing_job_does_not_stop_the_multirun(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli(["-m", "task=digits", "optim=sgd", "optim.lr=1e12,0.01", f"hydra.sweep.dir={sweep}", *FAST],
                   cwd=tmp_path)
    assert proc.returncode == 0
    recs = {r["config"]["optim.lr"]: r for r in map(load_json, sweep.glob("*/record.json"))}
    assert recs[1e12]["status"] == "failed" and "training loss is nan" in recs[1e12]["error"]
    assert recs[0.01]["status"] == "completed"


@pytest.mark.parametrize("override,key", [
    ("reduction.data_subset.fraction=1.5", "reduction.data_subset.fraction=1.5"),
    ("reduction.data_subset.fraction=0", "reduction.data_subset.fraction=0"),
])
def test_bad_fraction_fails_cleanly(run_cli, tmp_path, override, key):
    run_dir = tmp_path / "bad"
    proc = run_cli(["task=digits", "reduction=data_subset", override, f"hydra.run.dir={run_dir}"], cwd=tmp_path,
                   check=False)
    assert proc.returncode != 0
    assert key in proc.stderr and "must be a number in (0.0, 1.0]" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (run_dir / "record.json").exists()
    assert not run_dir.exists()  # nothing left behind: no app.log, no .hydra, no folder


def test_a_bad_config_in_an_existing_folder_removes_only_what_hydra_wrote(run_cli, tmp_path):
    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("kept")
    proc = run_cli(["reduction=data_subset", "reduction.data_subset.fraction=2", f"hydra.run.dir={run_dir}"],
                   cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert sorted(p.name for p in run_dir.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("args,needle", [
    (["reduction=batch_scaling", "reduction.batch_scaling.rule=cubic"], "reduction.batch_scaling.rule='cubic'"),
    (["reduction=short_schedule", "reduction.short_schedule.mode=cut"], "reduction.short_schedule.mode='cut'"),
    (["reduction=mixed_precision", "reduction.mixed_precision.dtype=fp8"], "reduction.mixed_precision.dtype='fp8'"),
    (["reduction=batch_scaling", "reduction.batch_scaling.factor=0.01"], "rounds to 0"),
    (["train.steps=0", "train.epochs=null"], "train.steps=0"),
    (["task=imagenet"], "task"),
])
def test_bad_input_names_key_and_value(run_cli, tmp_path, args, needle):
    proc = run_cli([*args, f"hydra.run.dir={tmp_path / 'r'}"], cwd=tmp_path, check=False)
    assert proc.returncode != 0 and needle in proc.stderr
    assert not (tmp_path / "r" / "record.json").exists()


def _wrong_value(spec_cls, name):
    """A value of the wrong type for a recipe field, as a command-line override would give it."""
    import typing

    hint = typing.get_type_hints(spec_cls)[name]
    kinds = typing.get_args(hint) or (hint,)
    if str in kinds:
        return "[1,2]"  # a list where a string belongs
    return "fast"  # a word where a number or true/false belongs


def _recipe_fields():
    from dataclasses import fields

    from budgetsweep.recipe import OptimSpec, TrainSpec

    return [(section, cls, f.name) for section, cls in (("optim", OptimSpec), ("train", TrainSpec))
            for f in fields(cls)]


@pytest.mark.parametrize("section,cls,name", _recipe_fields(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_recipe_field_is_type_checked_before_any_compute(compose_cfg, section, cls, name):
    from budgetsweep.plan import ConfigError, plan_run

    value = _wrong_value(cls, name)
    overrides = [f"++{section}.{name}={value}"]
    with pytest.raises(ConfigError) as err:
        plan_run(compose_cfg(overrides), overrides, count_flops=False)
    message = str(err.value)
    assert message.startswith(f"{section}.{name}=") and "has the wrong type" in message
    assert f"{section}.{name} must be" in message


@pytest.mark.parametrize("override,allowed", [("optim.lr=fast", "must be a number (float)"),
                                              ("train.epochs=ten", "must be a number (float) or null")])
def test_a_wrong_type_is_exit_2_with_key_value_and_type(run_cli, tmp_path, override, allowed):
    proc = run_cli(["task=digits", override, f"hydra.run.dir={tmp_path / 'r'}"], cwd=tmp_path, check=False)
    key, value = override.split("=")
    assert proc.returncode == 2, proc.stderr
    assert f"{key}='{value}'" in proc.stderr and allowed in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("override,needle", [
    ("train.device=cuda", "train.device='cuda' but no CUDA device is available; use train.device=cpu or auto"),
    ("train.precision=fp16", "train.precision='fp16' needs a CUDA device"),
    ("reduction.mixed_precision.dtype=fp16", "Use reduction.mixed_precision.dtype=bf16"),
])
def test_cuda_settings_without_cuda_are_exit_2_before_training(run_cli, tmp_path, override, needle):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    args = ["task=digits", f"hydra.run.dir={tmp_path / 'r'}", override]
    if override.startswith("reduction."):
        args.insert(1, "reduction=mixed_precision")
    proc = run_cli(args, cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("budgetsweep: invalid configuration: ") and proc.stderr.count("\n") == 1
    assert needle in proc.stderr and not (tmp_path / "r").exists()


def test_a_wrong_type_in_a_multirun_fails_that_job_alone(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli(["-m", "task=digits", "optim.lr=fast,0.01", f"hydra.sweep.dir={sweep}", *FAST], cwd=tmp_path,
                   check=False)
    assert proc.returncode == 0, proc.stderr
    recs = {r["config"]["optim.lr"]: r for r in map(load_json, sweep.glob("*/record.json"))}
    assert recs["fast"]["status"] == "failed"
    assert "optim.lr='fast' has the wrong type (str); optim.lr must be a number (float)" in recs["fast"]["error"]
    assert recs[0.01]["status"] == "completed"


def test_help_lists_every_config_group_without_loading_the_training_stack(run_cli, tmp_path):
    from importlib.resources import files

    proc = run_cli(["--help"], cwd=tmp_path)
    groups = [d.name for d in files("budgetsweep.conf").iterdir() if d.is_dir() and not d.name.startswith("_")]
    assert groups and all(f"\n{g}: " in proc.stdout for g in groups)
    assert "data_subset" in proc.stdout and "hydra/sweeper=budget" in proc.stdout
    code = "import sys, budgetsweep.app, budgetsweep.plan, budgetsweep.run_context; print(sorted(" \
           "m for m in ('torch', 'sklearn', 'pandas', 'scipy', 'optuna') if m in sys.modules))"
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _target_fields():
    """(overrides, key) for every annotated scalar field of every built-in task and model config."""
    import inspect
    import typing
    from importlib.resources import files

    import yaml
    from hydra.utils import get_object

    from budgetsweep.recipe import _kinds

    cases = []
    conf = files("budgetsweep.conf")
    for group, base in (("task", []), ("model", ["task=digits"])):
        for option in sorted(f.name[:-5] for f in conf.joinpath(group).iterdir() if f.name.endswith(".yaml")):
            data = yaml.safe_load(conf.joinpath(group, f"{option}.yaml").read_text())
            node = data.get(group, data) if group == "task" else data
            obj = get_object(node["_target_"])
            hints = typing.get_type_hints(obj.__init__ if inspect.isclass(obj) else obj)
            for key in node:
                if key in hints and _kinds(hints[key]) and str not in _kinds(hints[key]):
                    extra = ["task=charlm"] if option == "gpt" else []
                    cases.append(([*base, *extra, f"{group}={option}"], f"{group}.{key}"))
    return cases


@pytest.mark.parametrize("base,key", _target_fields(), ids=lambda v: v if isinstance(v, str) else "")
def test_task_and_model_fields_are_type_checked_too(compose_cfg, base, key):
    from budgetsweep.plan import ConfigError, plan_run

    overrides = [*base, f"{key}=fast"]
    with pytest.raises(ConfigError, match=f"^{key}='fast' has the wrong type"):
        plan_run(compose_cfg(overrides), overrides, count_flops=False)


def test_jobs_log_their_progress_by_job_number_off_a_terminal(tmp_path, run_cli):
    # a launcher's or SLURM's log is no terminal: each job says where it is, named by its number
    proc = run_cli(["-m", "task=digits", "train.epochs=null", "train.steps=20", "train.eval_every=10",
                    "train.log_every_s=0", "seed=0,1"], cwd=tmp_path)
    out = proc.stdout + proc.stderr
    for num in (0, 1):
        line = next(line for line in out.splitlines() if f"job {num} 20/20 steps (100%)" in line)
        assert "val_loss=" in line and "elapsed" in line
