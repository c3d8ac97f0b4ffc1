"""``reduction=quantized_eval``: evaluate with dynamically quantized Linear layers (CPU).

Every evaluation during the run uses a copy of the model whose ``nn.Linear`` layers are dynamically
quantized (weights stored in int8 - or float16 - activations quantized on the fly), so the
reported validation metrics and the objective are those of the quantized model. At the end the
full-precision model is evaluated once more and the record's metrics get, per validation metric,
``val_<m>_fp32`` and ``quantized_eval_change_<m>`` (quantized minus full precision), so the error
the proxy introduces is on record.

For proxies whose cost is dominated by evaluation (large validation sets, frequent evaluations) on
CPU. Training is unchanged: predicted factor 1 (evaluation is not counted in examples or FLOPs);
any saving shows in wall time only. Uses ``torch.ao.quantization.quantize_dynamic`` (deprecated
upstream in favour of torchao, still present in torch 2.13); needs a CPU run.
"""
from __future__ import annotations

from budgetsweep.recipe import Recipe
from budgetsweep.reductions.base import choice
from budgetsweep.reductions.support import ExplainedReduction, with_extra

DTYPES = ("qint8", "float16")


class QuantizedEval(ExplainedReduction):
    name = "quantized_eval"
    changes = ("extra.quantized_eval",)

    def __init__(self, dtype: str = "qint8") -> None:
        self.dtype = choice("reduction.quantized_eval.dtype", dtype, DTYPES)

    def apply(self, recipe: Recipe) -> Recipe:
        if recipe.train.device == "cuda":
            raise ValueError("reduction=quantized_eval evaluates with dynamically quantized Linear layers, which "
                             "run on CPU only; train.device='cuda' is not allowed with it")
        return with_extra(recipe, self.name, {"dtype": self.dtype, "layers": ["Linear"]})

    def estimate(self, recipe: Recipe) -> tuple[float, str]:
        return 1.0, "training is unchanged; only evaluation (not counted in examples or FLOPs) is cheaper"
