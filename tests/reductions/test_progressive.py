import pytest
import torch

from budgetsweep.reductions import Progressive, ShortSchedule, apply_all
from budgetsweep.reductions.progressive import input_scale
from budgetsweep.tasks import Digits, TeacherStudent
from budgetsweep.train import train
from tests.reporters import RecordingReporter as Quiet


class PerPosition(torch.nn.Module):
    """A model for any input length: the same small net at every position, averaged."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(1, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))

    def forward(self, x):
        return self.net(x.unsqueeze(-1)).mean(dim=1)


class CropTask(Digits):
    """A stand-in for a sequence task: its view keeps the first round(scale * 64) positions."""

    def progressive_view(self, x, y, scale):
        return x[:, :round(scale * 64)], y

    def build_model(self, recipe):
        return PerPosition()


class RecordingDigits(Digits):
    """Digits that records the scale asked for and the inputs the model trains on."""

    def __init__(self):
        super().__init__()
        self.scales, self.inputs = [], []

    def progressive_view(self, x, y, scale):
        self.scales.append(scale)
        return super().progressive_view(x, y, scale)

    def build_model(self, recipe):
        inner, inputs = super().build_model(recipe), self.inputs

        class Recorder(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = inner

            def forward(self, x):
                if self.training:
                    inputs.append(x.detach().clone())
                return self.inner(x)

        return Recorder()


def block_constant(x, block=2):
    img = x.view(-1, 8, 8)
    small = img.unfold(1, block, block).unfold(2, block, block)  # (n, 4, 4, 2, 2)
    return bool((small == small[..., :1, :1]).all())


@pytest.mark.parametrize("schedule, expected", [
    ("linear", [0.5, 0.625, 0.75, 0.875, 1.0, 1.0]),
    ("step", [0.5, 0.5, 0.75, 0.75, 1.0, 1.0]),
])
def test_scale_schedule(schedule, expected):
    progress = [0.0, 0.125, 0.25, 0.375, 0.5, 0.9]
    got = [input_scale(p, start_scale=0.5, ramp_fraction=0.5, schedule=schedule, stages=2) for p in progress]
    assert got == pytest.approx(expected)


def test_digits_view_is_block_average_upsampled_to_8x8():
    x = torch.rand(3, 64)
    view, _ = Digits().progressive_view(x, None, 0.5)
    assert view.shape == (3, 64) and block_constant(view)
    expected = x.view(3, 4, 2, 4, 2).mean(dim=(2, 4))
    assert torch.allclose(view.view(3, 8, 8)[:, ::2, ::2], expected)
    same, _ = Digits().progressive_view(x, None, 1.0)
    assert same is x


def test_feeds_the_scheduled_resolution_at_each_step(base_recipe):
    recipe = Progressive(start_scale=0.5, ramp_fraction=0.5).apply(
        base_recipe.evolve(train={"steps": 20, "epochs": None, "eval_every": 20}))
    task = RecordingDigits()
    train(recipe, task, Quiet())
    steps = [input_scale(s / 20, start_scale=0.5, ramp_fraction=0.5, schedule="linear", stages=1) for s in range(20)]
    assert task.scales == pytest.approx([s for s in steps if s < 1])  # one view per step until full size
    trained = task.inputs[1:]  # the first forward pass counts FLOPs on a plain batch
    assert len(trained) == 20
    assert block_constant(trained[0])  # step 0: 4x4 resolution
    assert not block_constant(trained[-1])  # after the ramp: the full 8x8 images


def test_predicted_factor_is_1_for_digits_and_the_mean_scale_for_cropping_tasks(base_recipe):
    r = Progressive(start_scale=0.5, ramp_fraction=0.5)
    assert r.predicted_cost_factor(base_recipe) == 1.0
    crop = base_recipe.evolve(task={"_target_": f"{__name__}.CropTask"})
    mean_scale = sum(round(64 * input_scale((i + 0.5) / 1000, start_scale=0.5, ramp_fraction=0.5, schedule="linear",
                                            stages=2)) / 64 for i in range(1000)) / 1000
    assert r.predicted_cost_factor(crop) == pytest.approx(mean_scale)
    assert r.predicted_cost_factor(crop) == pytest.approx(0.875, abs=0.01)


def test_cropped_views_count_fewer_flops(base_recipe):
    class Flops(Quiet):
        flops = 0.0

        def add_cost(self, examples=0, flops=0.0):
            self.flops += flops

    short = base_recipe.evolve(train={"steps": 10, "epochs": None, "eval_every": 10})
    full, cropped = Flops(), Flops()
    train(short, CropTask(), full)
    train(Progressive(start_scale=0.5, ramp_fraction=1.0).apply(short), CropTask(), cropped)
    scales = [input_scale(s / 10, start_scale=0.5, ramp_fraction=1.0, schedule="linear", stages=2) for s in range(10)]
    expected = sum(round(64 * s) / 64 for s in scales) / 10
    assert cropped.flops / full.flops == pytest.approx(expected)


def test_task_without_a_view_is_a_clear_error(base_recipe):
    other = base_recipe.evolve(task={"_target_": "budgetsweep.tasks.teacher_student.TeacherStudent"})
    with pytest.raises(ValueError, match="progressive_view.*'teacher_student'"):
        Progressive().apply(other)
    recipe, _, _ = apply_all([Progressive(), ShortSchedule(0.1)], base_recipe)
    with pytest.raises(ValueError, match="'teacher_student' does not"):
        train(recipe, TeacherStudent(n_train=64, input_dim=64, output_dim=10, kind="classification"), Quiet())


@pytest.mark.parametrize("key, value", [("start_scale", 0), ("start_scale", 1.5), ("ramp_fraction", 0),
                                        ("schedule", "cubic"), ("stages", 0)])
def test_parameters_validated(key, value):
    with pytest.raises(ValueError, match=f"reduction.progressive.{key}"):
        Progressive(**{key: value})
