"""A reduction defined outside budgetsweep, with a runtime, applied through config ``_target_``."""
from omegaconf import OmegaConf

from budgetsweep.plan import build_reductions
from budgetsweep.reductions.base import Reduction
from budgetsweep.reductions.runtime import Runtime, runtime_class
from budgetsweep.reductions.support import with_extra
from budgetsweep.tasks import Digits
from budgetsweep.train import train
from tests.reporters import RecordingReporter as Log


class BlankInputs(Runtime):
    """Trains on all-zero inputs: a change to training no recipe field can express."""

    def view(self, x, y, step, total_steps):
        return x * 0.0, y

    def final_metrics(self, model, metrics, val_x, val_y):
        return {"blank_scale": float(self.spec["scale"])}


class BlankTraining(Reduction):
    name = "blank_training"  # no module budgetsweep.reductions.blank_training: found by its class
    runtime = BlankInputs

    def __init__(self, scale: float = 0.0) -> None:
        self.scale = float(scale)

    def apply(self, recipe):
        return with_extra(recipe, self.name, {"scale": self.scale})

    def predicted_cost_factor(self, recipe):
        return 1.0


def test_a_users_reduction_outside_the_package_has_its_runtime(base_recipe):
    cfg = OmegaConf.create({"reduction": {"blank": {"_target_": f"{__name__}.BlankTraining"}}})
    (reduction,) = build_reductions(cfg)
    assert runtime_class("blank_training") is BlankInputs
    short = base_recipe.evolve(train={"steps": 20, "epochs": None, "eval_every": 10})
    plain, blank = train(short, Digits(), Log()), train(reduction.apply(short), Digits(), Log())
    assert blank.metrics["blank_scale"] == 0.0 and "blank_scale" not in plain.metrics
    assert blank.metrics["val_loss"] != plain.metrics["val_loss"]  # it trained on blank inputs
