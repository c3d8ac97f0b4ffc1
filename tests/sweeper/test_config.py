"""The sweeper's config groups compose, carry Optuna 5's defaults, and build real samplers/pruners."""
import optuna
import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from budgetsweep.budget.optuna_objects import build_pruner, build_sampler
from hydra_plugins.budgetsweep_sweeper.config import PRUNERS, SAMPLERS


def sweeper_node(*overrides):
    with initialize_config_module(config_module="budgetsweep.conf", version_base=None):
        cfg = compose(config_name="config", overrides=["hydra/sweeper=budget", *overrides], return_hydra_config=True)
    return OmegaConf.to_container(cfg.hydra.sweeper, resolve=True, throw_on_missing=False)


def test_defaults_are_upstreams_fields_with_optuna5_sampler_defaults():
    node = sweeper_node()
    assert node["_target_"] == "hydra_plugins.budgetsweep_sweeper.budget_sweeper.BudgetSweeper"
    for key in ("direction", "storage", "study_name", "n_trials", "n_jobs", "max_failure_rate", "search_space",
                "params", "custom_search_space"):
        assert key in node
    assert (node["direction"], node["storage"], node["n_trials"], node["n_jobs"]) == ("minimize", None, 20, 2)
    tpe = node["sampler"]
    assert tpe["_target_"] == "optuna.samplers.TPESampler"
    assert tpe["multivariate"] is None and tpe["constant_liar"] is True and tpe["n_startup_trials"] == 10
    assert tpe["consider_endpoints"] is None  # upstream's deprecated field: accepted, not passed
    assert node["pruner"] == {"_target_": "optuna.pruners.NopPruner"}
    assert node["budget"]["limit"] is None and node["budget"]["unit"] == "gpu_hours"


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_composes_and_builds(name):
    node = sweeper_node(f"hydra/sweeper/sampler={name}", "hydra.sweeper.sampler.seed=1")
    sampler = build_sampler(node["sampler"], {"x": [1, 2]})
    assert isinstance(sampler, optuna.samplers.BaseSampler)


@pytest.mark.parametrize("name", sorted(PRUNERS))
def test_every_pruner_composes_and_builds(name):
    extra = ["hydra.sweeper.pruner.patience=2"] if name == "patient" else []
    node = sweeper_node(f"hydra/sweeper/pruner={name}", *extra)
    assert isinstance(build_pruner(node["pruner"]), optuna.pruners.BasePruner)


def test_our_sampler_nodes_win_when_hydra_optuna_sweeper_is_installed_too():
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="hydra-optuna-sweeper is not installed")
    with initialize_config_module(config_module="budgetsweep.conf", version_base=None):
        cfg = compose(config_name="config", overrides=["hydra/sweeper=optuna"], return_hydra_config=True)
    assert "constant_liar" in cfg.hydra.sweeper.sampler  # ours, whatever order Hydra scanned plugins in
