"""The hypothesis file: valid files parse; each bad input is one error naming key, value and what is allowed."""
import pytest

from budgetsweep.hypothesis.spec import HypothesisError, load, parse

GOOD = {
    "name": "warmup_helps", "common": ["task=teacher_student"], "baseline": ["train.warmup_steps=0"],
    "candidate": ["train.warmup_steps=20"], "metric": "val_loss", "smallest_effect": 0.002, "seeds": 5,
    "alpha": 0.05, "scales": {"proxy": "proxy50", "full": True},
}


def test_good_file_parses_with_defaults(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_text("name: warmup_helps\ncommon: [task=teacher_student]\nbaseline: [train.warmup_steps=0]\n"
                    "candidate: [train.warmup_steps=20]\nmetric: val_accuracy\nsmallest_effect: 0.01\nseeds: [3, 1]\n"
                    "alpha: 0.05\nscales: {proxy: [data_subset, short_schedule], proxy_overrides: "
                    "[reduction.data_subset.fraction=0.05]}\n")
    h = load(path)
    assert h.direction == "maximize"  # from the metric's name
    assert h.seeds == (3, 1) and h.sides == 1 and h.test == "t" and h.power == 0.8
    assert h.scales() == {"proxy": ["reduction=[data_subset,short_schedule]", "reduction.data_subset.fraction=0.05"]}
    assert h.arm_overrides("proxy", "candidate")[-2:] == ["train.warmup_steps=20", "task.objective=val_accuracy"]
    h2 = parse(GOOD)
    assert h2.planned_seeds() == (0, 1, 2, 3, 4)
    assert list(h2.scales()) == ["proxy", "full"]
    assert h2.scales()["proxy"] == ["experiment=proxy50"]


@pytest.mark.parametrize("change, message", [
    ({"candidate": ["train.warmup_steps=0"]}, "identical to baseline"),
    ({"seeds": 1}, "seeds=1 is not allowed; it must be >= 2"),
    ({"seeds": [4]}, r"seeds=\[4\] is not allowed; it must list >= 2 seeds"),
    ({"seeds": [1, 1]}, r"seeds=\[1, 1\] is not allowed; it must be a count >= 2 or a list of distinct"),
    ({"alpha": 0.5}, r"alpha=0.5 is not allowed; it must be in \(0, 0.5\)"),
    ({"alpha": 0}, r"alpha=0 is not allowed; it must be in \(0, 0.5\)"),
    ({"alpha": -0.1}, r"alpha=-0.1 is not allowed"),
    ({"seed_count": 3}, "seed_count=3 is not allowed; unknown key; allowed keys: name, common"),
    ({"smallest_effect": 0}, "smallest_effect=0 is not allowed; it must be > 0"),
    ({"direction": "up"}, "direction='up' is not allowed; allowed: minimize, maximize"),
    ({"metric": "val_score"}, "metric='val_score'.*no known direction"),
    ({"target_power": 0.8}, "seeds and target_power: give exactly one"),
    ({"sides": 3}, r"sides=3 is not allowed; allowed: \(1, 2\)"),
    ({"test": "wilcoxon"}, "test='wilcoxon' is not allowed; allowed: t, permutation"),
    ({"baseline": ["seed=3"]}, "baseline='seed=3' is not allowed; seeds come from the 'seeds' key"),
    ({"scales": {"proxy": "proxy50", "rung": 2}}, "scales.rung=2 is not allowed; unknown key"),
    ({"scales": {"full": False}}, "test at least one scale"),
    ({"sequential": {"looks": [3, 4]}}, r"sequential.looks=\[3, 4\] is not allowed.*number of seeds \(5\)"),
    ({"sequential": {"looks": [3, 5], "spending": "haybittle"}}, "sequential.spending='haybittle' is not allowed"),
    ({"budget": {"limit": 0, "unit": "examples"}}, "budget.limit=0 is not allowed"),
    ({"budget": {"limit": 5, "unit": "dollars"}}, "budget.unit='dollars' is not allowed; allowed: gpu_hours"),
])
def test_bad_input_is_one_error_naming_the_key(change, message):
    with pytest.raises(HypothesisError, match=message):
        parse(GOOD | change)


def test_target_power_plans_max_seeds(tmp_path):
    data = {k: v for k, v in GOOD.items() if k != "seeds"} | {"target_power": 0.9, "max_seeds": 12}
    h = parse(data)
    assert h.seeds is None and h.planned_seeds() == tuple(range(12))
    with pytest.raises(HypothesisError, match="target_power=1.2"):
        parse(data | {"target_power": 1.2})


def test_unreadable_and_bad_yaml_name_the_file(tmp_path):
    with pytest.raises(HypothesisError, match="cannot be read"):
        load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(HypothesisError, match="not valid YAML"):
        load(bad)
