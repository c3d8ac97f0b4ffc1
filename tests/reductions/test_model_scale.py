import pytest

from budgetsweep.reductions import ModelScale
from budgetsweep.tasks import Digits
from budgetsweep.train import train
from budgetsweep.train.optim import param_groups
from tests.reductions.conftest import prepared, unit_scales


def lr_scales(recipe, model, task):
    """Learning-rate scales per parameter after the reductions' ``lr_scales`` hooks."""
    return prepared(recipe, task).lr_scales(model, unit_scales(model))
from tests.reporters import RecordingReporter as Quiet

MLP = {"_target_": "budgetsweep.tasks.models.MLP", "hidden": 128, "depth": 2}
CNN = {"_target_": "budgetsweep.tasks.models.CNN", "channels": 32, "hidden": 64}


def n_params(recipe):
    return sum(p.numel() for p in Digits().build_model(recipe).parameters())


def test_width_and_depth_change_the_parameter_count_as_expected(base_recipe):
    full = base_recipe.evolve(model=dict(MLP))
    assert n_params(full) == (64 * 128 + 128) + (128 * 128 + 128) + (128 * 10 + 10)
    half = ModelScale(width=0.5).apply(full)
    assert half.model["hidden"] == 64 and half.model["depth"] == 2
    assert n_params(half) == (64 * 64 + 64) + (64 * 64 + 64) + (64 * 10 + 10)
    shallow = ModelScale(width=0.5, depth=0.5).apply(full)
    assert n_params(shallow) == (64 * 64 + 64) + (64 * 10 + 10)
    cnn = ModelScale(width=0.25).apply(base_recipe.evolve(model=dict(CNN)))
    assert (cnn.model["channels"], cnn.model["hidden"]) == (8, 16)


def test_predicted_factor_is_the_training_flops_ratio(base_recipe):
    full = base_recipe.evolve(model=dict(MLP))
    # multiply-adds of a training step: forward (64h + h^2 + 10h), the weight gradients (the same) and
    # the input gradients of every layer but the first (h^2 + 10h); not the forward ratio (0.342)
    macs = lambda h: 2 * (64 * h + h * h + h * 10) + (h * h + h * 10)  # noqa: E731
    assert ModelScale(width=0.5).predicted_cost_factor(full) == pytest.approx(macs(64) / macs(128), rel=1e-9)


def test_a_width_left_at_its_class_default_is_scaled(base_recipe):
    out = ModelScale(width=0.5).apply(base_recipe.evolve(model={"_target_": MLP["_target_"]}))
    assert out.model["hidden"] == 64  # MLP's default hidden is 128


def test_mup_divides_hidden_matrix_learning_rates_by_the_width_multiplier(base_recipe):
    full = base_recipe.evolve(model=dict(MLP))
    recipe = ModelScale(width=0.5, mup=True).apply(full)
    assert recipe.extra["model_scale"] == {"mup": True, "base_model": MLP}
    model = Digits().build_model(recipe)
    scales = lr_scales(recipe, model, Digits())
    # input weights (64 -> h), output weights (h -> 10) and biases keep the base rate
    assert scales == {"net.0.weight": 1.0, "net.0.bias": 1.0, "net.2.weight": 2.0, "net.2.bias": 1.0,
                      "net.4.weight": 1.0, "net.4.bias": 1.0}
    groups = {g["lr_scale"]: len(g["params"]) for g in param_groups(model, lr_scales(recipe, model, Digits()))}
    assert groups == {1.0: 5, 2.0: 1}
    plain = ModelScale(width=0.5).apply(full)
    assert set(lr_scales(plain, Digits().build_model(plain), Digits()).values()) == {1.0}


def test_mup_run_uses_the_scaled_rate(base_recipe, monkeypatch):
    import budgetsweep.train.loop as loop

    seen = []
    real = loop.build_optimizer

    def spy(spec, params):
        optimizer = real(spec, params)
        seen.append(optimizer)
        return optimizer

    monkeypatch.setattr(loop, "build_optimizer", spy)
    recipe = ModelScale(width=0.5, mup=True).apply(
        base_recipe.evolve(model=dict(MLP), train={"steps": 3, "epochs": None, "schedule": "constant",
                                                   "warmup_steps": 0}))
    train(recipe, Digits(), Quiet())
    lrs = sorted(g["lr"] for g in seen[0].param_groups)
    assert lrs == pytest.approx([recipe.optim.lr, 2 * recipe.optim.lr])


def test_mup_with_depth_compares_against_the_same_depth(base_recipe):
    recipe = ModelScale(width=0.5, depth=0.5, mup=True).apply(base_recipe.evolve(model=dict(MLP)))
    assert recipe.extra["model_scale"]["base_model"] == {**MLP, "depth": 1}
    scales = lr_scales(recipe, Digits().build_model(recipe), Digits())
    assert set(scales.values()) == {1.0}  # 64 -> h -> 10 has no hidden-to-hidden matrix


def test_mup_needs_adam_and_missing_keys_are_named(base_recipe):
    with pytest.raises(ValueError, match="reduction.model_scale.mup=true.*optim.name='sgd'"):
        ModelScale(mup=True).apply(base_recipe.evolve(optim={"name": "sgd"}))
    with pytest.raises(ValueError, match=r"reduction.model_scale.depth=0.5 cannot be applied: .*CNN"):
        ModelScale(depth=0.5).apply(base_recipe.evolve(model=dict(CNN)))


@pytest.mark.parametrize("key, value", [("width", 0), ("width", 2), ("depth", -1), ("mup", "yes")])
def test_parameters_validated(key, value):
    with pytest.raises(ValueError, match=f"reduction.model_scale.{key}"):
        ModelScale(**{key: value})
