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


@pytest.mark.parametrize("a,b", [
    (["train.epochs=10"], ["train.epochs=10.0"]),
    (["optim.lr=1e-3"], ["optim.lr=0.001"]),
    (["train.steps=100", "train.epochs=null"], ["train.steps=100.0", "train.epochs=null"]),
    (["+model.sizes=[1,2]"], ["+model.sizes=[1.0, 2]"]),
    (["+model.opts={a: 1, b: [2]}"], ["+model.opts={b: [2.0], a: 1.0}"]),
])
def test_equal_values_give_one_config_key_and_config(compose_cfg, a, b):
    from budgetsweep.plan import plan_run

    plans = [plan_run(compose_cfg(o), o, count_flops=False) for o in (a, b)]
    assert plans[0].config_key == plans[1].config_key
    assert plans[0].config == plans[1].config


def test_different_values_still_give_different_keys(compose_cfg):
    from budgetsweep.plan import plan_run

    keys = {plan_run(compose_cfg(o), o, count_flops=False).config_key
            for o in (["train.epochs=10"], ["train.epochs=10.5"], ["optim.lr=1e-3"], ["+model.sizes=[1,2]"],
                      ["+model.sizes=[2,1]"], ["+model.sizes='[1,2]'"])}
    assert len(keys) == 6
