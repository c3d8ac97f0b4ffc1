"""Successive halving across the ladder of candidates (issue 15 point 3's option): the search's first
rung samples configurations at the cheapest rung, and each next rung runs the top 1/eta of the one
before at the next costlier rung, up to the chosen one; the search phase's cap holds over all rungs.

Pure: the ladder and each rung's number of configurations from the predicted costs and the budget
(``halving_plan``), and which configurations a rung promotes (``verify.top_configs`` on the runs of
the rung before). The driver runs the rungs (``search.eta`` set: ``driver.AutoProxyDriver``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .phases import FIT_TOL, PhaseError
from .settings import KEY


@dataclass(frozen=True)
class HalvingRung:
    """One rung of the search: a candidate's name (or ``full``), its predicted cost of one trial and how
    many configurations it runs."""

    name: str
    cost: float
    configs: int


def misleading(candidates: Sequence[Mapping[str, Any]]) -> list[str]:
    """Names of the calibrated candidates (``Choice.candidates``: their evidence) a halving search does not
    climb through, because their ranking would pass the wrong configurations on: calibration measured their
    Spearman rho at 0 or below, or could not measure it (no rho, or ``tie_limited``: too few distinct
    scores), or most of their runs did not learn (``did_not_learn``). A rung promotes its top 1/eta by its
    own ranking; at rho <= 0 that top is no better than a random draw, in expectation, or worse."""
    out = []
    for c in candidates:
        rho = c.get("rho")
        unmeasured = rho is None or not math.isfinite(float(rho))
        if unmeasured or float(rho) <= 0 or c.get("tie_limited") or c.get("did_not_learn"):
            out.append(str(c.get("name")))
    return out


def ladder(costs: Sequence[tuple[str, float]], chosen: str, skip: Sequence[str] = ()) -> list[tuple[str, float]]:
    """The rungs a halving search climbs: every rung no costlier than ``chosen`` (the choice's rung:
    a candidate's name or ``full``), cheapest first, ending at ``chosen``, less those named in ``skip``
    (``misleading``; never ``chosen``). ``costs``: (name, predicted cost of one trial) of every candidate
    and of full scale. ValueError: ``chosen`` is not among them."""
    by_name = dict(costs)
    if chosen not in by_name:
        raise ValueError(f"chosen rung {chosen!r} is not among the rungs {sorted(by_name)}")
    top = by_name[chosen]
    below = sorted(((n, c) for n, c in costs if n != chosen and n not in skip and c <= top),
                   key=lambda nc: (nc[1], nc[0]))
    return [*below, (chosen, top)]


def rung_configs(n0: int, rungs: int, eta: int) -> list[int]:
    """Configurations per rung when the first runs ``n0``: floor(n0 / eta^i), at least one."""
    return [max(1, n0 // eta ** i) for i in range(rungs)]


def halving_cost(n0: int, costs: Sequence[float], eta: int) -> float:
    return sum(c * n for c, n in zip(costs, rung_configs(n0, len(costs), eta)))


def halving_plan(rungs: Sequence[tuple[str, float]], budget: float, eta: int, min_first: int = 1
                 ) -> list[HalvingRung]:
    """The most configurations the first rung can run such that every rung's runs fit ``budget``
    together (rung i runs floor(n0 / eta^i), at least one).

    Args:
        rungs: (name, predicted cost of one trial) per rung, cheapest first (``ladder``).
        budget: the search phase's cap, in the cost's unit.
        eta: the halving rate (>= 2): a rung promotes its top 1/eta.
        min_first: the least the first rung may run (``search.min_trials``).

    Raises:
        PhaseError: not even ``min_first`` configurations fit.
    """
    if not isinstance(eta, int) or isinstance(eta, bool) or eta < 2:
        raise ValueError(f"{KEY}.search.eta={eta!r} is not allowed; it must be an integer >= 2")
    costs = [float(c) for _, c in rungs]
    limit = budget * (1 + FIT_TOL)
    if halving_cost(min_first, costs, eta) > limit:
        names = " -> ".join(n for n, _ in rungs)
        raise PhaseError(f"successive halving over {names} needs {halving_cost(min_first, costs, eta):.6g} for "
                         f"{KEY}.search.min_trials={min_first} configurations at its first rung and the search has "
                         f"{budget:.6g}: raise the limit, lower {KEY}.search.min_trials or raise {KEY}.search.eta")
    low, high = min_first, min_first
    while halving_cost(high * 2, costs, eta) <= limit:  # the cost grows at least linearly in n0
        high *= 2
    high *= 2
    while high - low > 1:  # largest n0 that fits, in [low, high)
        mid = (low + high) // 2
        low, high = (mid, high) if halving_cost(mid, costs, eta) <= limit else (low, mid)
    return [HalvingRung(name, cost, n) for (name, cost), n in zip(rungs, rung_configs(low, len(rungs), eta))]


def plan_dicts(plan: Sequence[HalvingRung]) -> list[dict[str, Any]]:
    return [asdict(r) for r in plan]


__all__ = ["HalvingRung", "halving_cost", "halving_plan", "ladder", "misleading", "plan_dicts", "rung_configs"]
