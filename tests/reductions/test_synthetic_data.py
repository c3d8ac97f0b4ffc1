import numpy as np
import pytest
import torch

from budgetsweep.reductions import DataSubset, SyntheticData, apply_all
from budgetsweep.tasks import Digits, TeacherStudent
from budgetsweep.train import train
from budgetsweep.reductions.synthetic_data import SyntheticDataRuntime, class_quota, gaussian_stand_in


def training_data(recipe, task):
    """The data a run of ``recipe`` trains on: the runtime's ``training_data`` hook over the task's."""
    return SyntheticDataRuntime(recipe.extra["synthetic_data"], recipe).training_data(task.build_data(recipe))
from tests.reporters import RecordingReporter as Counter


def test_matches_class_means_covariances_and_balance(base_recipe):
    data = Digits().build_data(base_recipe)
    x, y = data.train_x, data.train_y
    sx, sy = gaussian_stand_in(x, y, 10 * len(x), seed=0)
    assert sx.shape == (10 * len(x), 64) and sx.dtype == x.dtype and sy.dtype == y.dtype
    real_share = torch.bincount(y, minlength=10) / len(y)
    assert torch.allclose(torch.bincount(sy, minlength=10) / len(sy), real_share, atol=1e-3)
    for c in range(10):
        real, fake = x[y == c].double(), sx[sy == c].double()
        assert torch.allclose(fake.mean(0), real.mean(0), atol=0.06)
        rel = torch.linalg.norm(torch.cov(fake.T) - torch.cov(real.T)) / torch.linalg.norm(torch.cov(real.T))
        assert rel < 0.2


def test_same_seed_same_stand_in_other_seed_differs(base_recipe):
    data = Digits().build_data(base_recipe)
    a = gaussian_stand_in(data.train_x, data.train_y, 100, seed=1)
    b = gaussian_stand_in(data.train_x, data.train_y, 100, seed=1)
    c = gaussian_stand_in(data.train_x, data.train_y, 100, seed=2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])


def test_class_quota_is_proportional_and_exact():
    assert class_quota(np.array([30, 60, 10]), 50).tolist() == [15, 30, 5]
    assert class_quota(np.array([1, 1, 1]), 10).sum() == 10
    assert class_quota(np.array([100, 1]), 10).tolist() == [9, 1]  # every class keeps an example


def test_regression_draws_a_joint_gaussian():
    task = TeacherStudent(n_train=2000, input_dim=4)
    data = task.build_data(SyntheticData().apply(task_recipe()))
    sx, sy = gaussian_stand_in(data.train_x, data.train_y, 20000, seed=0)
    assert sy.shape == (20000, 1)
    real = torch.cat([data.train_x, data.train_y], 1).double()
    fake = torch.cat([sx, sy], 1).double()
    assert torch.allclose(fake.mean(0), real.mean(0), atol=0.05)
    assert torch.allclose(torch.cov(fake.T), torch.cov(real.T), atol=0.05)


def task_recipe():
    from budgetsweep.recipe import Recipe, TrainSpec

    return Recipe(task={}, model={"_target_": "budgetsweep.tasks.models.MLP", "hidden": 8},
                  train=TrainSpec(device="cpu"))


def test_run_trains_on_the_stand_in_and_evaluates_on_real_data(base_recipe):
    task = Digits()
    red = SyntheticData(size=0.5)
    recipe = red.apply(base_recipe)
    assert recipe.train.epochs == base_recipe.train.epochs and red.predicted_cost_factor(base_recipe) == 0.5
    real = task.build_data(base_recipe)
    data = training_data(recipe, task)
    assert len(data.train_x) == round(0.5 * len(real.train_x))
    assert torch.equal(data.val_x, real.val_x) and torch.equal(data.test_y, real.test_y)
    assert not any(torch.equal(data.train_x[0], row) for row in real.train_x)
    counter = Counter()
    result = train(recipe, task, counter)
    full_examples = base_recipe.run_steps(task.n_train()) * base_recipe.train.batch_size
    assert counter.examples == pytest.approx(0.5 * full_examples, rel=0.05)
    assert result.metrics["val_accuracy"] > 0.2  # well above chance (0.1) after a few dozen steps


def test_composes_after_data_subset_and_keep_steps_keeps_the_length(base_recipe):
    recipe, _, factor = apply_all([DataSubset(fraction=0.5), SyntheticData(size=0.5)], base_recipe)
    assert factor == pytest.approx(0.25)
    data = training_data(recipe, Digits())
    assert len(data.train_x) == round(0.5 * len(Digits().build_data(recipe).train_x))
    steps = SyntheticData(keep="steps")
    assert steps.apply(base_recipe).train == base_recipe.train and steps.predicted_cost_factor(base_recipe) == 1.0


def test_integer_inputs_are_a_clear_error():
    with pytest.raises(ValueError, match="synthetic_data needs floating-point inputs"):
        gaussian_stand_in(torch.zeros(4, 3, dtype=torch.long), torch.zeros(4, dtype=torch.long), 4, seed=0)


@pytest.mark.parametrize("key, value", [("size", 0), ("size", 1.5), ("keep", "forever"), ("seed", -1)])
def test_parameters_validated(key, value):
    with pytest.raises(ValueError, match=f"reduction.synthetic_data.{key}"):
        SyntheticData(**{key: value})


def test_the_recorded_recipe_carries_the_epochs_the_run_made(compose_cfg, tmp_path):
    """3 epochs over a stand-in of size 0.33 were recorded as train.epochs 0.99 (3 x 0.33, epochs of a
    real-size set): the record now says 3, and the steps are 3 passes over the stand-in's examples."""
    import math

    from budgetsweep.app import run
    from budgetsweep.records import read_record

    overrides = ["task=teacher_student", "task.n_train=500", "model.hidden=4", "task.n_val=16", "task.n_test=16",
                 "train.device=cpu", "train.epochs=3", "train.batch_size=32", "reduction=synthetic_data",
                 "reduction.synthetic_data.size=0.33"]
    run(compose_cfg(overrides), tmp_path, overrides)
    rec = read_record(tmp_path)
    stand_in = round(500 * 0.33)  # 165 examples
    assert rec.recipe["train"]["epochs"] == 3
    assert rec.info["steps"] == math.ceil(3 * stand_in / 32) == 16
    assert rec.cost.measured.examples == 16 * 32
