import optuna
import pytest

from budgetsweep.budget.optuna_objects import build_pruner, build_sampler


def test_null_arguments_mean_optunas_defaults_and_raise_no_deprecation_warning(recwarn):
    sampler = build_sampler({"_target_": "optuna.samplers.TPESampler", "seed": 3, "multivariate": None,
                             "consider_prior": None, "consider_endpoints": None})
    assert isinstance(sampler, optuna.samplers.TPESampler)
    assert not [w for w in recwarn if issubclass(w.category, FutureWarning)]


def test_grid_gets_the_search_space():
    sampler = build_sampler({"_target_": "optuna.samplers.GridSampler", "_partial_": True, "seed": 0}, {"x": [1, 2]})
    assert isinstance(sampler, optuna.samplers.GridSampler)


def test_nested_pruner_and_required_none_argument():
    pruner = build_pruner({"_target_": "optuna.pruners.PatientPruner", "patience": 2, "min_delta": 0.0,
                           "wrapped_pruner": {"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 1}})
    assert isinstance(pruner, optuna.pruners.PatientPruner)
    alone = build_pruner({"_target_": "optuna.pruners.PatientPruner", "patience": 2, "wrapped_pruner": None})
    assert isinstance(alone, optuna.pruners.PatientPruner)
    assert isinstance(build_pruner(None), optuna.pruners.NopPruner)


@pytest.mark.parametrize("conf,message", [
    ({"_target_": "optuna.pruners.PatientPruner", "patience": "???"}, "hydra.sweeper.pruner.patience is required"),
    ({"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": -1},
     "hydra.sweeper.pruner: optuna.pruners.MedianPruner"),
    ({"_target_": "optuna.pruners.NoSuchPruner"}, "cannot be imported"),
])
def test_bad_pruner_config_is_named(conf, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        build_pruner(conf)


def test_a_bad_dotted_path_is_one_message_without_hydras_error_line(caplog):
    """Dotted paths go through hydra.utils.get_method; Hydra's own ERROR log line is not shown."""
    import logging

    from budgetsweep.budget.optuna_objects import build_pruner, get_method

    assert get_method("optuna.pruners.MedianPruner").__name__ == "MedianPruner"
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(ValueError, match=r"hydra.sweeper.pruner._target_='optuna.pruners.NoSuch' cannot be "
                                             r"imported"):
            build_pruner({"_target_": "optuna.pruners.NoSuch"})
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert not logging.getLogger("hydra.utils").disabled
