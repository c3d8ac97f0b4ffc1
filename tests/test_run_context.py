"""The run context: what a user's own loop gets, and the record it leaves."""
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import budgetsweep
from budgetsweep.plan import ConfigError, plan_run
from budgetsweep.records import read_metrics, read_record
from budgetsweep.train.optim import build_optimizer

USER = {"seed": 0, "optim": {"name": "adamw", "lr": 0.004, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
        "train": {"batch_size": 64, "steps": 200, "epochs": None, "warmup_steps": 20, "eval_every": 50,
                  "my_own_knob": 3},
        "reduction": {}}


def user_cfg(*reductions, **changes):
    cfg = OmegaConf.create(USER)
    with initialize_config_dir(config_dir=str(_conf_dir()), version_base=None):
        for name in reductions:
            cfg.reduction[name] = compose(config_name="config", overrides=[f"reduction={name}"]).reduction[name]
    for key, value in changes.items():
        OmegaConf.update(cfg, key, value)
    return cfg


def _conf_dir():
    import budgetsweep.conf

    from pathlib import Path
    return Path(budgetsweep.conf.__file__).parent


def ctx(cfg, tmp_path, **kw):
    return budgetsweep.run_context(cfg, run_dir=tmp_path / "run", overrides=[], **kw)


def test_subset_indices_nest_and_are_stratified(tmp_path):
    labels = np.repeat(np.arange(4), [100, 200, 300, 400])
    small = ctx(user_cfg("data_subset", **{"reduction.data_subset.fraction": 0.05}), tmp_path).subset_indices(
        1000, labels=labels)
    large = ctx(user_cfg("data_subset", **{"reduction.data_subset.fraction": 0.2}), tmp_path).subset_indices(
        1000, labels=labels)
    assert set(small) <= set(large)
    assert np.bincount(labels[large]).tolist() == [20, 40, 60, 80]


def test_scaled_optimizer_arguments_equal_the_built_in_trainers(tmp_path, compose_cfg):
    changes = {"reduction.batch_scaling.factor": 0.25, "reduction.batch_scaling.rule": "adam_sde"}
    run = ctx(user_cfg("batch_scaling", **changes), tmp_path)
    builtin = plan_run(compose_cfg(["reduction=batch_scaling", "optim.lr=0.004", "train.batch_size=64",
                                    *(f"{k}={v}" for k, v in changes.items())]), count_flops=False)
    opt = build_optimizer(builtin.recipe.optim, [torch.zeros(1, requires_grad=True)])
    kwargs = run.optimizer_kwargs()
    for key in ("lr", "betas", "eps", "weight_decay"):
        assert kwargs[key] == pytest.approx(opt.defaults[key]), key
    assert run.batch_size == builtin.recipe.train.batch_size == 16
    assert kwargs["lr"] == pytest.approx(0.004 * 0.5)


def test_steps_and_lr_schedule_follow_short_schedule(tmp_path):
    run = ctx(user_cfg("short_schedule", **{"reduction.short_schedule.fraction": 0.5}), tmp_path)
    assert run.steps() == 100
    assert run.lr_at(0) == pytest.approx(0.004 / 10)  # compressed warmup: 10 steps
    assert run.lr_at(99) < 0.004 * 0.01


def test_record_written_with_user_fields_and_metrics(tmp_path):
    with ctx(user_cfg("data_subset"), tmp_path) as run:
        run.subset_indices(100)
        run.add_cost(examples=640, flops=1e6)
        assert run.report(10, val_loss=0.7, val_accuracy=0.5) is False
        run.report(20, {"val_loss": 0.5})
    rec = read_record(tmp_path / "run")
    assert rec.status == "completed" and rec.objective.value == 0.5
    assert rec.cost.measured.examples == 640 and rec.cost.measured.flops == 1e6
    assert rec.full_recipe["extra"]["user_fields"]["train"] == {"my_own_knob": 3}
    assert [row["step"] for row in read_metrics(tmp_path / "run")] == [10, 20]
    assert run.objective_value() == 0.5
    # the steps and evaluations the loop reported, as the built-in app records the trainer's
    assert (rec.info["steps"], rec.info["evaluations"]) == (20, 2)


def test_exception_in_user_code_leaves_failed_record(tmp_path):
    with pytest.raises(RuntimeError):
        with ctx(user_cfg(), tmp_path) as run:
            run.report(1, val_loss=1.0)
            raise RuntimeError("boom in user code")
    rec = read_record(tmp_path / "run")
    assert rec.status == "failed" and "boom in user code" in rec.error
    assert np.isnan(run.objective_value())


def test_reduction_the_loop_never_reads_is_reported(tmp_path, caplog):
    with ctx(user_cfg("mixed_precision", "data_subset"), tmp_path) as run:
        run.subset_indices(100)
    rec = read_record(tmp_path / "run")
    assert len(rec.info["unhonoured_reductions"]) == 1
    assert rec.info["unhonoured_reductions"][0].startswith("mixed_precision")
    assert "had no effect" in caplog.text


def test_reduction_needing_an_undefined_field_is_an_error(tmp_path):
    cfg = user_cfg("batch_scaling")
    del cfg.train["batch_size"]
    with pytest.raises(ConfigError, match="reduction.batch_scaling changes train.batch_size"):
        ctx(cfg, tmp_path)


def test_search_path_plugin_makes_groups_composable_outside_the_package(tmp_path):
    conf = tmp_path / "myconf"
    conf.mkdir()
    (conf / "config.yaml").write_text(
        "defaults:\n  - reduction: [data_subset, short_schedule]\n  - _self_\n"
        "optim: {lr: 0.1}\ntrain: {batch_size: 8, steps: 10, epochs: null}\n")
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        cfg = compose(config_name="config", overrides=["reduction.data_subset.fraction=0.3"])
    assert list(cfg.reduction) == ["data_subset", "short_schedule"]
    assert cfg.reduction.data_subset.fraction == 0.3


PUBLIC_STOPS = [obj for obj in (getattr(budgetsweep, name) for name in budgetsweep.__all__)
                if isinstance(obj, type) and issubclass(obj, budgetsweep.StopRun)]


@pytest.mark.parametrize("stop", PUBLIC_STOPS, ids=lambda c: c.__name__)
def test_every_public_stop_exception_ends_in_a_readable_record(tmp_path, stop):
    assert len(PUBLIC_STOPS) == 3
    with ctx(user_cfg(), tmp_path) as run:
        run.add_cost(examples=64)
        run.report(1, val_loss=0.5)
        raise stop("stopping here")
    rec = read_record(tmp_path / "run")
    assert rec.status == stop.status and rec.status in budgetsweep.RunStatus and rec.status != "running"
    assert rec.cost.measured.examples == 64 and rec.metrics["val_loss"] == 0.5
    assert run.objective_value() == 0.5


def test_statuses_are_one_enum_and_a_stop_needs_a_final_one():
    from budgetsweep.records import STATUSES, RunStatus

    assert STATUSES == tuple(RunStatus) and RunStatus.BUDGET_STOPPED == "budget_stopped"
    with pytest.raises(ValueError, match="not a run status"):
        type("Halted", (budgetsweep.StopRun,), {"status": "stopped"})
    with pytest.raises(ValueError, match="not a final status"):
        type("Halted", (budgetsweep.StopRun,), {"status": RunStatus.RUNNING})


@pytest.mark.parametrize("rule, lacking", [("sqrt", None), ("linear", None), ("none", None),
                                           ("adam_sde", "optim.beta1, optim.beta2, optim.eps")])
def test_a_reduction_needs_only_the_fields_it_really_changes(tmp_path, rule, lacking):
    """An own loop without Adam betas can use batch_scaling unless the rule rescales the betas."""
    cfg = user_cfg("batch_scaling", **{"reduction.batch_scaling.rule": rule, "reduction.batch_scaling.factor": 0.5})
    for key in ("beta1", "beta2", "eps"):
        del cfg.optim[key]
    if lacking is None:
        with ctx(cfg, tmp_path) as run:
            assert run.batch_size == USER["train"]["batch_size"] // 2
    else:
        with pytest.raises(ConfigError, match=f"reduction.batch_scaling changes {lacking}, which this app's config"):
            ctx(cfg, tmp_path)
