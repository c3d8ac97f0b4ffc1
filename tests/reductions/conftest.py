import pytest

from budgetsweep.recipe import OptimSpec, Recipe, TrainSpec

DIGITS = {"_target_": "budgetsweep.tasks.digits.Digits", "objective": "val_loss"}
MLP = {"_target_": "budgetsweep.tasks.models.MLP", "hidden": 16, "depth": 1}


@pytest.fixture
def base_recipe():
    return Recipe(task=dict(DIGITS), model=dict(MLP), optim=OptimSpec(name="adamw", lr=0.01),
                  train=TrainSpec(batch_size=32, epochs=2, warmup_steps=10, eval_every=20, device="cpu"))


@pytest.fixture(scope="session")
def saved_run(tmp_path_factory):
    """A completed run's directory as the app leaves it with train.save_checkpoint=true: a state-dict
    checkpoint and a record.json whose recipe names the model (only the fields readers use)."""
    import json

    import torch

    from budgetsweep.tasks import Digits
    from budgetsweep.train import train

    class Quiet:
        def add_cost(self, **_):
            pass

        def report(self, step, metrics):
            pass

    run_dir = tmp_path_factory.mktemp("saved_run")
    recipe = Recipe(task=dict(DIGITS), model=dict(MLP), optim=OptimSpec(name="adamw", lr=0.01),
                    train=TrainSpec(batch_size=32, steps=40, epochs=None, eval_every=40, device="cpu"))
    result = train(recipe, Digits(), Quiet())
    torch.save(result.model.state_dict(), run_dir / "checkpoint.pt")
    record = {"recipe": recipe.to_dict(), "artifacts": {"checkpoint": str(run_dir / "checkpoint.pt")},
              "metrics": result.metrics}
    (run_dir / "record.json").write_text(json.dumps(record))
    return run_dir
