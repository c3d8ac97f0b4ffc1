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


def prepared(recipe: Recipe, task=None, reporter=None):
    """The runtimes of ``recipe``'s reductions after their prepare step, given the real trainer on CPU."""
    import torch

    from budgetsweep.reductions.runtime import runtimes
    from budgetsweep.tasks import Digits
    from budgetsweep.train.auxiliary import Trainer
    from budgetsweep.train.loop import evaluate, train

    hooks = runtimes(recipe)
    hooks.prepare(Trainer(recipe, task or Digits(), reporter, torch.device("cpu"), train, evaluate))
    return hooks


def unit_scales(model) -> dict[str, float]:
    return {name: 1.0 for name, _ in model.named_parameters()}
