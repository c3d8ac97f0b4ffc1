import pytest

from budgetsweep.recipe import OptimSpec, Recipe, TrainSpec

DIGITS = {"_target_": "budgetsweep.tasks.digits.Digits", "objective": "val_loss"}
MLP = {"_target_": "budgetsweep.tasks.models.MLP", "hidden": 16, "depth": 1}


@pytest.fixture
def base_recipe():
    return Recipe(task=dict(DIGITS), model=dict(MLP), optim=OptimSpec(name="adamw", lr=0.01),
                  train=TrainSpec(batch_size=32, epochs=2, warmup_steps=10, eval_every=20, device="cpu"))
