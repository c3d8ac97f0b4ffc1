"""budgetsweep-plan's rows: exact steps, examples, FLOPs and evaluations equal to real runs on every
built-in task; evaluation is priced and bounded by train.eval_budget_share."""
import pytest

from budgetsweep.app import run
from budgetsweep.plan import ConfigError, plan_run
from budgetsweep.plan_table import UNITS, format_table, plan_row
from budgetsweep.recipe import FORWARD_SHARE
from budgetsweep.records import read_record

TINY = {
    "digits": ["task=digits", "model.hidden=4", "model.depth=1", "train.epochs=1"],
    "teacher_student": ["task=teacher_student", "task.n_train=256", "model.hidden=4", "task.n_val=40",
                        "task.n_test=16", "task.input_dim=3", "task.teacher_hidden=4", "train.epochs=2"],
    "charlm": ["task=charlm", "model.n_layer=1", "model.n_head=1", "model.n_embd=8", "task.context=8",
               "task.max_val_blocks=20", "train.epochs=0.02"],
}
PROXY = ["reduction=[data_subset,short_schedule]", "reduction.data_subset.fraction=0.5",
         "reduction.short_schedule.fraction=0.5"]
QUIET = ["train.device=cpu", "train.warmup_steps=2", "train.eval_every=3"]


def _row(compose_cfg, overrides, tmp_path):
    return plan_row(0, compose_cfg(overrides), overrides, [], str(tmp_path / "no-records"), UNITS, {})


@pytest.mark.parametrize("reductions", [["reduction=full"], PROXY], ids=["full", "proxy"])
@pytest.mark.parametrize("task", TINY)
def test_the_plan_is_what_the_run_does(compose_cfg, tmp_path, task, reductions):
    overrides = [*TINY[task], *QUIET, *reductions]
    row = _row(compose_cfg, overrides, tmp_path)
    run(compose_cfg(overrides), tmp_path / "run", overrides)
    rec = read_record(tmp_path / "run")
    assert rec.status == "completed", rec.error
    assert (row.steps, row.examples) == (rec.info["steps"], rec.cost.measured.examples)
    assert row.flops == pytest.approx(rec.cost.measured.flops, rel=1e-9)
    assert rec.info["evaluations"] == row.evaluations and rec.info["eval_every"] == row.eval_every
    assert row.eval_examples == rec.info["eval_examples"] == rec.info["planned_eval_examples"]
    assert row.eval_flops == pytest.approx(rec.info["eval_flops"], rel=1e-9)
    assert row.eval_flops == pytest.approx(row.eval_examples * rec.info["flops_per_example"] * FORWARD_SHARE)
    if task == "charlm":
        assert row.tokens == row.examples * 8
    assert row.memory_mb > 0
    if reductions == ["reduction=full"]:
        assert row.factors == {"examples": 1.0, "flops": 1.0, "time": 1.0}
    else:
        assert 0 < row.factors["examples"] < 1 and row.factors["flops"] == pytest.approx(row.factors["examples"])


def test_evaluation_is_priced_and_bounded(compose_cfg, tmp_path):
    """charlm's 10% data + 20% steps evaluated over every validation block after every step; the share
    bound leaves only the final evaluation, and eval_subset cuts how much that one costs."""
    base = ["task=charlm", "model.n_layer=1", "model.n_head=1", "model.n_embd=8",
            "train.device=cpu", "reduction=[data_subset,short_schedule]"]
    unbounded = plan_run(compose_cfg([*base, "train.eval_budget_share=1"]), count_flops=False)
    assert unbounded.recipe.train.eval_every == 1 and unbounded.evaluations == unbounded.steps == 12
    assert unbounded.eval_examples == 12 * 256
    bounded = plan_run(compose_cfg(base), count_flops=False)
    assert bounded.evaluations == 1 and bounded.eval_examples == 256
    # training 12 x 32 blocks = 1152 forward passes; share 0.5 allows 1152 for evaluation: 3 intermediate + final
    half = plan_run(compose_cfg([*base, "train.eval_budget_share=0.5"]), count_flops=False)
    assert half.recipe.train.eval_every == 3 and half.evaluations == 4 and half.eval_examples == 4 * 256
    subset = plan_run(compose_cfg([*base, "reduction=[data_subset,short_schedule,eval_subset]"]), count_flops=False)
    assert subset.n_val == 64 and subset.eval_examples == 64 * subset.evaluations


def test_full_recipes_keep_their_evaluation_interval(compose_cfg):
    """The default share (0.1) is above every built-in full recipe's evaluation share (4-9%)."""
    for task in TINY:
        plan = plan_run(compose_cfg([f"task={task}"]), count_flops=False)
        assert plan.recipe.train.eval_every == plan.full_recipe.train.eval_every, task


@pytest.mark.parametrize("value", [0, -0.1, 1.5])
def test_eval_budget_share_out_of_range_names_the_key(compose_cfg, value):
    with pytest.raises(ConfigError, match=r"train\.eval_budget_share"):
        plan_run(compose_cfg([f"train.eval_budget_share={value}"]), count_flops=False)


def test_the_table_shows_factors_warnings_and_the_time_basis(compose_cfg, tmp_path):
    overrides = [*TINY["digits"], *QUIET, *PROXY]
    row = _row(compose_cfg, overrides, tmp_path)
    assert row.factors["examples"] == row.factors["flops"] and 0 < row.factors["time"] < 1
    assert "not calibrated" in row.time_basis
    text = format_table([row])
    assert "x time" in text and "peak MiB (est.)" in text and "not calibrated" in text


def test_a_rows_factors_do_not_depend_on_the_other_rows_of_a_grid(compose_cfg, tmp_path):
    """Two full recipes that differ only in how often they evaluate share a config key; each is its
    own reference (time factor 1), whichever row was planned first (the cache was keyed by config key)."""
    cache: dict = {}
    rows = [plan_row(i, compose_cfg(o), o, [], str(tmp_path / "none"), UNITS, cache)
            for i, o in enumerate((["task=digits", "train.eval_budget_share=0.02"],
                                   ["task=digits", "train.eval_budget_share=1", "train.eval_every=5"]))]
    assert rows[0].evaluations != rows[1].evaluations
    for row in rows:
        assert row.factors["examples"] == 1 and row.factors["time"] == pytest.approx(1.0)


# -- evaluation above its share: a plan warning (runs log and record it) with advice that works ---------------
def _over(plan):
    return [w for w in plan.warnings if w.startswith("evaluation is")]


def test_evaluation_over_its_share_is_a_plan_warning_that_the_run_records(compose_cfg, tmp_path):
    overrides = ["task=teacher_student", "experiment=proxy50", "train.device=cpu"]
    plan = plan_run(compose_cfg(overrides), overrides, count_flops=False)
    (warning,) = _over(plan)
    # 13 steps x 64 examples (277 forward passes) against a validation and a test pass of 1024 each: the
    # test pass alone is above the share, and eval_subset (which leaves the test set whole) cannot help
    assert "test pass alone (1024 examples)" in warning and "cannot bring it under" in warning
    assert "add reduction=eval_subset" not in warning
    run(compose_cfg(overrides), tmp_path, overrides)
    assert warning in read_record(tmp_path).warnings


def test_evaluation_advice_on_a_task_without_a_test_pass_is_a_subset_that_fits(compose_cfg):
    from budgetsweep.guards import evaluation_share

    overrides = ["task=charlm", "experiment=proxy50"]  # charlm evaluates validation blocks only
    plan = plan_run(compose_cfg(overrides), overrides, count_flops=False)
    assert plan.n_test == 0
    (warning,) = _over(plan)
    assert "test" not in warning and "add reduction=eval_subset with fraction <= 0.5" in warning
    # the advice works: with it the warning goes and the share is within the bound
    fixed = [*overrides, "reduction=[data_subset,short_schedule,eval_subset]", "reduction.eval_subset.fraction=0.5"]
    after = plan_run(compose_cfg(fixed), fixed, count_flops=False)
    assert _over(after) == []
    assert evaluation_share(after.examples, after.evaluations, after.n_val, after.n_test) <= 0.1


def test_no_evaluation_warning_within_the_share(compose_cfg):
    plan = plan_run(compose_cfg(["task=digits"]), ["task=digits"], count_flops=False)
    assert _over(plan) == []
