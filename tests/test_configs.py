"""Every option of every config group composes and instantiates."""
from pathlib import Path

import pytest
from hydra.utils import instantiate

import budgetsweep.conf
from budgetsweep.plan import build_full_recipe, build_reductions, plan_run

CONF = Path(budgetsweep.conf.__file__).parent


def options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_every_group_has_options():
    for group in ("task", "model", "optim", "train", "reduction"):
        assert options(group), group


@pytest.mark.parametrize("task", options("task"))
@pytest.mark.parametrize("model", options("model"))
def test_task_and_model_compose_and_instantiate(compose_cfg, task, model):
    if task == "teacher_student" and model == "cnn":
        pytest.skip("the CNN needs square images; teacher_student has vector inputs")
    if (task == "charlm") != (model == "gpt"):
        pytest.skip("the GPT is a sequence model: it goes with task=charlm, which needs one")
    cfg = compose_cfg([f"task={task}", f"model={model}"])
    t = instantiate(cfg.task)
    recipe = build_full_recipe(cfg)
    net = t.build_model(recipe)
    assert sum(p.numel() for p in net.parameters()) > 0


@pytest.mark.parametrize("optim", options("optim"))
def test_optim_options(compose_cfg, optim):
    recipe = build_full_recipe(compose_cfg([f"optim={optim}"]))
    assert recipe.optim.name == optim


@pytest.mark.parametrize("reduction", options("reduction"))
def test_reduction_options_instantiate(compose_cfg, reduction, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # curriculum and distill look for their caches relative to the cwd
    overrides = [f"reduction={reduction}"]
    if reduction == "transfer":  # its checkpoint is required: point it at a saved state dict
        import torch

        torch.save(torch.nn.Linear(1, 1).state_dict(), tmp_path / "checkpoint.pt")
        overrides.append(f"reduction.transfer.checkpoint={tmp_path / 'checkpoint.pt'}")
    cfg = compose_cfg(overrides)
    (r,) = build_reductions(cfg)
    assert r.name == reduction
    plan = plan_run(cfg, count_flops=False)
    # above 1 only while a teacher or scorer is still to be trained on the fly, and then explained
    assert 0 < plan.predicted_factor <= 1 or "on the fly" in plan.described[0]["reason"]


def test_reductions_compose_in_list_order(compose_cfg):
    cfg = compose_cfg(["reduction=[short_schedule,data_subset,mixed_precision]"])
    assert [r.name for r in build_reductions(cfg)] == ["short_schedule", "data_subset", "mixed_precision"]
    plan = plan_run(cfg, count_flops=False)
    assert plan.predicted_factor == pytest.approx(0.2 * 0.1)
    assert plan.reduction_label.startswith("short_schedule(")
