"""``reduction=mixed_precision``: run the forward pass under ``torch.autocast`` in bf16 or fp16."""
from budgetsweep.recipe import Recipe
from budgetsweep.reductions.base import Reduction, parameters
from budgetsweep.validate import choice

DTYPES = ("bf16", "fp16")


@parameters
class MixedPrecision(Reduction):
    """Lower-precision arithmetic. It processes the same examples and FLOPs (factor 1 in those
    units); the time it saves depends on the device (tensor cores), which the measured cost shows.
    fp16 needs CUDA (it uses a GradScaler); asking for it on CPU is an error at run start."""

    name = "mixed_precision"
    changes = ("train.precision",)

    dtype: str = "bf16"

    def __post_init__(self) -> None:
        self.dtype = choice("reduction.mixed_precision.dtype", self.dtype, DTYPES)

    def apply(self, recipe: Recipe) -> Recipe:
        return recipe.evolve(train={"precision": self.dtype})

    def predicted_cost_factor(self, recipe: Recipe) -> float:
        return 1.0
