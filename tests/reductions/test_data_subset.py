import numpy as np
import pytest

from budgetsweep.reductions import DataSubset
from budgetsweep.tasks import Digits, subset_indices
from budgetsweep.train import train
from tests.reporters import RecordingReporter as Counter


def test_subsets_nest_and_are_stratified():
    labels = np.repeat(np.arange(10), [30, 40, 50, 60, 70, 80, 90, 100, 110, 120])
    small = subset_indices(len(labels), 0.05, seed=3, labels=labels)
    large = subset_indices(len(labels), 0.10, seed=3, labels=labels)
    assert set(small) <= set(large)
    counts = np.bincount(labels[large], minlength=10)
    assert counts.tolist() == np.ceil(0.10 * np.bincount(labels)).astype(int).tolist()
    other_seed = subset_indices(len(labels), 0.10, seed=4, labels=labels)
    assert set(other_seed) != set(large)


def test_unlabelled_subsets_nest():
    a = subset_indices(1000, 0.2, seed=0)
    b = subset_indices(1000, 0.5, seed=0)
    assert len(a) == 200 and len(b) == 500 and set(a) <= set(b)


def test_keep_epochs_cuts_steps_keep_steps_does_not(base_recipe):
    n = 1000
    epochs = DataSubset(fraction=0.1).apply(base_recipe)
    steps = DataSubset(fraction=0.1, keep="steps").apply(base_recipe)
    assert epochs.run_steps(n) == pytest.approx(base_recipe.run_steps(n) / 10, abs=1)
    assert steps.run_steps(n) == base_recipe.run_steps(n)
    assert DataSubset(fraction=0.1).predicted_cost_factor(base_recipe) == 0.1
    assert DataSubset(fraction=0.1, keep="steps").predicted_cost_factor(base_recipe) == 1.0


def test_run_trains_on_fraction_of_examples(base_recipe):
    task = Digits()
    recipe = DataSubset(fraction=0.25).apply(base_recipe)
    data = task.build_data(recipe)
    n_full = task.n_train()
    assert len(data.train_x) == pytest.approx(0.25 * n_full, abs=10)  # per-class ceil
    counter = Counter()
    result = train(recipe, task, counter)
    # same epochs over a quarter of the data: about a quarter of the examples
    full_examples = base_recipe.run_steps(n_full) * base_recipe.train.batch_size
    assert counter.examples == result.examples
    assert result.examples == pytest.approx(0.25 * full_examples, rel=0.05)
    assert result.examples / len(data.train_x) == pytest.approx(base_recipe.train.epochs, rel=0.1)


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, "half"])
def test_fraction_validated(fraction):
    with pytest.raises(ValueError, match="reduction.data_subset.fraction"):
        DataSubset(fraction=fraction)
