"""Drop-in for hydra-optuna-sweeper 1.3.0: same grammar, same distributions, same proposals.

The real upstream plugin runs here (installed with ``pip install --no-deps hydra-optuna-sweeper==1.3.0``:
its code runs on Optuna 5, its declared pin optuna<3 does not). Both sweepers run the same tiny app
on the same search space with the same sampler seed and arguments, and must propose the same
parameter sequence. Upstream's TPE config passes ``multivariate: false``; Optuna 5 (and so our
default) picks multivariate TPE for one objective, so with our defaults only the random start-up
trials agree.
"""
from __future__ import annotations

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from budgetsweep.budget.search_space import build_search_space

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
from tests.sweeper.conftest import examples_budget, run_app

upstream = pytest.importorskip(
    "hydra_plugins.hydra_optuna_sweeper._impl",
    reason="hydra-optuna-sweeper is not installed: pip install --no-deps hydra-optuna-sweeper==1.3.0",
)

SPACE = ["x=tag(log, interval(0.01, 10))", "y=range(0, 5)", "z=choice(a, b, c)"]
N_TPE = 12  # 10 random start-up trials, then TPE


@pytest.mark.parametrize("value", [
    "choice(1, 2, 3)", "choice(adam, sgd)", "1,2,3", "range(1, 5)", "range(1, 10, step=4)",
    "range(0.1, 1.0, step=0.2)", "interval(1, 10)", "int(interval(1, 10))", "tag(log, interval(1e-4, 1e-1))",
    "tag(log, int(interval(1, 100)))", "shuffle(choice(3, 1, 2))", "shuffle(range(1, 5))", "5", "[a,b]",
])
def test_each_grammar_case_gives_upstreams_distribution(value):
    theirs = upstream.create_optuna_distribution_from_override(OverridesParser.create().parse_override(f"p={value}"))
    space = build_search_space({"p": value}, [])
    ours = space.distributions.get("p", space.fixed.get("p"))
    if isinstance(theirs, str):
        assert ours == theirs
    elif value.startswith("shuffle"):  # upstream shuffles the choices at random; the set is the same
        assert sorted(ours.choices) == sorted(theirs.choices)
    else:  # upstream builds Optuna 2's classes, which Optuna 5 keeps as subclasses of ours
        assert isinstance(theirs, type(ours)) and theirs.__dict__ == ours.__dict__


def proposals(sweep_dir, n):
    out = []
    for number in range(n):
        overrides = yaml.safe_load((sweep_dir / str(number) / ".hydra" / "overrides.yaml").read_text())
        out.append([o for o in overrides if not o.startswith("++budgetsweep.trial")])
    return out


def run(tmp_path_factory, sweeper, *overrides, n=N_TPE):
    cwd = tmp_path_factory.mktemp(sweeper)
    extra = examples_budget(10**9) if sweeper == "budget" else []
    run_app(cwd, *extra, *overrides, f"hydra.sweeper.n_trials={n}", *SPACE, sweeper=sweeper)
    return proposals(cwd / "sweep", n)


@pytest.fixture(scope="module")
def upstream_tpe(tmp_path_factory):
    return run(tmp_path_factory, "optuna", "hydra.sweeper.sampler.seed=123", "hydra.sweeper.sampler.multivariate=false")


def test_same_tpe_arguments_give_the_same_proposals(upstream_tpe, tmp_path_factory):
    ours = run(tmp_path_factory, "budget", "hydra.sweeper.sampler.seed=123", "hydra.sweeper.sampler.multivariate=false")
    assert ours == upstream_tpe


@pytest.mark.slow
def test_our_default_tpe_is_optuna5s_and_agrees_only_during_start_up(upstream_tpe, tmp_path_factory):
    ours = run(tmp_path_factory, "budget", "hydra.sweeper.sampler.seed=123")
    assert ours[:10] == upstream_tpe[:10]
    assert ours[10:] != upstream_tpe[10:]


@pytest.mark.slow
def test_same_random_seed_gives_the_same_proposals(tmp_path_factory):
    args = ("hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=5")
    assert run(tmp_path_factory, "budget", *args, n=4) == run(tmp_path_factory, "optuna", *args, n=4)
