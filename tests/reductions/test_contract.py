"""The contract every reduction keeps (cf. Optuna's shared storage tests): one suite, all strategies.

Documented exceptions, kept explicit here:
- a reduction that needs an artifact gets one: ``transfer`` a saved run's checkpoint;
- reductions that cache what they build on the fly write under the test's temporary directory;
- ``curriculum`` and ``distill`` may predict a factor above 1 while their scorer or teacher is
  still to be trained on the fly; their description then gives the reason.
"""
from pathlib import Path

import pytest
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

import budgetsweep.conf
from budgetsweep.reductions import DataSubset, ShortSchedule, apply_all
from budgetsweep.reductions.base import Reduction
from budgetsweep.tasks import Digits
from budgetsweep.train import train
from tests.reporters import RecordingReporter as Counter

CONF = Path(budgetsweep.conf.__file__).parent / "reduction"
NAMES = sorted(p.stem for p in CONF.glob("*.yaml"))
TRAINS_ON_THE_FLY = ("curriculum", "distill")  # may predict > 1, with a reason, until their cache exists


@pytest.fixture(autouse=True)
def in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default cache directories are relative to the working directory


@pytest.fixture
def make(saved_run, tmp_path):
    def _make(name) -> Reduction:
        node = OmegaConf.load(CONF / f"{name}.yaml")[name]
        if "checkpoint" in node.keys():
            node.checkpoint = str(saved_run)
        if "cache_dir" in node:
            node.cache_dir = str(tmp_path / "cache")
        return instantiate(node)

    return _make


def changed_fields(before: dict, after: dict) -> set[str]:
    """Dotted ``section.field`` paths whose values differ (a whole section where it is no mapping)."""
    out = set()
    for section in set(before) | set(after):
        a, b = before.get(section), after.get(section)
        if isinstance(a, dict) and isinstance(b, dict):
            out |= {f"{section}.{k}" for k in set(a) | set(b) if a.get(k, object) != b.get(k, object)}
        elif a != b:
            out.add(section)
    return out


def declared(path: str, changes: tuple[str, ...]) -> bool:
    return any(path == c or path.startswith(c + ".") for c in changes)


@pytest.mark.parametrize("name", NAMES)
class TestReductionContract:
    def test_default_config_builds_the_named_strategy(self, name, make):
        r = make(name)
        assert r.name == name
        assert f"budgetsweep/reductions/{name}.py" in type(r).__module__.replace(".", "/") + ".py"

    def test_parameters_are_a_typed_dataclass_read_back_for_the_record(self, name, make):
        import dataclasses

        r = make(name)
        assert dataclasses.is_dataclass(r)
        assert [f.name for f in dataclasses.fields(r)] == list(r.params())

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

    def test_is_pure(self, name, base_recipe, make):
        before = base_recipe.to_dict()
        out = make(name).apply(base_recipe)
        assert base_recipe.to_dict() == before
        assert out is base_recipe or out != base_recipe or name in ("full", "mixed_precision")

    @pytest.mark.parametrize("length", [{}, {"steps": 200, "epochs": None}])
    def test_apply_changes_only_the_fields_it_declares(self, name, base_recipe, make, length):
        r = make(name)
        recipe = base_recipe.evolve(train=length, extra={"earlier": {"kept": True}})  # an earlier reduction's spec
        undeclared = {p for p in changed_fields(recipe.to_dict(), r.apply(recipe).to_dict())
                      if not declared(p, type(r).changes)}
        assert not undeclared, f"{name}.apply changed {sorted(undeclared)}, not in its changes {type(r).changes}"

    def test_predicted_factor_in_unit_interval_or_explained(self, name, base_recipe, make):
        r = make(name)
        factor = r.predicted_cost_factor(base_recipe)
        assert factor > 0
        if factor > 1:
            assert name in TRAINS_ON_THE_FLY
            assert "on the fly" in r.describe(base_recipe)["reason"]

    def test_composes_with_data_subset_and_short_schedule(self, name, base_recipe, make):
        chain = [DataSubset(fraction=0.5), make(name), ShortSchedule(fraction=0.5)]
        recipe, described, factor = apply_all(chain, base_recipe)
        assert [d["name"] for d in described] == ["data_subset", name, "short_schedule"]
        assert factor == pytest.approx(0.5 * described[1]["predicted_cost_factor"] * 0.5)
        assert recipe.data.fraction <= 0.5 and recipe.train.run_fraction <= 0.5

    def test_tiny_run_completes_on_digits(self, name, base_recipe, make):
        recipe, _, _ = apply_all([make(name), ShortSchedule(fraction=0.25)], base_recipe)
        reporter = Counter()
        result = train(recipe, Digits(), reporter)
        assert reporter.reports and result.metrics["val_accuracy"] > 0.1
        assert reporter.examples >= result.examples > 0  # a teacher or scorer trained first adds to the cost
        if name not in TRAINS_ON_THE_FLY:
            assert reporter.examples == result.examples
