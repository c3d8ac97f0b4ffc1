import json
import pickle

import pytest
import torch

from budgetsweep.recipe import Recipe
from budgetsweep.reductions import Transfer
from budgetsweep.tasks import Digits
from budgetsweep.train import train
from budgetsweep.train.checkpoints import load_into
from budgetsweep.train.optim import param_groups
from tests.reductions.conftest import prepared, unit_scales
from tests.conftest import load_json
from tests.reporters import RecordingReporter as Quiet


def init_from(recipe: Recipe, model):
    """The transfer runtime's ``init_model`` hook on ``model``; returns its load report."""
    hooks = prepared(recipe)
    hooks.init_model(model)
    return hooks.items[0].report


def deeper(recipe: Recipe) -> Recipe:
    return recipe.evolve(model={**recipe.model, "depth": 2})  # 64-16-16-10 against the saved 64-16-10


def test_partial_transfer_loads_matching_tensors_and_reports_the_others(base_recipe, saved_run):
    saved = torch.load(saved_run / "checkpoint.pt", weights_only=True)
    recipe = Transfer(checkpoint=str(saved_run)).apply(deeper(base_recipe))
    model = Digits().build_model(recipe)
    report = init_from(recipe, model)
    assert report.loaded == ["net.0.weight", "net.0.bias"]
    assert set(report.skipped) == {"net.2.weight", "net.2.bias"}
    assert "shape [10, 16] in the checkpoint, [16, 16] in the model" == report.skipped["net.2.weight"]
    assert report.missing == ["net.4.weight", "net.4.bias"]
    state = model.state_dict()
    assert torch.equal(state["net.0.weight"], saved["net.0.weight"])
    assert not torch.equal(state["net.2.bias"][:10], saved["net.2.bias"])
    info = report.summary()
    assert info["loaded"] == 2 and info["skipped"] == report.skipped


def test_strict_transfer_refuses_a_mismatch_naming_the_path(base_recipe, saved_run):
    recipe = Transfer(checkpoint=str(saved_run), strict=True).apply(deeper(base_recipe))
    with pytest.raises(ValueError, match=r"checkpoint .*checkpoint.pt does not match the model \(4 tensor"):
        train(recipe, Digits(), Quiet())
    same = Transfer(checkpoint=str(saved_run / "checkpoint.pt"), strict=True).apply(base_recipe)
    model = Digits().build_model(same)
    assert init_from(same, model).loaded == ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"]


def test_frozen_modules_keep_their_weights_and_others_train(base_recipe, saved_run):
    saved = torch.load(saved_run / "checkpoint.pt", weights_only=True)
    recipe = Transfer(checkpoint=str(saved_run), freeze=["net.0"]).apply(
        base_recipe.evolve(train={"steps": 10, "epochs": None}))
    result = train(recipe, Digits(), Quiet())
    state = result.model.state_dict()
    assert torch.equal(state["net.0.weight"], saved["net.0.weight"])
    assert not torch.equal(state["net.2.weight"], saved["net.2.weight"])
    assert result.info["transfer"]["frozen"] == ["net.0.weight", "net.0.bias"]


def test_unknown_module_to_freeze_lists_the_modules(base_recipe, saved_run):
    recipe = Transfer(checkpoint=str(saved_run), freeze=["encoder"]).apply(base_recipe)
    with pytest.raises(ValueError, match=r"reduction.transfer.freeze=\['encoder'\].*'net.0'"):
        init_from(recipe, Digits().build_model(recipe))


def test_transferred_parameters_get_the_lower_learning_rate(base_recipe, saved_run):
    recipe = Transfer(checkpoint=str(saved_run), lr_scale=0.1).apply(deeper(base_recipe))
    model = Digits().build_model(recipe)
    hooks = prepared(recipe)
    hooks.init_model(model)
    groups = param_groups(model, hooks.lr_scales(model, unit_scales(model)))
    by_scale = {g["lr_scale"]: g["params"] for g in groups}
    assert set(by_scale) == {0.1, 1.0}
    named = dict(model.named_parameters())
    assert [p is named["net.0.weight"] or p is named["net.0.bias"] for p in by_scale[0.1]] == [True, True]


class Payload:
    """Any object a pickle could carry; weights_only loading must refuse it."""


def test_checkpoints_load_with_weights_only(saved_run, tmp_path):
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as fh:
        pickle.dump({"net.0.weight": Payload()}, fh, protocol=2)
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match=f"checkpoint {evil} could not be loaded with weights_only=True"):
        load_into(model, evil)
    with pytest.raises(ValueError, match="does not exist"):
        load_into(model, tmp_path / "missing.pt")


def test_missing_checkpoint_names_key_and_path(tmp_path):
    with pytest.raises(ValueError, match=r"reduction.transfer.checkpoint='.*nothing-here': no such file"):
        Transfer(checkpoint=str(tmp_path / "nothing-here"))


@pytest.mark.parametrize("key, value", [("strict", "yes"), ("freeze", "net.0"), ("lr_scale", 0), ("lr_scale", 2)])
def test_parameters_validated(key, value, saved_run):
    with pytest.raises(ValueError, match=f"reduction.transfer.{key}"):
        Transfer(**{"checkpoint": str(saved_run), key: value})


@pytest.mark.slow  # two app subprocesses
def test_app_saves_a_checkpoint_a_later_run_transfers_from(run_cli, tmp_path):
    fast = ["train.epochs=1", "model.hidden=16", "train.device=cpu"]
    run_cli(["task=digits", "train.save_checkpoint=true", f"hydra.run.dir={tmp_path / 'source'}", *fast], cwd=tmp_path)
    run_cli(["task=digits", "reduction=transfer", f"reduction.transfer.checkpoint={tmp_path / 'source'}",
             "reduction.transfer.freeze=[net.0]", f"hydra.run.dir={tmp_path / 'target'}", *fast], cwd=tmp_path)
    record = load_json(tmp_path / "target" / "record.json")
    assert record["status"] == "completed"
    assert record["recipe"]["extra"]["transfer"]["checkpoint"] == str((tmp_path / "source" / "checkpoint.pt").resolve())
    assert record["reductions"][0]["reason"]
    json.dumps(record)
