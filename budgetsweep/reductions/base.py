"""The reduction contract: a pure transform of a recipe with a predicted cost factor."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from dataclasses import fields, is_dataclass
from typing import Any, ClassVar

from budgetsweep.recipe import Recipe


_BY_NAME: dict[str, type] = {}  # reduction name -> the reduction class imported last with that name


def reduction_class(name: str) -> type | None:
    """The reduction class named ``name`` among those imported in this process, or None."""
    return _BY_NAME.get(name)


class Reduction(abc.ABC):
    """Turns a recipe into a cheaper one.

    Subclasses validate their parameters in ``__init__`` and keep them as attributes named
    like the constructor arguments (``params()`` reads them back for the run record).
    ``changes`` lists the recipe fields the reduction may touch, as ``section.field``.
    ``runtime``, if set, is a ``Runtime`` class built from the reduction's ``recipe.extra[name]``
    spec; the training loop calls its hooks (``budgetsweep.reductions.runtime``).
    """

    name: ClassVar[str]
    changes: ClassVar[tuple[str, ...]] = ()
    # a reduction that changes training beyond its recipe: its hooks (``budgetsweep.reductions.runtime``)
    runtime: ClassVar[type | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # every reduction class, wherever it is defined (a user's module reached by ``_target_``
        # too), is known by its name once imported: the loop finds its runtime from the recipe
        if isinstance(vars(cls).get("name"), str) or "runtime" in vars(cls):
            name = getattr(cls, "name", None)
            if isinstance(name, str):
                _BY_NAME[name] = cls

    @abc.abstractmethod
    def apply(self, recipe: Recipe) -> Recipe:
        """Return a new recipe; never mutates ``recipe``."""

    @abc.abstractmethod
    def predicted_cost_factor(self, recipe: Recipe) -> float:
        """Cost of ``apply(recipe)`` divided by the cost of ``recipe`` (compute work)."""

    def params(self) -> dict[str, Any]:
        import inspect

        sig = inspect.signature(type(self).__init__)
        return {p: getattr(self, p) for p in sig.parameters if p != "self" and hasattr(self, p)}

    def label(self) -> str:
        params = self.params()
        if not params:
            return self.name
        inner = ",".join(f"{k}={v}" for k, v in params.items())
        return f"{self.name}({inner})"

    def describe(self, recipe: Recipe) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": f"{type(self).__module__}.{type(self).__qualname__}",
            "params": self.params(),
            "changes": list(self.changes),
            "predicted_cost_factor": self.predicted_cost_factor(recipe),
        }

    def __repr__(self) -> str:
        return self.label()


def parameters(cls):
    """Class decorator: a reduction's typed parameters as a dataclass. Its annotated class attributes
    (with defaults) are the constructor's keyword arguments, its ``__post_init__`` validates and
    normalises them (``budgetsweep.validate``), so a reduction exists only with valid parameters.
    Reductions compare by identity and print as their label, as before."""
    return dataclass(eq=False, repr=False)(cls)


def apply_all(reductions: list[Reduction], recipe: Recipe) -> tuple[Recipe, list[dict[str, Any]], float]:
    """Apply reductions in order; return the proxy recipe, their descriptions and the combined factor."""
    described = []
    factor = 1.0
    for reduction in reductions:
        described.append(reduction.describe(recipe))
        factor *= described[-1]["predicted_cost_factor"]
        recipe = reduction.apply(recipe)
    return recipe, described, factor


def reduction_label(reductions: list[Reduction]) -> str:
    labels = [r.label() for r in reductions if r.name != "full"]
    return "+".join(labels) if labels else "full"
