"""Configurations named by the hyperparameters that differ, at digits that keep them apart."""
from __future__ import annotations

import pytest

from budgetsweep.analysis.labels import config_labels, digits_to_distinguish, format_value
from budgetsweep.analysis.render import fmt_float, fmt_sig


def test_digits_keep_distinct_values_distinct():
    assert digits_to_distinguish([0.0081, 0.0078]) == 2
    assert digits_to_distinguish([1e-3, 3e-3, 1e-2]) == 1
    assert digits_to_distinguish([0.1, 0.1000001]) == 7
    assert format_value(3e-4, 1) == "0.0003" and format_value(3e-5, 1) == "3e-5" and format_value(10.0) == "10"


def test_labels_name_only_the_fields_that_differ(runs, make_record):
    df = runs([make_record(f"k{i}", config={"optim.lr": lr, "model.hidden": h, "train.epochs": 3})
               for i, (lr, h) in enumerate([(0.0081, 64), (0.0078, 64), (0.0078, 512)])])
    assert config_labels(df) == {"k0": "hidden=64, lr=0.0081", "k1": "hidden=64, lr=0.0078",
                                 "k2": "hidden=512, lr=0.0078"}


def test_labels_fall_back_to_the_key_without_config(runs, make_record):
    df = runs([make_record("abc", config={}), make_record("def", config={})])
    assert config_labels(df) == {"abc": "abc", "def": "def"}


@pytest.mark.parametrize("value, text", [(0.0081, "0.00810"), (0.0078, "0.00780"), (0.9636, "0.964"),
                                         (1234.6, "1,235"), (2.5e-6, "2.50e-6"), (3e9, "3.00e9"), (0, "0")])
def test_numbers_at_significant_digits(value, text):
    assert fmt_sig(value, 3) == text
    assert fmt_float(3)(value) == text


def test_a_field_that_differs_between_runs_of_one_configuration_does_not_name_it(runs, make_record):
    """train.eval_budget_share changes how, not what, is trained: runs of one config key may differ in
    it, so whichever run came first must not put it into the label."""
    from budgetsweep.analysis.labels import config_labels

    records = [make_record("a", "full", 0, 1.0, config={"optim.lr": 0.01, "train.eval_budget_share": 0.1}),
               make_record("a", "full", 0, 1.0, config={"optim.lr": 0.01, "train.eval_budget_share": 0.3}),
               make_record("b", "full", 0, 2.0, config={"optim.lr": 0.02, "train.eval_budget_share": 0.3}),
               make_record("b", "full", 0, 2.0, config={"optim.lr": 0.02, "train.eval_budget_share": 0.1})]
    assert config_labels(runs(records)) == {"a": "lr=0.01", "b": "lr=0.02"}
    assert config_labels(runs(records[::-1])) == {"a": "lr=0.01", "b": "lr=0.02"}
