"""Every case of the params grammar maps to the distribution hydra-optuna-sweeper 1.3 would use."""
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from budgetsweep.budget.search_space import build_search_space, format_value, grid_values, quote


def dist(value):
    space = build_search_space({"p": value}, [])
    return space.distributions.get("p", space.fixed.get("p"))


@pytest.mark.parametrize("value,expected", [
    ("choice(1, 2, 3)", CategoricalDistribution([1, 2, 3])),
    ("choice(adam, sgd)", CategoricalDistribution(["adam", "sgd"])),
    ("1,2,3", CategoricalDistribution([1, 2, 3])),
    ("choice([1,2],[3])", CategoricalDistribution(["[1,2]", "[3]"])),  # upstream's Transformer.encode
    # Optuna's integer ranges include the upper end, and upstream passes range's stop as high
    ("range(1, 5)", IntDistribution(1, 5, step=1)),
    ("range(1, 10, step=4)", IntDistribution(1, 9, step=4)),
    ("range(0.1, 1.0, step=0.2)", FloatDistribution(0.1, 0.9, step=0.2)),
    ("interval(1, 10)", FloatDistribution(1.0, 10.0)),  # Hydra makes interval bounds floats
    ("int(interval(1, 10))", IntDistribution(1, 10)),
    ("tag(log, interval(1e-4, 1e-1))", FloatDistribution(1e-4, 1e-1, log=True)),
    ("tag(log, int(interval(1, 100)))", IntDistribution(1, 100, log=True)),
    ("tag(other, interval(0, 1))", FloatDistribution(0.0, 1.0)),  # only the log tag means something
    ("shuffle(choice(3, 1, 2))", CategoricalDistribution([3, 1, 2])),
    ("shuffle(range(1, 5))", CategoricalDistribution([1, 2, 3, 4])),  # Hydra's range: stop excluded
    ("5", "5"),
    ("[a,b]", "[a,b]"),
])
def test_grammar_maps_to_the_intended_distribution(value, expected):
    assert dist(value) == expected


def test_order_fixed_values_and_overrides_follow_upstream():
    space = build_search_space({"b": "interval(0, 1)", "a": "choice(x, y)"},
                               ["c=range(1,3)", "b=tag(log, interval(0.1, 1))", "a=z", "task=digits", "+extra=1"])
    assert list(space.distributions) == ["b", "c"]  # params first; a later definition replaces in place
    assert space.distributions["b"] == FloatDistribution(0.1, 1.0, log=True)
    assert space.fixed == {"a": "z", "task": "digits", "+extra": "1"}


def test_deprecated_search_space_is_used_only_without_params():
    legacy = {"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
              "n": {"type": "int", "low": 1, "high": 4}}
    space = build_search_space(None, [], legacy)
    assert space.distributions == {"lr": FloatDistribution(1e-4, 1e-1, log=True), "n": IntDistribution(1, 4)}
    assert build_search_space({"x": "choice(1,2)"}, [], legacy).distributions.keys() == {"x"}


@pytest.mark.parametrize("params,args,message", [
    ({"x": "interval(1"}, [], "hydra.sweeper.params.x='interval(1' does not parse"),
    ({"x": "tag(log, interval(0, 1))"}, [],
     "hydra.sweeper.params.x='tag(log, interval(0, 1))' is not a valid distribution"),
    ({"x": "interval(5, 1)"}, [], "is not a valid distribution"),
    ({}, ["x=range(1,"], "override 'x=range(1,' does not parse"),
])
def test_a_param_that_does_not_parse_is_named_with_what_is_allowed(params, args, message):
    with pytest.raises(ValueError) as err:
        build_search_space(params, args)
    assert message in str(err.value)
    if "does not parse" in message:
        assert "allowed: choice(a, b, ...)" in str(err.value)


def test_grid_values_as_upstream():
    space = build_search_space({"a": "range(1, 5)", "b": "choice(x, y)", "c": "range(0, 1, step=0.25)"}, [])
    assert space.grid() == {"a": [1, 2, 3, 4], "b": ["x", "y"], "c": [0.0, 0.25, 0.5, 0.75]}
    with pytest.raises(ValueError, match="grid sampler needs a discrete parameter"):
        grid_values("lr", FloatDistribution(0.1, 1.0))


@pytest.mark.parametrize("value", ["adam", "a b", "1", "true", "null", "it's", "x=y,z", "back\\slash\\", "[1,2]"])
def test_sampled_values_round_trip_through_hydra(value):
    parsed = OverridesParser.create().parse_override(f"k={format_value(value)}").value()
    assert parsed == value  # a Python string arrives as that string, even one that reads as a list


def test_quote_round_trips_storage_urls():
    for text in ["postgresql+psycopg2://u:***@h:5432/db?sslmode=require", "sqlite:////tmp/a b/x.db", "a\\'b"]:
        assert OverridesParser.create().parse_override(f"k={quote(text)}").value() == text
