"""Group-sequential stopping for a hypothesis test: alpha spending over looks fixed in the registration.

A plan is the cumulative numbers of complete pairs at which the analysis looks (e.g. 4, 7, 10) and a
Lan-DeMets spending function (Lan & DeMets 1983): ``obrien_fleming`` alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt t)
(spends almost nothing early) or ``pocock`` alpha(t) = alpha ln(1 + (e - 1) t), with t = n_k / n_K the
information fraction. The boundaries c_k on the z scale solve P(no crossing at looks 1..k | H0) =
1 - alpha(t_k) for the canonical joint distribution of the look statistics, corr(Z_j, Z_k) =
sqrt(t_j / t_k) (Jennison & Turnbull 2000, ch. 7), computed with scipy's multivariate normal CDF.
Each look then tests the paired t statistic at the boundary's nominal level (its p-value against
1 - Phi(c_k), or 2(1 - Phi(c_k)) two-sided), the usual translation to a t-test with unknown variance
(Jennison & Turnbull 2000, sec. 3.8); tests/hypothesis/test_sequential.py checks by simulation that
the false-positive rate stays at most alpha. The same nominal level serves the refuted side (the
look's interval excludes the smallest effect), so both errors are spent by the same rule.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import optimize, stats

from budgetsweep.hypothesis.stats import PairedAnalysis, analyse


def obrien_fleming(t: float, alpha: float) -> float:
    """O'Brien-Fleming-type spending (Lan & DeMets 1983): cumulative alpha spent at information fraction t."""
    return float(2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - alpha / 2) / math.sqrt(t)))


def pocock(t: float, alpha: float) -> float:
    """Pocock-type spending (Lan & DeMets 1983): alpha ln(1 + (e - 1) t)."""
    return float(alpha * math.log(1 + (math.e - 1) * t))


SPENDING: dict[str, Callable[[float, float], float]] = {"obrien_fleming": obrien_fleming, "pocock": pocock}


def _inside(bounds: list[float], fractions: list[float], sides: int) -> float:
    """P(|Z_j| < c_j (two-sided) or Z_j < c_j (one-sided) for all looks j) under H0."""
    k = len(bounds)
    t = np.asarray(fractions[:k])
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    upper = np.asarray(bounds)
    if k == 1:
        return float(stats.norm.cdf(upper[0]) - (stats.norm.cdf(-upper[0]) if sides == 2 else 0.0))
    lower = -upper if sides == 2 else np.full(k, -np.inf)
    dist = stats.multivariate_normal(mean=np.zeros(k), cov=cov, seed=0, abseps=1e-7, releps=1e-6,
                                     maxpts=50_000 * k)
    return float(dist.cdf(upper, lower_limit=lower))


def boundaries(looks: list[int], alpha: float, spending: str = "obrien_fleming", sides: int = 1) -> list[float]:
    """z boundaries c_k for cumulative pair counts ``looks`` (strictly increasing, >= 2). A look that
    spends nothing new (or less than the integration error) gets +inf (no stop possible there)."""
    fn = SPENDING[spending]
    total = looks[-1]
    fractions = [n / total for n in looks]
    bounds: list[float] = []
    for k, t in enumerate(fractions):
        # a two-sided symmetric plan spends alpha/2 on each side (as gsDesign's sfLDOF with alpha/2)
        target_inside = 1 - sides * fn(t, alpha / sides)
        prev_inside = _inside(bounds, fractions, sides) if bounds else 1.0
        if prev_inside - target_inside <= 1e-9:
            bounds.append(math.inf)
            continue

        def gap(c: float) -> float:
            return _inside(bounds + [c], fractions, sides) - target_inside

        bounds.append(float(optimize.brentq(gap, 0.5, 12.0, xtol=1e-5)))
    return bounds


def nominal_levels(looks: list[int], alpha: float, spending: str = "obrien_fleming", sides: int = 1) -> list[float]:
    """The nominal p-value threshold of each look: 1 - Phi(c_k), or 2 (1 - Phi(c_k)) two-sided."""
    return [float(sides * stats.norm.sf(c)) for c in boundaries(looks, alpha, spending, sides)]


@dataclass(frozen=True)
class SequentialPlan:
    """Looks (cumulative complete pairs, strictly increasing, first >= 2), spending function name and
    the nominal level per look (computed once, stored in the registration)."""

    looks: tuple[int, ...]
    spending: str
    alpha: float
    sides: int
    levels: tuple[float, ...]

    @classmethod
    def build(cls, looks, alpha: float, spending: str = "obrien_fleming", sides: int = 1) -> "SequentialPlan":
        looks = tuple(int(n) for n in looks)
        if not looks or looks[0] < 2 or any(b <= a for a, b in zip(looks, looks[1:])):
            raise ValueError(f"sequential.looks={list(looks)!r} is not allowed; it must be strictly increasing "
                             "cumulative pair counts, the first >= 2")
        if spending not in SPENDING:
            raise ValueError(f"sequential.spending={spending!r} is not allowed; allowed: {sorted(SPENDING)}")
        levels = tuple(nominal_levels(list(looks), alpha, spending, sides))
        return cls(looks=looks, spending=spending, alpha=alpha, sides=sides, levels=levels)

    def to_dict(self) -> dict:
        return {"looks": list(self.looks), "spending": self.spending, "alpha": self.alpha, "sides": self.sides,
                "nominal_levels": list(self.levels),
                "method": "Lan-DeMets alpha spending; boundaries from the multivariate normal of the look "
                          "statistics; each look tests the paired t at its nominal level"}


@dataclass(frozen=True)
class LookDecision:
    """``stop`` True when the verdict is decided (or the last look is reached); ``look`` is the 0-based
    index of the look analysed (None: fewer pairs than the first look)."""

    stop: bool
    look: int | None
    analysis: PairedAnalysis | None
    reason: str


def decide(diffs, plan: SequentialPlan, *, smallest_effect: float, power: float = 0.8, test: str = "t",
           arms=None) -> LookDecision:
    """Stop or continue given the complete pairs so far (``diffs`` in seed order, positive = better).

    The look analysed is the latest planned look with n_k <= len(diffs), on the first n_k pairs (pairs
    beyond a look wait for the next one, so a resumed run analyses exactly what was planned). Stops
    with ``supported`` or ``refuted`` when the look's nominal level decides; at the last look it stops
    with whatever the verdict is. ``arms``: (baseline values, candidate values) in the same order, passed to
    :func:`~budgetsweep.hypothesis.stats.analyse` for the look's pairs."""
    d = np.asarray(diffs, dtype=float)
    reached = [k for k, n in enumerate(plan.looks) if n <= d.size]
    if not reached:
        return LookDecision(False, None, None, f"{d.size} complete pair(s); first look at {plan.looks[0]}")
    k = reached[-1]
    n_k = plan.looks[k]
    res = analyse(d[:n_k], alpha=plan.alpha, smallest_effect=smallest_effect, power=power, sides=plan.sides,
                  test=test, level_alpha=plan.levels[k], arms=None if arms is None else [a[:n_k] for a in arms])
    last = k == len(plan.looks) - 1
    if res.verdict != "inconclusive":
        return LookDecision(True, k, res, f"look {k + 1} of {len(plan.looks)} ({plan.looks[k]} pairs): {res.verdict}")
    if last:
        return LookDecision(True, k, res, f"last look ({plan.looks[k]} pairs): inconclusive")
    return LookDecision(False, k, res, f"look {k + 1} of {len(plan.looks)} ({plan.looks[k]} pairs): continue to "
                                       f"{plan.looks[k + 1]} pairs")
