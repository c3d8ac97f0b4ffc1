"""The contract every reduction keeps (cf. Optuna's shared storage tests): one suite, all strategies."""
from pathlib import Path

import pytest
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

import budgetsweep.conf
from budgetsweep.reductions import DataSubset, ShortSchedule, apply_all
from budgetsweep.reductions.base import Reduction
from budgetsweep.tasks import Digits
from budgetsweep.train import train

CONF = Path(budgetsweep.conf.__file__).parent / "reduction"
NAMES = sorted(p.stem for p in CONF.glob("*.yaml"))


class Counter:
    def __init__(self):
        self.examples, self.reports = 0, []

    def add_cost(self, examples=0, flops=0.0):
        self.examples += examples

    def report(self, step, metrics):
        self.reports.append((step, metrics))


def make(name) -> Reduction:
    node = OmegaConf.load(CONF / f"{name}.yaml")[name]
    return instantiate(node)


@pytest.mark.parametrize("name", NAMES)
class TestReductionContract:
    def test_default_config_builds_the_named_strategy(self, name):
        r = make(name)
        assert r.name == name
        assert f"budgetsweep/reductions/{name}.py" in type(r).__module__.replace(".", "/") + ".py"

    def test_rejects_bad_parameters(self, name):
        node = OmegaConf.to_container(OmegaConf.load(CONF / f"{name}.yaml")[name])
        params = {k: v for k, v in node.items() if k != "_target_"}
        if not params:
            pytest.skip("no parameters")
        key, value = next(iter(params.items()))
        bad = -1.0 if isinstance(value, (int, float)) else "no-such-option"
        with pytest.raises(ValueError) as err:
            get_class(node["_target_"])(**{**params, key: bad})
        assert key in str(err.value)

    def test_is_pure(self, name, base_recipe):
        before = base_recipe.to_dict()
        out = make(name).apply(base_recipe)
        assert base_recipe.to_dict() == before
        assert out is base_recipe or out != base_recipe or name in ("full", "mixed_precision")

    def test_predicted_factor_in_unit_interval(self, name, base_recipe):
        assert 0 < make(name).predicted_cost_factor(base_recipe) <= 1

    def test_composes_with_data_subset_and_short_schedule(self, name, base_recipe):
        chain = [DataSubset(fraction=0.5), make(name), ShortSchedule(fraction=0.5)]
        recipe, described, factor = apply_all(chain, base_recipe)
        assert [d["name"] for d in described] == ["data_subset", name, "short_schedule"]
        assert factor == pytest.approx(0.5 * described[1]["predicted_cost_factor"] * 0.5)
        assert recipe.data.fraction <= 0.5 and recipe.train.run_fraction <= 0.5

    def test_tiny_run_completes_on_digits(self, name, base_recipe):
        recipe, _, _ = apply_all([make(name), ShortSchedule(fraction=0.25)], base_recipe)
        reporter = Counter()
        result = train(recipe, Digits(), reporter)
        assert reporter.reports and result.metrics["val_accuracy"] > 0.1
        assert reporter.examples == result.examples > 0
