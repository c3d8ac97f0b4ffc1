import math

import pytest

from budgetsweep import validate
from budgetsweep.recipe import TrainSpec
from budgetsweep.reductions.data_subset import DataSubset
from budgetsweep.reductions.synthetic_data import SyntheticData


@pytest.mark.parametrize("check, args, message", [
    (validate.choice, ("a.mode", "x", ("p", "q")), "a.mode='x' is not allowed; a.mode must be one of ('p', 'q')"),
    (validate.number, ("a.f", "big", 0.0, 1.0), "a.f='big' is not allowed; a.f must be a number in (0.0, 1.0]"),
    (validate.number, ("a.f", 0.0, 0.0, 1.0), "a.f=0.0 is not allowed; a.f must be a number in (0.0, 1.0]"),
    (validate.number, ("a.f", True, 0.0, 1.0), "a.f=True is not allowed"),  # YAML's true is no number
    (validate.number, ("a.f", math.nan, 0.0, 1.0), "a.f=nan is not allowed"),
    (validate.integer, ("a.seed", -1), "a.seed=-1 is not allowed; a.seed must be an integer >= 0"),
    (validate.integer, ("a.seed", 1.5), "a.seed=1.5 is not allowed"),
    (validate.boolean, ("a.b", "yes"), "a.b='yes' is not allowed; a.b must be true or false"),
    (validate.path_string, ("a.dir", ""), "a.dir='' is not allowed; a.dir must be a directory path"),
])
def test_failures_name_the_key_the_value_and_what_is_allowed(check, args, message):
    with pytest.raises(ValueError) as err:
        check(*args)
    assert str(err.value).startswith(message)


def test_values_come_back_as_stored():
    assert validate.number("k", 1, 0.0, 1.0) == 1.0 and isinstance(validate.number("k", 1, 0.0, 1.0), float)
    assert validate.number("k", 0.0, 0.0, 1.0, low_open=False) == 0.0
    assert validate.integer("k", 3, minimum=1) == 3 and validate.boolean("k", False) is False


def test_recipes_and_reductions_share_the_message_shape():
    # the same "<key>=<value> is not allowed; <key> must be ..." wherever a config value is checked
    for make, key in ((lambda: TrainSpec(batch_size=0), "train.batch_size=0"),
                      (lambda: DataSubset(fraction=2), "reduction.data_subset.fraction=2"),
                      (lambda: SyntheticData(seed=-1), "reduction.synthetic_data.seed=-1")):
        with pytest.raises(ValueError, match=f"^{key} is not allowed; "):
            make()
