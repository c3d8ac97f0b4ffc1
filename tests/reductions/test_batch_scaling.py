import math

import pytest

from budgetsweep.reductions import BatchScaling


def test_adam_sde_rescales_exactly(base_recipe):
    r = base_recipe.evolve(optim={"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
                           train={"batch_size": 64, "warmup_steps": 100})
    out = BatchScaling(factor=0.25, rule="adam_sde").apply(r)
    k = 0.25
    assert out.train.batch_size == 16
    assert out.optim.lr == pytest.approx(1e-3 * math.sqrt(k))
    assert out.optim.beta1 == pytest.approx(1 - k * 0.1)
    assert out.optim.beta2 == pytest.approx(1 - k * 0.001)
    assert out.optim.eps == pytest.approx(1e-8 / math.sqrt(k))
    assert out.train.warmup_steps == 400  # warmup kept constant in examples


def test_linear_and_sqrt_rules(base_recipe):
    r = base_recipe.evolve(optim={"lr": 0.1}, train={"batch_size": 32})
    assert BatchScaling(factor=2, rule="linear").apply(r).optim.lr == pytest.approx(0.2)
    assert BatchScaling(factor=4, rule="sqrt").apply(r).optim.lr == pytest.approx(0.2)
    assert BatchScaling(factor=4, rule="none").apply(r).optim.lr == pytest.approx(0.1)


def test_refuses_batch_rounding_to_zero(base_recipe):
    r = base_recipe.evolve(train={"batch_size": 4})
    with pytest.raises(ValueError, match="rounds to 0"):
        BatchScaling(factor=0.1).apply(r)


def test_cost_factor_is_one_same_examples(base_recipe):
    r = base_recipe
    out = BatchScaling(factor=0.25).apply(r)
    assert BatchScaling(factor=0.25).predicted_cost_factor(r) == 1.0
    n = 1000
    assert out.run_steps(n) * out.train.batch_size == pytest.approx(r.run_steps(n) * r.train.batch_size, rel=0.01)


def test_smaller_batch_measures_less_memory(base_recipe):
    from budgetsweep.tasks import Digits
    from budgetsweep.train import train

    class Null:
        def add_cost(self, **_):
            pass

        def report(self, *_):
            pass

    wide = base_recipe.evolve(model={**base_recipe.model, "hidden": 512},
                              train={"batch_size": 256, "steps": 2, "epochs": None})
    small = BatchScaling(factor=0.125).apply(wide)
    big_mem = train(wide, Digits(), Null()).peak_memory_mb
    small_mem = train(small, Digits(), Null()).peak_memory_mb
    assert small_mem < big_mem


def test_rule_validated():
    with pytest.raises(ValueError, match="reduction.batch_scaling.rule='cubic'"):
        BatchScaling(rule="cubic")


@pytest.mark.parametrize("length", [{"epochs": 2.0, "steps": None}, {"epochs": None, "steps": 60}])
def test_keep_steps_is_a_real_cost_cut_with_the_same_updates(base_recipe, length):
    """keep=steps: the same optimizer steps, warmup and evaluations at 1/8 of the batch, so 1/8 of the
    examples, as predicted; the learning rule still applies (issue 14 point 4)."""
    r = base_recipe.evolve(train={"batch_size": 32, **length})
    scaling = BatchScaling(factor=0.125, rule="sqrt", keep="steps")
    out = scaling.apply(r)
    n = 1000
    assert out.train.batch_size == 4
    assert out.run_steps(n) == r.run_steps(n)
    assert (out.train.warmup_steps, out.train.eval_every) == (r.train.warmup_steps, r.train.eval_every)
    assert out.optim.lr == pytest.approx(r.optim.lr * math.sqrt(0.125))
    assert scaling.predicted_cost_factor(r) == 0.125
    assert out.run_examples(n) == r.run_examples(n) / 8


def test_keep_is_validated():
    with pytest.raises(ValueError, match=r"reduction.batch_scaling.keep='epochs' is not allowed.*'examples', 'steps'"):
        BatchScaling(keep="epochs")


def test_a_rule_that_is_not_the_optimizers_warns_in_the_plan(compose_cfg):
    from budgetsweep.plan import plan_run

    sgd = ["experiment=small_batch", "optim=sgd"]
    (warning,) = [w for w in plan_run(compose_cfg(sgd), sgd, count_flops=False).warnings if "batch_scaling" in w]
    assert "rule=sqrt with optim.name=sgd" in warning and "set reduction.batch_scaling.rule=linear" in warning
    for fine in (["experiment=small_batch"], [*sgd, "reduction.batch_scaling.rule=linear"],
                 ["reduction=batch_scaling", "reduction.batch_scaling.rule=adam_sde"]):
        assert not [w for w in plan_run(compose_cfg(fine), fine, count_flops=False).warnings if "batch_scaling" in w]
    adam = ["reduction=batch_scaling", "reduction.batch_scaling.rule=linear"]
    assert any("rule=linear with optim.name=adamw" in w for w in plan_run(compose_cfg(adam), adam,
                                                                           count_flops=False).warnings)
