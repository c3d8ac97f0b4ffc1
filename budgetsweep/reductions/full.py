"""``reduction=full``: the identity, so full runs go through the same path as proxies."""
from budgetsweep.recipe import Recipe
from budgetsweep.reductions.base import Reduction, parameters


@parameters
class Full(Reduction):
    name = "full"

    def apply(self, recipe: Recipe) -> Recipe:
        return recipe

    def predicted_cost_factor(self, recipe: Recipe) -> float:
        return 1.0
