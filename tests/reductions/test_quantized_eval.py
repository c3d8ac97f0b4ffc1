import pytest
import torch

from budgetsweep.reductions import QuantizedEval
from budgetsweep.tasks import Digits
from budgetsweep.train import train
from budgetsweep.reductions.quantized_eval import QuantizedEvalRuntime, quantized_copy
from budgetsweep.train.auxiliary import Trainer
from tests.reporters import RecordingReporter as Log


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_evaluates_quantized_and_records_the_change(base_recipe, precision):
    recipe = QuantizedEval().apply(base_recipe.evolve(train={"steps": 30, "epochs": None, "precision": precision}))
    log = Log()
    m = train(recipe, Digits(), log).metrics
    assert m["val_loss"] == log.rows[-1][1]["val_loss"]  # the objective is the quantized model's
    assert m["quantized_eval_change_loss"] == pytest.approx(m["val_loss"] - m["val_loss_fp32"])
    assert m["quantized_eval_change_loss"] != 0 and abs(m["quantized_eval_change_loss"]) < 0.05
    assert abs(m["quantized_eval_change_accuracy"]) < 0.05


def test_quantized_copy_leaves_the_model_alone():
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    q = quantized_copy(model, "qint8")
    assert type(model[0]) is torch.nn.Linear and "quantized.dynamic" in type(q.inner[0]).__module__


def test_refuses_cuda(base_recipe):
    with pytest.raises(ValueError, match="CPU only"):
        recipe = QuantizedEval().apply(base_recipe)
        runtime = QuantizedEvalRuntime(recipe.extra["quantized_eval"], recipe)
        runtime.prepare(Trainer(recipe, Digits(), None, torch.device("cuda"), train, None))
    with pytest.raises(ValueError, match="train.device='cuda'"):
        QuantizedEval().apply(base_recipe.evolve(train={"device": "cuda"}))


def test_dtype_validated():
    with pytest.raises(ValueError, match="reduction.quantized_eval.dtype"):
        QuantizedEval(dtype="int4")
