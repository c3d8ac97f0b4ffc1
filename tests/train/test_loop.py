import math

import pytest
import torch

from budgetsweep.recipe import OptimSpec, Recipe, TrainSpec
from budgetsweep.tasks import Digits, TeacherStudent
from budgetsweep.train import NonFiniteLoss, lr_multiplier, train
from tests.reporters import RecordingReporter as Log

MLP = {"_target_": "budgetsweep.tasks.models.MLP", "hidden": 32, "depth": 1}


def digits_recipe(**train):
    spec = {"batch_size": 32, "steps": 60, "epochs": None, "eval_every": 20, "device": "cpu", **train}
    return Recipe(task={}, model=dict(MLP), optim=OptimSpec(lr=0.01), train=TrainSpec(**spec), seed=3)


def test_same_seed_same_metrics_other_seed_differs():
    a, b = Log(), Log()
    train(digits_recipe(), Digits(), a)
    train(digits_recipe(), Digits(), b)
    assert a.rows == b.rows
    c = Log()
    train(digits_recipe().evolve(seed=4), Digits(), c)
    assert c.rows != a.rows


def test_reports_every_eval_interval_and_counts_cost():
    log = Log()
    result = train(digits_recipe(), Digits(), log)
    assert [s for s, _ in log.rows] == [20, 40, 60]
    assert log.examples == 60 * 32 == result.examples
    assert log.flops == pytest.approx(result.examples * result.flops_per_example)
    # MLP 64-32-10: forward 2*(64*32+32*10) FLOPs per example, backward about twice that
    assert result.flops_per_example == pytest.approx(3 * 2 * (64 * 32 + 32 * 10), rel=0.35)
    assert {"train_loss", "val_loss", "val_accuracy", "lr", "epoch"} <= set(log.rows[-1][1])
    assert "test_accuracy" in result.metrics


def test_full_default_digits_recipe_learns():
    recipe = digits_recipe(steps=None, epochs=30, warmup_steps=50, eval_every=200).evolve(
        model={"_target_": "budgetsweep.tasks.models.MLP", "hidden": 128, "depth": 2}, optim={"lr": 0.003}, seed=0)
    result = train(recipe, Digits(), Log())
    assert result.metrics["test_accuracy"] >= 0.95


def test_nan_loss_raises():
    recipe = digits_recipe().evolve(optim={"name": "sgd", "lr": 1e12})
    with pytest.raises(NonFiniteLoss, match="not finite|loss is"):
        train(recipe, Digits(), Log())


def test_bf16_autocast_runs_on_cpu_and_fp16_is_refused():
    log = Log()
    train(digits_recipe(precision="bf16"), Digits(), log)
    assert math.isfinite(log.rows[-1][1]["val_loss"])
    with pytest.raises(ValueError, match="fp16.*CUDA"):
        train(digits_recipe(precision="fp16"), Digits(), Log())


def test_teacher_student_regression_approaches_known_optimum():
    task = TeacherStudent(n_train=2048, n_val=512, noise_std=0.1)
    recipe = Recipe(task={}, model={"_target_": "budgetsweep.tasks.models.MLP", "hidden": 64},
                    optim=OptimSpec(lr=0.003), train=TrainSpec(batch_size=64, epochs=20, eval_every=100, device="cpu"))
    result = train(recipe, task, Log())
    assert result.metrics["val_loss"] < 3 * 0.1 ** 2 + 0.02
    assert task.build_data(recipe).info["known_optimum"]["val_loss"] == pytest.approx(0.01)


@pytest.mark.parametrize("schedule", ["constant", "cosine", "linear", "wsd"])
def test_schedules_warmup_then_shape(schedule):
    f = [lr_multiplier(s, schedule=schedule, length=100, warmup=10, cooldown_fraction=0.2) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    if schedule == "constant":
        assert f[-1] == 1.0
    elif schedule == "wsd":
        assert f[79] == 1.0 and f[99] == pytest.approx(1 - 19 / 20)
    else:
        assert f[-1] < 0.05 and all(a >= b for a, b in zip(f[10:], f[11:]))


def test_cosine_midpoint():
    assert lr_multiplier(50, schedule="cosine", length=100) == pytest.approx(0.5)


def test_train_package_imports_no_hydra_or_optuna():
    import subprocess
    import sys

    code = ("import sys, budgetsweep.train; bad=[m for m in ('hydra','optuna') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_cuda_absent_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ValueError, match="train.device='cuda'"):
        train(digits_recipe(device="cuda"), Digits(), Log())


def test_the_training_package_names_no_reduction():
    # reductions reach training only through their runtimes' hooks: no reduction's name as a string
    # in train/'s code (docstrings aside) and no look-up in recipe.extra
    import ast
    from pathlib import Path

    import budgetsweep.conf
    import budgetsweep.train

    names = {p.stem for p in (Path(budgetsweep.conf.__file__).parent / "reduction").glob("*.yaml")}
    found = []
    for path in Path(budgetsweep.train.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(
            n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in docstrings:
                found.append(f"{path.name}:{node.lineno} {node.value!r}")
            if isinstance(node, ast.Attribute) and node.attr == "extra":
                found.append(f"{path.name}:{node.lineno} .extra")
    assert not found
