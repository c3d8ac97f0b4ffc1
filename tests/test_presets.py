"""Presets in conf/experiment/ (issue 14 points 4, 5): they compose, cut the cost they claim, and
charlm_proxy50 learns at 50x fewer FLOPs."""
import json

import pytest

from budgetsweep.plan import plan_run
from budgetsweep.records import read_record

PRESETS = {
    "proxy50": ("data_subset(fraction=0.1,keep=epochs,subset_seed=0)+short_schedule(fraction=0.2,mode=compress)",
                0.02),
    "small_batch": ("batch_scaling(factor=0.125,rule=sqrt,keep=steps)", 0.125),
    "mup_width": ("model_scale(width=0.125,depth=1.0,mup=True)", None),
}


@pytest.mark.parametrize("name", PRESETS)
def test_presets_compose_on_digits_with_their_reductions(compose_cfg, name):
    label, factor = PRESETS[name]
    full = plan_run(compose_cfg(["task=digits"]))
    plan = plan_run(compose_cfg(["task=digits", f"experiment={name}"]))
    assert plan.reduction_label == label
    assert plan.config_key == full.config_key  # a preset reduces; it does not change the configuration
    assert plan.predicted_factor == pytest.approx(plan.flops / full.flops)  # the planned FLOPs ratio
    if factor is not None:  # the preset's nominal factor, up to whole batches
        assert plan.predicted_factor == pytest.approx(factor, rel=0.02)
        assert plan.examples / full.examples == pytest.approx(factor, rel=0.02)


def test_step_preserving_presets_keep_every_step_and_the_cutting_one_warns(compose_cfg):
    full = plan_run(compose_cfg(["task=digits"]))
    for name in ("small_batch", "mup_width"):
        plan = plan_run(compose_cfg(["task=digits", f"experiment={name}"]))
        assert plan.steps == full.steps == 1010 and plan.warnings == ()
        assert plan.flops < full.flops / 7  # 8x (small_batch), about 21x (mup_width, MLP 64-128-128-10)
    cut = plan_run(compose_cfg(["task=digits", "experiment=proxy50"]))
    assert cut.steps == 20 and "too few optimizer steps" in cut.warnings[0]


def test_a_command_line_override_beats_the_preset(compose_cfg):
    plan = plan_run(compose_cfg(["task=digits", "experiment=small_batch", "reduction.batch_scaling.factor=0.25"]))
    assert plan.recipe.train.batch_size == 8


def test_charlm_proxy50_plans_at_least_50x_fewer_flops_and_enough_steps(compose_cfg):
    full = plan_run(compose_cfg(["task=charlm"]))
    proxy = plan_run(compose_cfg(["experiment=charlm_proxy50"]))
    assert proxy.task.name == "charlm" and proxy.recipe.train.precision == "bf16"
    assert full.flops / proxy.flops >= 50
    assert full.examples / proxy.examples >= 50
    assert proxy.steps == 98 and proxy.recipe.train.batch_size == 4  # 8x the steps of the 12-step proxy50
    # no degenerate-proxy guard fires; its one validation pass over 256 blocks is 18% of its compute, above
    # train.eval_budget_share=0.1, which the plan says with advice that would work (an eval_subset that fits)
    (warning,) = proxy.warnings
    assert warning.startswith("evaluation is 18% of this run's compute") and "fraction <= 0.507" in warning
    assert plan_run(compose_cfg(["task=charlm", "experiment=proxy50"])).steps == 12


@pytest.mark.slow
def test_charlm_proxy50_learns_at_50x_fewer_measured_flops(compose_cfg, tmp_path):
    """End to end (about 5 minutes on a shared 2-core CPU): below the unigram entropy, and the measured FLOPs
    at least 50x below the full recipe's (its examples times the counted FLOPs per example of its model)."""
    from budgetsweep.app import run
    from budgetsweep.flops import training_flops_per_example

    overrides = ["experiment=charlm_proxy50", "train.device=cpu"]
    run(compose_cfg(overrides), tmp_path, overrides)
    record = read_record(tmp_path)
    full = plan_run(compose_cfg(["task=charlm"]))
    data, model = full.task.build_data(full.recipe), full.task.build_model(full.recipe)
    per_example = training_flops_per_example(model, full.task.loss, data.train_x[:8], data.train_y[:8])
    assert record.status == "completed"
    assert full.examples * per_example / record.cost.measured.flops >= 50
    assert record.objective.value < full.task.trivial_baseline()["val_loss"]  # 3.25 nats per character
    assert record.learned["verdict"] == "learned" and record.warnings == list(plan_run(compose_cfg(overrides)).warnings)


# -- conf/hparams_search/ (issue 17 point 2): attach the budget sweeper with its search space ------------
def _hparams_search(name):
    from hydra import compose, initialize_config_module
    with initialize_config_module(config_module="budgetsweep.conf", version_base=None):
        return compose(config_name="config", overrides=[f"hparams_search={name}"], return_hydra_config=True)


def test_digits_budget_search_attaches_the_budget_sweeper_and_its_limit_is_twenty_full_runs():
    cfg = _hparams_search("digits_budget")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("BudgetSweeper")
    assert set(sweeper.params) == {"optim.lr", "model.hidden", "optim.weight_decay"}
    assert sweeper.budget.unit == "examples" and sweeper.direction == "minimize"
    plan = plan_run(cfg)  # the recipe it searches around is planned like any other
    assert plan.examples == 32_320 and sweeper.budget.limit == 20 * plan.examples


def test_digits_budget_search_runs_under_its_cap(tmp_path, run_cli):
    proc = run_cli(["-m", "hparams_search=digits_budget", "experiment=small_batch", "train.epochs=null",
                    "train.steps=10", "hydra.sweeper.n_trials=3", "hydra.sweeper.budget.limit=1000"], cwd=tmp_path)
    summary = next(tmp_path.glob("outputs/sweeps/*/*/budget_summary.json"))
    data = json.loads(summary.read_text())
    assert data["limit"] == 1000 and data["spent"] <= 1000
    assert "Best parameters" in proc.stdout + proc.stderr
