import pytest
import torch

from budgetsweep.reductions import EvalSubset
from budgetsweep.tasks import Digits
from budgetsweep.train import train
from tests.reductions.conftest import prepared
from tests.reporters import RecordingReporter as Log


def val_split(recipe):
    """The validation split a run of ``recipe`` evaluates on (its runtimes' ``training_data`` hook)."""
    data = prepared(recipe).training_data(Digits().build_data(recipe))
    return data.val_x, data.val_y


def test_validation_is_a_fixed_seeded_subset_of_ceil_fraction(base_recipe):
    full_x, full_y = Digits().build_data(base_recipe).val_x, Digits().build_data(base_recipe).val_y
    x, y = val_split(EvalSubset(fraction=0.1, seed=3).apply(base_recipe))
    assert len(x) == -(-len(full_x) // 10)  # ceil(0.1 x n)
    rows = {tuple(r.tolist()) for r in full_x}
    assert all(tuple(r.tolist()) in rows for r in x)  # real validation examples
    again, _ = val_split(EvalSubset(fraction=0.1, seed=3).apply(base_recipe))
    other, _ = val_split(EvalSubset(fraction=0.1, seed=4).apply(base_recipe))
    assert torch.equal(x, again) and not torch.equal(x, other)


def test_run_reports_metrics_of_the_subset_and_trains_as_before(base_recipe):
    short = base_recipe.evolve(train={"steps": 20, "epochs": None, "eval_every": 10})
    recipe = EvalSubset(fraction=0.2).apply(short)
    log_full, log_sub = Log(), Log()
    full, sub = train(short, Digits(), log_full), train(recipe, Digits(), log_sub)
    assert log_sub.examples == log_full.examples  # training is unchanged
    for a, b in zip(full.model.parameters(), sub.model.parameters()):
        assert torch.equal(a, b)
    n_val = len(Digits().build_data(short).val_x)
    assert sub.info["eval_subset"] == {"n_val": -(-n_val // 5), "n_val_full": n_val}
    assert sub.metrics["val_loss"] != full.metrics["val_loss"]
    assert sub.metrics["test_loss"] == pytest.approx(full.metrics["test_loss"])  # the test set stays whole
    assert EvalSubset().predicted_cost_factor(short) == 1.0


@pytest.mark.parametrize("key, value", [("fraction", 0), ("fraction", 1.5), ("seed", -1), ("seed", True)])
def test_parameters_validated(key, value):
    with pytest.raises(ValueError, match=f"reduction.eval_subset.{key}={value!r}"):
        EvalSubset(**{key: value})
