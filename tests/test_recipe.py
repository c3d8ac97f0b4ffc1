import pytest

from budgetsweep.recipe import DataSpec, OptimSpec, Recipe, TrainSpec, config_key


def recipe(**train):
    return Recipe(task={"_target_": "x"}, model={"_target_": "m"}, train=TrainSpec(**train))


@pytest.mark.parametrize("field,value,needle", [
    ("batch_size", 0, "train.batch_size"),
    ("schedule", "cyclic", "train.schedule"),
    ("precision", "fp8", "train.precision"),
    ("steps", -3, "train.epochs/train.steps"),
])
def test_train_spec_errors_name_key_and_value(field, value, needle):
    with pytest.raises(ValueError) as err:
        TrainSpec(**{field: value})
    assert needle in str(err.value) and repr(value) in str(err.value)


def test_optim_and_data_errors():
    with pytest.raises(ValueError, match="optim.name"):
        OptimSpec(name="lion")
    with pytest.raises(ValueError, match=r"data.fraction=1.5"):
        DataSpec(fraction=1.5)


def test_steps_follow_epochs_and_data_fraction():
    r = recipe(batch_size=10, epochs=2)
    assert r.full_steps(100) == 20
    half = r.evolve(data={"fraction": 0.5})
    assert half.full_steps(100) == 10
    assert half.evolve(data={"keep": "steps"}).full_steps(100) == 20


def test_config_key_ignores_seed_and_device_but_not_hyperparameters():
    r = recipe()
    assert config_key(r) == config_key(r.evolve(seed=5, train={"device": "cpu", "eval_every": 7}))
    assert config_key(r) != config_key(r.evolve(optim={"lr": 0.5}))
