"""The per-process caches (budgetsweep.tasks.cache): a task's data is built once per content, a changed
config or corpus file misses, no job sees another job's in-place edits, and cached FLOPs equal counted ones."""
import numpy as np
import pytest
import torch

from budgetsweep.plan import plan_run
from budgetsweep.recipe import DataSpec, OptimSpec, Recipe, TrainSpec
from budgetsweep.tasks.cache import DATASETS, FLOPS, ContentCache
from budgetsweep.tasks.charlm import CharLM
from budgetsweep.tasks.digits import Digits
from budgetsweep.tasks.teacher_student import TeacherStudent
from budgetsweep.train import train
from budgetsweep.flops import training_flops_per_example
from tests.reporters import RecordingReporter as Log

MLP = {"_target_": "budgetsweep.tasks.models.MLP", "hidden": 32, "depth": 1}
PROXY = ["experiment=proxy50", "model.hidden=16"]


@pytest.fixture(autouse=True)
def empty_caches():
    DATASETS.clear()
    FLOPS.clear()
    yield
    DATASETS.clear()
    FLOPS.clear()


def recipe(fraction=1.0, model=MLP, **spec):
    spec = {"batch_size": 32, "steps": 6, "epochs": None, "eval_every": 3, "device": "cpu", **spec}
    return Recipe(task={}, model=dict(model), optim=OptimSpec(lr=0.01), train=TrainSpec(**spec),
                  data=DataSpec(fraction=fraction), seed=3)


# -- datasets: hit, miss, bounded -------------------------------------------------------------
def test_same_digits_config_builds_once_across_jobs():
    first = Digits(split_seed=0).build_data(recipe(0.1))
    second = Digits(split_seed=0).build_data(recipe(0.5))  # a new task object per job, as plan_run makes
    assert DATASETS.builds == 1 and DATASETS.hits == 1
    assert len(first.train_y) == 108 and len(second.train_y) == 539  # subsets of the one cached split
    assert torch.equal(first.val_x, second.val_x)


@pytest.mark.parametrize("changed", [{"split_seed": 1}, {"val_fraction": 0.25}, {"test_fraction": 0.3}])
def test_a_changed_digits_config_misses(changed):
    base = Digits().build_data(recipe())
    other = Digits(**changed).build_data(recipe())
    assert DATASETS.builds == 2 and DATASETS.hits == 0
    assert not (base.val_x.shape == other.val_x.shape and torch.equal(base.val_x, other.val_x))


def test_jobs_of_a_sweep_over_the_split_seed_build_once_per_value(compose_cfg):
    for seed in (0, 1, 0, 1, 2):
        plan_run(compose_cfg(["task.split_seed=" + str(seed), *PROXY])).task.n_train()
    # built once per distinct seed; planning reads the splits several times per job (sizes, baseline)
    assert DATASETS.builds == 3 and DATASETS.hits >= 2


def test_a_corpus_file_changed_between_jobs_misses(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("abcdefgh " * 200)
    first = CharLM(corpus_path=str(corpus), context=8)
    again = CharLM(corpus_path=str(corpus), context=8)
    assert DATASETS.builds == 1 and DATASETS.hits == 1
    assert torch.equal(first.build_data(recipe()).train_x, again.build_data(recipe()).train_x)
    corpus.write_text("zyxwvuts " * 200)  # same path, same size, new content
    changed = CharLM(corpus_path=str(corpus), context=8)
    assert DATASETS.builds == 2
    assert changed.vocab.chars == " stuvwxyz" and first.vocab.chars == " abcdefgh"
    assert changed.build_data(recipe()).info["corpus_sha256"] != first.build_data(recipe()).info["corpus_sha256"]
    CharLM(corpus_path=str(corpus), context=16)  # a split setting is part of the key too
    assert DATASETS.builds == 3


def test_teacher_student_hits_and_misses():
    TeacherStudent(n_train=64, n_val=16, n_test=16).build_data(recipe())
    TeacherStudent(n_train=64, n_val=16, n_test=16).build_data(recipe())
    TeacherStudent(n_train=64, n_val=16, n_test=16, teacher_seed=7).build_data(recipe())
    assert DATASETS.builds == 2 and DATASETS.hits == 1


def test_the_dataset_cache_is_bounded():
    for seed in range(3 * DATASETS.maxsize):
        Digits(split_seed=seed).n_train()
    assert len(DATASETS) == DATASETS.maxsize
    Digits(split_seed=0).n_train()  # evicted long ago: built again, never a stale entry
    assert DATASETS.builds == 3 * DATASETS.maxsize + 1


def test_content_cache_checks_its_size_and_caches_no_failed_build():
    with pytest.raises(ValueError, match="maxsize=0"):
        ContentCache("x", 0)
    cache = ContentCache("x", 2)
    with pytest.raises(RuntimeError):
        cache.get("k", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert cache.get("k", lambda: 5) == 5 and cache.builds == 1


# -- no stale or mutated data ---------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: Digits(), lambda: TeacherStudent(n_train=64, n_val=16, n_test=16),
                                  lambda: CharLM(context=16, max_val_blocks=8)], ids=["digits", "teacher", "charlm"])
def test_a_job_editing_its_tensors_in_place_does_not_reach_the_next_job(make):
    pristine = make().build_data(recipe())
    reference = {k: getattr(pristine, k).clone() for k in ("train_x", "train_y", "val_x", "val_y")}
    for name in reference:  # job 1 edits every tensor it got, in place
        getattr(pristine, name).zero_()
    if pristine.test_x is not None:
        pristine.test_x.zero_()
    job2 = make().build_data(recipe())
    assert DATASETS.builds == 1  # job 2 was served from the cache ...
    for name, value in reference.items():  # ... with the original values
        assert torch.equal(getattr(job2, name), value), name
    assert job2.test_x is None or job2.test_x.abs().sum() > 0


def test_cached_digits_splits_are_read_only():
    splits = Digits()._load()
    with pytest.raises(ValueError, match="read-only"):
        splits[0][0, 0] = 1.0
    assert all(not array.flags.writeable for array in splits)
    assert isinstance(splits[0], np.ndarray)


# -- FLOPs --------------------------------------------------------------------------------------
def uncached_flops(task, rec, batch):
    data = task.build_data(rec)
    return training_flops_per_example(task.build_model(rec), task.loss, data.train_x[:batch], data.train_y[:batch])


def test_planned_flops_cached_per_model_equal_the_uncached_count(compose_cfg):
    plans = [plan_run(compose_cfg([f"model.hidden={h}", f"seed={s}", "experiment=proxy50"]))
             for h in (16, 64) for s in (0, 1)]
    # counted once per distinct model, not per job: each plan asks twice (its recipe, and its full recipe
    # for the predicted factor), so 8 asks are 2 builds and 6 hits
    assert FLOPS.builds == 2 and FLOPS.hits == 6
    for plan in plans:
        assert plan.flops_per_example == uncached_flops(plan.task, plan.recipe, 8)
    assert plans[0].flops_per_example == plans[1].flops_per_example < plans[2].flops_per_example


def test_trainer_flops_cached_equal_uncached_and_leave_training_unchanged():
    dropout = {**MLP, "dropout": 0.3}  # the counting pass must not consume the run's random stream
    miss, hit = Log(), Log()
    first = train(recipe(model=dropout), Digits(), miss)
    second = train(recipe(model=dropout), Digits(), hit)
    assert FLOPS.builds == 1 and FLOPS.hits == 1
    assert first.flops_per_example == second.flops_per_example == uncached_flops(Digits(), recipe(model=dropout), 32)
    assert miss.rows == hit.rows and first.metrics == second.metrics  # a hit trains exactly as a miss
    for a, b in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)
