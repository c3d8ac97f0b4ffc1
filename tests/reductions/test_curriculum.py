import numpy as np
import pytest

from budgetsweep.reductions import Curriculum, DataSubset, apply_all
from budgetsweep.reductions.curriculum import PACINGS, pacing_fraction, pacing_size, scores_cache_file
from budgetsweep.tasks import Digits
from budgetsweep.train import train
from tests.reductions.conftest import prepared
from tests.reporters import RecordingReporter as Counter


def batch_sampler(recipe, task, x, y, batch, total_steps):
    """The sampler a run of ``recipe`` draws its batches from (its runtimes' ``sampler`` hook)."""
    return prepared(recipe, task, Counter()).sampler(None, x, y, batch, total_steps)


@pytest.fixture
def short(base_recipe):
    return base_recipe.evolve(train={"epochs": 0.5})  # 17 steps


@pytest.fixture
def recipe(short, tmp_path):
    def _recipe(**params):
        r = Curriculum(cache_dir=str(tmp_path / "cache"), **{"scorer_epochs": 0.5, **params})
        return r, r.apply(short)

    return _recipe


@pytest.mark.parametrize("pacing", PACINGS)
def test_pacing_starts_at_b_and_reaches_all_at_the_ramp_end(pacing):
    f = [pacing_fraction(s, 100, pacing=pacing, start_fraction=0.2, ramp_fraction=0.5) for s in range(101)]
    assert f[0] == pytest.approx(0.2)
    assert f[50] == pytest.approx(1.0, abs=1e-3) and f[100] == 1.0
    assert all(a <= b + 1e-12 for a, b in zip(f, f[1:]))


def test_pacing_formulas():
    at = lambda pacing: pacing_fraction(25, 100, pacing=pacing, start_fraction=0.2, ramp_fraction=0.5)  # tau=0.5
    assert at("linear") == pytest.approx(0.2 + 0.8 * 0.5)
    assert at("quad") == pytest.approx(0.2 + 0.8 * 0.25)
    assert at("root") == pytest.approx(0.2 + 0.8 * 0.5 ** 0.5)
    assert at("exp") == pytest.approx(0.2 + 0.8 * (np.exp(5) - 1) / (np.exp(10) - 1))
    assert at("log") == pytest.approx(0.2 + 0.8 * (1 + 0.1 * np.log(0.5 + np.exp(-10))))
    assert at("step") == pytest.approx(0.2)
    assert pacing_size(0, 100, n=1000, batch=32, pacing="linear", start_fraction=0.01, ramp_fraction=0.5) == 32


def drawn(sampler, steps):
    return [set(sampler.next(s).tolist()) for s in steps]


@pytest.mark.parametrize("order", ["easy_first", "hard_first", "random"])
def test_first_steps_draw_from_the_paced_front_of_the_order(recipe, order):
    red, r = recipe(order=order, pacing="linear", start_fraction=0.2, ramp_fraction=0.5)
    task = Digits()
    data = task.build_data(r)
    n = len(data.train_x)
    scores = np.random.default_rng(0).random(n)  # known difficulties, written where the run looks for them
    path = scores_cache_file(red.cache_dir, r.extra["curriculum"]["scores"], r)
    path.parent.mkdir(parents=True)
    np.save(path, scores, allow_pickle=False)
    sampler = batch_sampler(r, task, data.train_x, data.train_y, 32, 100)
    rank = np.empty(n, dtype=int)
    rank[np.argsort(scores, kind="stable")] = np.arange(n)  # 0 = easiest
    first = drawn(sampler, range(10))
    for step, idx in enumerate(first):
        front = pacing_size(step, 100, n, 32, pacing="linear", start_fraction=0.2, ramp_fraction=0.5)
        ranks = rank[list(idx)]
        if order == "easy_first":
            assert ranks.max() < front
        elif order == "hard_first":
            assert ranks.min() >= n - front
    seen = rank[list(set().union(*first))]
    if order == "random":  # the control draws across all difficulties
        assert seen.max() > 0.9 * n and seen.min() < 0.1 * n
    late = rank[list(set().union(*drawn(sampler, range(60, 70))))]
    assert late.max() > 0.9 * n and late.min() < 0.1 * n  # after the ramp: everything


def test_scores_are_computed_once_then_cached(recipe, short):
    red, r = recipe()
    before = red.describe(short)
    assert before["predicted_cost_factor"] > 1 and "on the fly" in before["reason"]
    first, second = Counter(), Counter()
    extra_examples, _ = red.extra_work(r)  # what a cost model adds for the scorer
    result = train(r, Digits(), first)
    info = result.info["curriculum"]
    assert info["cached"] is False and first.examples == result.examples + extra_examples > result.examples
    assert red.extra_work(r) == (0, 0.0)
    scores = np.load(info["scores"], allow_pickle=False)
    assert scores.shape == (len(Digits().build_data(r).train_x),) and np.isfinite(scores).all()
    again = train(r, Digits(), second)
    assert again.info["curriculum"]["cached"] is True and second.examples == again.examples
    assert red.predicted_cost_factor(short) == 1.0


def test_easy_first_sees_lower_loss_examples_early(recipe):
    red, r = recipe(start_fraction=0.1)
    task = Digits()
    train(r, task, Counter())  # computes and caches the scores
    data = task.build_data(r)
    scores = np.load(scores_cache_file(red.cache_dir, r.extra["curriculum"]["scores"], r))
    sampler = batch_sampler(r, task, data.train_x, data.train_y, 32, 100)
    early = scores[list(sampler.next(0).tolist())]
    assert early.max() <= np.quantile(scores, 0.1) + 1e-12


def test_random_order_trains_no_scorer(recipe, short):
    red, r = recipe(order="random")
    counter = Counter()
    result = train(r, Digits(), counter)
    assert counter.examples == result.examples and red.predicted_cost_factor(short) == 1.0


def test_reference_run_scores_without_training_a_scorer(short, saved_run, tmp_path):
    red = Curriculum(reference=str(saved_run), cache_dir=str(tmp_path))
    r = red.apply(short)
    assert r.extra["curriculum"]["scores"]["reference"]["model"] == short.model
    counter = Counter()
    result = train(r, Digits(), counter)
    assert counter.examples == result.examples and result.info["curriculum"]["reference"]


def test_scorer_planned_for_other_data_is_a_clear_error(tmp_path, short):
    recipe, _, _ = apply_all([Curriculum(cache_dir=str(tmp_path)), DataSubset(fraction=0.5)], short)
    with pytest.raises(ValueError, match="list curriculum after data_subset"):
        train(recipe, Digits(), Counter())


@pytest.mark.parametrize("key, value", [("pacing", "cubic"), ("start_fraction", 0), ("ramp_fraction", 2),
                                        ("order", "backwards"), ("scorer_epochs", 0), ("reference", "/no/such/run")])
def test_parameters_validated(key, value):
    with pytest.raises(ValueError, match=f"reduction.curriculum.{key}"):
        Curriculum(**{key: value})
