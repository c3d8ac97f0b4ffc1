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

import warnings

from budgetsweep.recipe import Recipe
from budgetsweep.reductions.base import parameters
from budgetsweep.reductions.runtime import Runtime
from budgetsweep.reductions.support import ExplainedReduction, with_extra
from budgetsweep.validate import choice

DTYPES = ("qint8", "float16")


def quantized_copy(model, dtype: str):
    """A dynamically quantized copy of ``model`` (its Linear layers), run outside autocast; ``model``
    is left alone."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    class FullPrecisionInputs(torch.nn.Module):
        """Runs the quantized copy outside autocast: quantized kernels take float32 activations."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x):
            with torch.autocast("cpu", enabled=False):
                return self.inner(x.float() if x.is_floating_point() else x)

    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao
        warnings.simplefilter("ignore")
        dtypes = {"qint8": torch.qint8, "float16": torch.float16}
        return FullPrecisionInputs(quantize_dynamic(model, {torch.nn.Linear}, dtype=dtypes[dtype]))


class QuantizedEvalRuntime(Runtime):
    """Evaluates a quantized copy; at the end adds the full-precision metrics and the change."""

    def prepare(self, trainer) -> None:
        super().prepare(trainer)
        if trainer.device.type != "cpu":
            raise ValueError(f"reduction=quantized_eval runs quantized Linear layers on CPU only; this run is on "
                             f"{trainer.device.type}: set train.device=cpu or drop quantized_eval")

    def eval_model(self, model):
        return quantized_copy(model, self.spec["dtype"])

    def final_metrics(self, model, metrics, val_x, val_y):
        full = self.trainer.evaluate(model, val_x, val_y)
        out = {}
        for name, value in full.items():
            out[f"val_{name}_fp32"] = value
            out[f"quantized_eval_change_{name}"] = metrics[f"val_{name}"] - value
        return out


@parameters
class QuantizedEval(ExplainedReduction):
    name = "quantized_eval"
    changes = ("extra.quantized_eval",)
    runtime = QuantizedEvalRuntime

    dtype: str = "qint8"

    def __post_init__(self) -> None:
        self.dtype = choice("reduction.quantized_eval.dtype", self.dtype, DTYPES)

    def apply(self, recipe: Recipe) -> Recipe:
        if recipe.train.device == "cuda":
            raise ValueError("reduction=quantized_eval evaluates with dynamically quantized Linear layers, which "
                             "run on CPU only; train.device='cuda' is not allowed with it")
        return with_extra(recipe, self.name, {"dtype": self.dtype, "layers": ["Linear"]})

    def estimate(self, recipe: Recipe) -> tuple[float, str]:
        return 1.0, "training is unchanged; only evaluation (not counted in examples or FLOPs) is cheaper"
