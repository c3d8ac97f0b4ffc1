"""Every value type reaches the job's cfg as Hydra's basic sweeper would deliver it (issue 10, point 5).

Property tests: values generated over every kind the override grammar has (null, bools, ints and
floats, strings that look like numbers, bools or null, lists, dicts, quoted strings with ``,=' ``)
go through the sampler (an Optuna categorical in an SQLite study) and back into an override, and
must parse to what the basic sweeper's own override gives. End to end, both sweepers run one app
over the same choices and the jobs must receive the same values.
"""
from __future__ import annotations

import json
import math
import random

import optuna
import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from budgetsweep.budget.search_space import build_search_space, format_value
from tests.sweeper.conftest import run_app

PARSER = OverridesParser.create()

ATOMS = ["null", "NULL", "true", "False", "1", "-7", "1.0", "1e-3", "inf", "-inf", "nan", "adam", "a_b", "x.y",
         "'null'", "'true'", "'1'", "'1.0'", "'inf'", "'a,b'", "'x=y'", "'it\\'s'", "'a b'", "' '", "''",
         '"d q"', "'[1,2]'", "'{a:1}'"]


def element(rng: random.Random, depth: int = 0) -> str:
    """Override text of one random value (a primitive, a list or a dict)."""
    kind = rng.random()
    if depth < 2 and kind < 0.15:
        return "[" + ",".join(element(rng, depth + 1) for _ in range(rng.randint(0, 3))) + "]"
    if depth < 2 and kind < 0.3:
        keys = rng.sample(["a", "b", "c"], rng.randint(0, 3))
        return "{" + ",".join(f"{k}:{element(rng, depth + 1)}" for k in keys) + "}"
    return rng.choice(ATOMS)


def same(a, b) -> bool:
    """Equal values of equal types, nan equal to nan, inside lists and dicts too."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def through_sampler(tmp_path, name: str, space) -> list:
    """Every choice of ``name``, as an Optuna SQLite study stores and returns it."""
    distribution = space.distributions[name]
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'rt.db'}", sampler=optuna.samplers.RandomSampler(0))
    out = []
    for index in range(len(distribution.choices)):
        trial = study.ask()
        trial.storage.set_trial_param(trial._trial_id, name, float(index), distribution)
        out.append(study.trials[-1].params[name])
        study.tell(trial, 0.0)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_choices_round_trip_through_the_sampler_as_the_basic_sweeper_delivers_them(seed, tmp_path):
    rng = random.Random(seed)
    texts = [element(rng) for _ in range(12)]
    line = "v=" + ",".join(texts)
    basic = [PARSER.parse_override(f"v={s}").value() for s in PARSER.parse_override(line).sweep_string_iterator()]
    space = build_search_space({}, [line])
    ours = [PARSER.parse_override(space.override("v", value)).value() for value in through_sampler(tmp_path, "v",
                                                                                                 space)]
    assert len(ours) == len(basic)
    assert [(a, b) for a, b in zip(ours, basic) if not same(a, b)] == []


@pytest.mark.parametrize("value", [None, True, False, 0, -3, 1.0, 1e-5, 1e20, math.inf, -math.inf, math.nan, "",
                                   "a", "1", "1.0", "true", "null", "None", "inf", "a b", "x=y,z", "it's", "[1,2]",
                                   "{a:1}", "'q'", 'd"q', "back\\slash\\", " lead"])
def test_python_values_of_a_search_space_config_or_custom_space_arrive_as_themselves(value):
    assert same(PARSER.parse_override(f"k={format_value(value)}").value(), value)


def delivered(sweep_dir):
    return sorted(json.loads(p.read_text())["type"] + ":" + json.loads(p.read_text())["value"]
                  for p in sweep_dir.glob("*/delivered.json"))


CHOICES = "null,true,1,1.0,'1','true','null',adam,'a b','x=y,z','it\\'s',[1,2],'[1,2]',{a:1}"


def test_both_sweepers_hand_the_jobs_the_same_values(tmp_path):
    (tmp_path / "basic").mkdir()
    (tmp_path / "budget").mkdir()
    run_app(tmp_path / "basic", f"v={CHOICES}", module="tests.apps.echo_app", sweeper="basic")
    run_app(tmp_path / "budget", f"v={CHOICES}", module="tests.apps.echo_app", sweeper="budget",
            *["hydra/sweeper/sampler=grid", "hydra.sweeper.n_trials=100", "hydra.sweeper.n_jobs=14"])
    basic, ours = delivered(tmp_path / "basic" / "sweep"), delivered(tmp_path / "budget" / "sweep")
    assert len(basic) == 14 and ours == basic
    assert "NoneType:None" in ours and "str:'null'" in ours and "list:[1, 2]" in ours and "str:'[1,2]'" in ours


def test_a_custom_search_space_and_a_search_space_config_hand_over_python_values(tmp_path):
    run_app(tmp_path, "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=0", "hydra.sweeper.n_trials=30",
            "hydra.sweeper.n_jobs=30",
            "hydra.sweeper.custom_search_space=tests.apps.echo_app.custom_space", "+hydra.sweeper.params.v=0",
            module="tests.apps.echo_app", sweeper="budget")
    jobs = sorted((tmp_path / "sweep").glob("*/.hydra/config.yaml"))
    got = {repr(yaml.safe_load(p.read_text())["w"]) for p in jobs}
    assert len(jobs) == 30 and got == {repr(v) for v in [None, True, 1, 1.5, "1", "null", "a b", "x=y,z", "it's",
                                                          "[1,2]"]}
