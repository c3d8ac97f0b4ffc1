"""Planned work equals measured work: the plan (what the budget sweeper reserves) and the trainer
count examples with the same formulas, for every built-in task, reduction list, fraction, batch size
and dataset size; each reduction that reads steps or epochs realises its documented factor, for
steps-based and epochs-based recipes alike (the built-in trainer and a user's own loop)."""
import itertools
import random

import pytest

import budgetsweep
from budgetsweep.app import run
from budgetsweep.plan import plan_run
from budgetsweep.records import read_record

TINY = {"teacher_student": ["task=teacher_student", "model.hidden=4", "task.n_val=16", "task.n_test=16",
                            "task.input_dim=3", "task.teacher_hidden=4"],
        "teacher_student_cls": ["task=teacher_student", "task.kind=classification", "task.output_dim=3",
                                "model.hidden=4", "task.n_val=16", "task.n_test=16", "task.input_dim=3",
                                "task.teacher_hidden=4"],
        "digits": ["task=digits", "model.hidden=4", "model.depth=1"],
        "charlm": ["task=charlm", "model.n_layer=1", "model.n_head=1", "model.n_embd=8", "task.context=8",
                   "task.max_val_blocks=2"]}
QUIET = ["train.device=cpu", "train.warmup_steps=2", "train.eval_every=1000"]

# reduction lists with the overrides that parametrise them (fractions chosen so that sizes round)
REDUCTION_LISTS = {
    "full": ["reduction=full"],
    "data_subset": ["reduction=data_subset"],
    "data_subset_keep_steps": ["reduction=data_subset", "reduction.data_subset.keep=steps"],
    "subset+short": ["reduction=[data_subset,short_schedule]", "reduction.short_schedule.fraction=0.3"],
    "subset+batch": ["reduction=[data_subset,batch_scaling]", "reduction.batch_scaling.factor=0.6"],
    "synthetic": ["reduction=synthetic_data", "reduction.synthetic_data.size=0.33"],
    "subset+synthetic_steps": ["reduction=[data_subset,synthetic_data]", "reduction.synthetic_data.keep=steps"],
    # reductions that train an auxiliary model first (a scorer, a teacher): its examples are planned too
    "subset+curriculum": ["reduction=[data_subset,curriculum]", "reduction.curriculum.scorer_epochs=0.5"],
    "distill+subset": ["reduction=[distill,data_subset]"],
    "subset+model_scale": ["reduction=[data_subset,model_scale]"],
}
AUXILIARY = ("curriculum", "distill")  # not on charlm: a sequence teacher/scorer would cost minutes
FRACTIONS = [1.0, 0.5, 0.1, 0.07, 0.037, 0.01]
BATCHES = [1, 7, 64, 600]
SIZES = [1, 13, 100, 512]  # teacher_student's task.n_train


def _grid():
    """A seeded sample of the full product (all of it would take minutes), always including the
    reported fault (n_train=512, fraction 0.01 and 0.1, batch 64)."""
    cases = [("teacher_student", "data_subset", f, 64, 512) for f in (0.01, 0.1)]
    product = list(itertools.product(["teacher_student", "teacher_student_cls"], REDUCTION_LISTS, FRACTIONS,
                                      BATCHES, SIZES))
    cases += random.Random(0).sample(product, 40)
    for task in ("digits", "charlm"):
        lists = [r for r in REDUCTION_LISTS  # charlm: token ids have no Gaussian stand-in
                 if task != "charlm" or not any(w in r for w in ("synthetic", *AUXILIARY))]
        cases += [(task, red, f, b, None) for red, f, b in
                  random.Random(1).sample(list(itertools.product(lists, FRACTIONS, BATCHES)), 5)]
    return cases


def _job(compose_cfg, tmp_path, overrides):
    cfg = compose_cfg(overrides)
    run_dir = tmp_path / "run"
    run(cfg, run_dir, overrides)
    return read_record(run_dir)


def _caches(tmp_path, reductions):
    """Auxiliary models and scores cached under the test's folder, not the working directory."""
    out = []
    if "curriculum" in reductions:
        out.append(f"reduction.curriculum.cache_dir={tmp_path / 'cache'}")
    if "distill" in reductions:
        out.append(f"reduction.distill.cache_dir={tmp_path / 'cache'}")
    return out


@pytest.mark.parametrize("task,reductions,fraction,batch,n_train", _grid())
def test_planned_examples_equal_measured(compose_cfg, tmp_path, task, reductions, fraction, batch, n_train):
    overrides = [*TINY[task], *QUIET, *REDUCTION_LISTS[reductions], f"train.batch_size={batch}",
                 *_caches(tmp_path, reductions)]
    if n_train is not None:
        overrides.append(f"task.n_train={n_train}")
    if "data_subset" in reductions or "subset" in reductions:
        overrides.append(f"reduction.data_subset.fraction={fraction}")
    # about 40 steps at most, so the whole grid trains in seconds
    overrides.append("train.epochs=1" if task != "charlm" else "train.epochs=0.02")
    if task == "digits" and batch == 1:
        overrides[-1] = "train.epochs=0.05"
    planned = plan_run(compose_cfg(overrides), overrides, count_flops=False).examples  # as the sweeper plans
    rec = _job(compose_cfg, tmp_path, overrides)
    assert rec.status == "completed", rec.error
    assert rec.cost.measured.examples == rec.info["planned_examples"] == planned


def test_the_reported_fault_is_fixed(compose_cfg, tmp_path):
    """task.n_train=512 train.epochs=2, data_subset 0.01 and 0.1 with batch 64: 6 and 104 examples."""
    base = ["task=teacher_student", "task.n_train=512", "train.epochs=2", "reduction=data_subset", *QUIET]
    for fraction, examples in ((0.01, 12), (0.1, 104)):
        overrides = [*base, f"reduction.data_subset.fraction={fraction}"]
        rec = _job(compose_cfg, tmp_path / str(fraction), overrides)
        # 0.01: 6 examples, a batch of 6, two epochs; 0.1: 52 examples, one batch of 52 per epoch
        assert (rec.info["planned_examples"], rec.cost.measured.examples) == (examples, examples)


# -- point 1: every reduction that reads steps or epochs, steps-based and epochs-based -------------------
# (reduction overrides, documented factor)
LENGTH_REDUCTIONS = {
    "data_subset": (["reduction=data_subset", "reduction.data_subset.fraction=0.25"], 0.25),
    "data_subset_keep_steps": (["reduction=data_subset", "reduction.data_subset.fraction=0.25",
                                "reduction.data_subset.keep=steps"], 1.0),
    "short_schedule": (["reduction=short_schedule", "reduction.short_schedule.fraction=0.25"], 0.25),
    "short_schedule_truncate": (["reduction=short_schedule", "reduction.short_schedule.fraction=0.25",
                                 "reduction.short_schedule.mode=truncate"], 0.25),
    "batch_scaling": (["reduction=batch_scaling", "reduction.batch_scaling.factor=0.5"], 1.0),
    "synthetic_data": (["reduction=synthetic_data", "reduction.synthetic_data.size=0.25"], 0.25),
    "synthetic_data_keep_steps": (["reduction=synthetic_data", "reduction.synthetic_data.size=0.25",
                                   "reduction.synthetic_data.keep=steps"], 1.0),
}
LENGTHS = {"steps": ["train.epochs=null", "train.steps=64"], "epochs": ["train.epochs=4"]}
BUILT_IN = ["task=teacher_student", "task.n_train=512", "model.hidden=4", "task.n_val=16", "task.n_test=16",
            "train.batch_size=32", *QUIET]


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("reduction", LENGTH_REDUCTIONS)
def test_built_in_reductions_realise_their_documented_factor(compose_cfg, tmp_path, length, reduction):
    overrides, factor = LENGTH_REDUCTIONS[reduction]
    full = _job(compose_cfg, tmp_path / "full", [*BUILT_IN, *LENGTHS[length]])
    proxy = _job(compose_cfg, tmp_path / "proxy", [*BUILT_IN, *LENGTHS[length], *overrides])
    for rec in (full, proxy):
        assert rec.cost.measured.examples == rec.info["planned_examples"]
    assert proxy.cost.predicted_factor == factor
    # 64 steps x 32 = 2048 examples in full; 0.25 of it is exactly 512
    assert full.cost.measured.examples == 2048
    assert proxy.cost.measured.examples == factor * 2048


USER_CFG = {"seed": 0, "optim": {"name": "adamw", "lr": 0.01},
            "train": {"batch_size": 32, "steps": None, "epochs": None, "warmup_steps": 4, "eval_every": 8}}
N_TRAIN = 512


def _user_examples(tmp_path, length, reduction_overrides):
    """A user's loop written as docs/own_loops.md says; returns (planned, measured) examples and the factor."""
    from tests.test_run_context import user_cfg

    names = [o.split("=", 1)[1] for o in reduction_overrides if o.startswith("reduction=")]
    params = {o.split("=", 1)[0]: _value(o.split("=", 1)[1]) for o in reduction_overrides
              if not o.startswith("reduction=")}
    cfg = user_cfg(*names, **{"train.batch_size": 32, **({"train.steps": 64} if length == "steps" else
                                                         {"train.epochs": 4, "train.steps": None}), **params})
    with budgetsweep.run_context(cfg, run_dir=tmp_path, overrides=[]) as ctx:
        ctx.subset_indices(N_TRAIN)
        for step in range(ctx.steps()):
            ctx.set_lr(_Opt(), step)
            ctx.add_cost(examples=ctx.batch_size)
    rec = read_record(tmp_path)
    return rec.info["planned_examples"], rec.cost.measured.examples, rec.cost.predicted_factor


def _value(text):
    try:
        return float(text)
    except ValueError:
        return text


class _Opt:
    param_groups = [{"lr": 0.0}]


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("reduction", [r for r in LENGTH_REDUCTIONS if not r.startswith("synthetic")])
def test_own_loop_reductions_realise_their_documented_factor(tmp_path, length, reduction):
    overrides, factor = LENGTH_REDUCTIONS[reduction]
    planned_full, measured_full, _ = _user_examples(tmp_path / "full", length, [])
    planned, measured, predicted = _user_examples(tmp_path / "proxy", length, overrides)
    assert (planned_full, planned) == (measured_full, measured)
    assert measured_full == 2048 and predicted == factor
    assert measured == factor * 2048


# -- a subset smaller than one batch: the built-in trainer caps the batch, a user's loop does not ------
CAPPED = {  # 0.05 of 512 examples is 26, fewer than a batch of 32
    "keep_steps": ["reduction=data_subset", "reduction.data_subset.fraction=0.05", "reduction.data_subset.keep=steps"],
    "keep_epochs": ["reduction=data_subset", "reduction.data_subset.fraction=0.05"],
    "subset+batch_scaling": ["reduction=[data_subset,batch_scaling]", "reduction.data_subset.fraction=0.05",
                             "reduction.batch_scaling.factor=2"],
}


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("reduction", CAPPED)
def test_built_in_factor_with_a_subset_smaller_than_a_batch_is_what_runs(compose_cfg, tmp_path, length, reduction):
    """keep=steps predicted 1.0 where the trainer, capping the batch at the 26-example subset, measured 26/32."""
    full = _job(compose_cfg, tmp_path / "full", [*BUILT_IN, *LENGTHS[length]])
    proxy = _job(compose_cfg, tmp_path / "proxy", [*BUILT_IN, *LENGTHS[length], *CAPPED[reduction]])
    measured = proxy.cost.measured.examples / full.cost.measured.examples
    assert measured < 1
    assert proxy.cost.predicted_factor == pytest.approx(measured, rel=1e-12)
    if reduction == "keep_steps":
        assert measured == 26 / 32


@pytest.mark.parametrize("length", LENGTHS)
def test_own_loop_factor_with_a_subset_smaller_than_a_batch_is_what_runs(tmp_path, length):
    """The docs' own loop (docs/own_loops.md) draws full batches with replacement: keep=steps processes the same examples."""
    _, measured_full, _ = _user_examples(tmp_path / "full", length, [])
    planned, measured, predicted = _user_examples(tmp_path / "proxy", length, CAPPED["keep_steps"])
    assert planned == measured == measured_full == 2048 and predicted == 1.0
