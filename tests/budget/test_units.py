import pytest

from budgetsweep.budget.units import UNITS, check_unit, cost_in_unit, device_seconds
from budgetsweep.records import MeasuredCost


def test_cost_in_each_unit():
    m = MeasuredCost(wall_seconds=1800.0, examples=512, flops=3e12, device_count=2)
    assert cost_in_unit(m, "examples") == 512.0
    assert cost_in_unit(m, "flops") == 3e12
    assert cost_in_unit(m, "gpu_hours") == pytest.approx(1.0)  # 1800 s x 2 devices
    assert device_seconds(m) == 3600.0


def test_a_mapping_works_like_a_measured_cost():
    assert cost_in_unit({"wall_seconds": 36.0, "device_count": 1}, "gpu_hours") == pytest.approx(0.01)
    assert cost_in_unit({"examples": None}, "examples") == 0.0


def test_unknown_unit_names_key_value_and_allowed():
    with pytest.raises(ValueError) as err:
        check_unit("hours")
    assert "hydra.sweeper.budget.unit='hours'" in str(err.value)
    assert all(u in str(err.value) for u in UNITS)


def test_unit_is_a_str_enum_whose_members_are_their_strings():
    import json

    from budgetsweep.budget.settings import BudgetSettings
    from budgetsweep.budget.units import UNITS, Unit, check_unit

    assert tuple(Unit) == tuple(Unit(u) for u in UNITS) and UNITS == ("gpu_hours", "flops", "examples")
    unit = check_unit("examples")
    assert unit is Unit.EXAMPLES and unit == "examples" and f"{unit}" == "examples"
    assert json.dumps({"unit": unit}) == '{"unit": "examples"}'
    assert BudgetSettings(unit="flops").unit is Unit.FLOPS
    with pytest.raises(ValueError, match=r"hydra.sweeper.budget.unit='hours' is not a budget unit; allowed: "
                                         r"gpu_hours, flops, examples"):
        check_unit("hours")
