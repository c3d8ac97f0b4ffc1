"""The budget's phase plan: how many calibration runs, verification runs and search trials fit.

Pure functions of the settings, the limit, the unit and each rung's predicted cost of one trial
(``costs.rung_costs`` gets them from the planner). Nothing runs here: a phase that cannot fit is one
``PhaseError`` before the first trial, naming what would fit (a larger limit, fewer configurations,
a smaller top-k, fewer search trials).

Budget rule: each share of ``hydra.sweeper.budget.limit`` is a cap for its phase. Calibration takes
``configs`` x (full seeds x full cost + proxy seeds x the sum of the candidates' costs), with as
many full seeds (from ``full_seeds`` down to ``min_full_seeds``) as its share allows; verification
``top_k`` x seeds x full cost, seeds likewise; the search gets everything else (its own share plus
what the other two are planned not to need), so no part of the budget is left unplanned.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from budgetsweep.analysis.compare import MIN_CONFIGS_VERDICT
from budgetsweep.budget.units import check_unit, format_cost

from budgetsweep.analysis.schema import FULL_LABEL as FULL
from .settings import KEY, AutoProxySettings

LIMIT_KEY = "hydra.sweeper.budget.limit"
FIT_TOL = 1e-9  # relative: a phase that needs exactly its share fits
SAMPLED = "sampled"  # the label of a proxy search's setting before it is sampled (priced at its space's costliest end)


class PhaseError(ValueError):
    """A phase cannot fit in its share of the budget; the message says what would fit."""


@dataclass(frozen=True)
class RungCost:
    """The predicted cost of one trial at a rung, in the budget unit. ``name``: the candidate's name
    (``Candidate.label``), or ``full`` for full scale; ``label``: its reduction label where known."""

    name: str
    cost: float
    label: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.cost, (int, float)) and math.isfinite(self.cost) and self.cost > 0):
            raise ValueError(f"predicted cost of a trial at {self.name!r} is {self.cost!r}; it must be a positive, "
                             "finite number in the budget unit")


@dataclass(frozen=True)
class Calibration:
    configs: int
    full_seeds: int
    proxy_seeds: int
    full_trials: int
    proxy_trials: dict[str, int]  # per candidate
    cost: float


@dataclass(frozen=True)
class Verification:
    top_k: int
    seeds: int
    trials: int
    cost: float


@dataclass(frozen=True)
class SearchRoom:
    budget: float
    trials: dict[str, int]  # trials that fit at each rung (candidates and full scale)


@dataclass(frozen=True)
class PhasePlan:
    """The budget split into phases; ``to_dict()`` is JSON-ready (the summary's ``plan``)."""

    limit: float
    unit: str
    full_cost: float
    caps: dict[str, float]  # share x limit per phase
    calibration: Calibration
    verification: Verification
    search: SearchRoom
    notes: list[str] = field(default_factory=list)

    def full_runs(self, cost: float) -> float:
        """``cost`` in full-run units (one full-scale trial = 1)."""
        return cost / self.full_cost

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PhasePlan":
        """The plan back from ``to_dict()`` (the copy the driver keeps in the study's user attrs)."""
        return cls(float(data["limit"]), str(data["unit"]), float(data["full_cost"]), dict(data["caps"]),
                   Calibration(**data["calibration"]), Verification(**data["verification"]),
                   SearchRoom(**data["search"]), list(data.get("notes", [])))


def _fits(cost: float, cap: float) -> bool:
    return cost <= cap * (1 + FIT_TOL)


def _floor(x: float) -> int:
    return int(math.floor(x * (1 + FIT_TOL)))


def round_up(value: float, unit: str) -> float:
    """``value`` rounded up to what a user would type: whole examples, else 3 significant digits."""
    if unit == "examples":
        return float(math.ceil(value * (1 - FIT_TOL)))
    if value <= 0:
        return value
    step = 10.0 ** (math.floor(math.log10(value)) - 2)
    return math.ceil(value * (1 - FIT_TOL) / step) * step


def _limit_and_fit(limit: float, fit: float, unit: str) -> tuple[str, str]:
    """(``limit=...``, ``raise limit to ...``): the limit that would fit (``fit`` rounded up as a user
    would type it), both with the digits it takes to read apart."""
    now, then = _apart(limit, round_up(fit, unit), unit)
    return f"{LIMIT_KEY}={now}", f"raise {LIMIT_KEY} to {then}"


def _apart(a: float, b: float, unit: str | None = None) -> tuple[str, str]:
    """``a`` and ``b`` as text (in ``unit``'s style, or 3 significant digits), with as many digits as
    it takes for two different numbers to read differently: a need just above its share must not read
    as if it fitted ("needs 11,730, share 11,730")."""
    def text(x: float, digits: int) -> str:
        if unit == "examples":
            return f"{x:,.{max(0, digits - 3)}f}"
        return f"{x:.{digits}g}"

    digits = 3
    while digits < 17 and a != b and text(a, digits) == text(b, digits):
        digits += 1
    return text(a, digits), text(b, digits)


def _calibration(settings: AutoProxySettings, cap: float, full: float, candidates: Sequence[RungCost],
                 limit: float, unit: str) -> tuple[Calibration | None, str | None]:
    c = settings.calibrate
    proxy_each = c.proxy_seeds * sum(r.cost for r in candidates)  # one configuration at every candidate

    def cost(configs: int, seeds: int) -> float:
        return configs * (seeds * full + proxy_each)

    for seeds in range(c.full_seeds, c.min_full_seeds - 1, -1):
        if _fits(cost(c.configs, seeds), cap):
            return Calibration(c.configs, seeds, c.proxy_seeds, c.configs * seeds,
                               {r.name: c.configs * c.proxy_seeds for r in candidates}, cost(c.configs, seeds)), None
    need = cost(c.configs, c.min_full_seeds)
    share = settings.shares.calibrate
    fit = _floor(cap / cost(1, c.min_full_seeds))
    lower = (f", or lower {KEY}.calibrate.configs to {fit}" + (
        f" (below {MIN_CONFIGS_VERDICT} configurations no candidate can be chosen with confidence: the fallback "
        "decides)" if fit < MIN_CONFIGS_VERDICT else "")) if fit >= 3 else ""
    costliest = max(candidates, key=lambda r: r.cost)
    drop = (f"lower {KEY}.proxy_search.trials or the costly end of its space" if costliest.label == SAMPLED
            else f"drop the costliest candidate ({costliest.name})")
    seeds = "seed" if c.min_full_seeds == 1 else "seeds"
    need_runs, cap_runs = _apart(need / full, cap / full)
    need_text, cap_text = _apart(need, cap, unit)
    now, fit_text = _limit_and_fit(limit, need / share, unit)
    text = (f"calibration needs {need_runs} full-run units ({need_text} {unit}: {c.configs} "
            f"configurations x ({c.min_full_seeds} full {seeds} + {c.proxy_seeds} x {len(candidates)} candidates at "
            f"{proxy_each / c.proxy_seeds / full:.3g} full-run units together)); the budget's calibrate share is "
            f"{cap_runs} ({cap_text} {unit}: {KEY}.shares.calibrate={share:g} x {now}): {fit_text}{lower}, or {drop}")
    return None, text


def _verification(settings: AutoProxySettings, cap: float, full: float, limit: float, unit: str
                  ) -> tuple[Verification | None, str | None]:
    v = settings.verify
    for seeds in range(v.seeds, v.min_seeds - 1, -1):
        cost = v.top_k * seeds * full
        if _fits(cost, cap):
            return Verification(v.top_k, seeds, v.top_k * seeds, cost), None
    need = v.top_k * v.min_seeds * full
    share = settings.shares.verify
    fit = _floor(cap / (v.min_seeds * full))
    lower = f", or lower {KEY}.verify.top_k to {fit}" if fit >= 1 else ""
    need_runs, cap_runs = _apart(need / full, cap / full)
    need_text, cap_text = _apart(need, cap, unit)
    now, fit_text = _limit_and_fit(limit, need / share, unit)
    text = (f"verification needs {need_runs} full-run units ({need_text} {unit}: top {v.top_k} x "
            f"{v.min_seeds} seed(s) at full scale); the budget's verify share is {cap_runs} "
            f"({cap_text} {unit}: {KEY}.shares.verify={share:g} x {now}): {fit_text}{lower}")
    return None, text


def _check_rungs(full: RungCost, candidates: Sequence[RungCost]) -> None:
    if not isinstance(full, RungCost) or not all(isinstance(r, RungCost) for r in candidates):
        raise ValueError("full and candidates must be RungCost(name, cost) values (costs.rung_plans gives them)")
    if full.name != FULL:
        raise ValueError(f"full.name={full.name!r} is not allowed; full scale's rung is named {FULL!r}")
    seen: set[str] = set()
    for i, rung in enumerate(candidates):
        if rung.name == FULL or rung.name in seen:
            what = "full scale's name" if rung.name == FULL else "the name of an earlier candidate"
            raise ValueError(f"{KEY}.candidates[{i}] is named {rung.name!r}, {what}; candidate names must be unique "
                             f"and not {FULL!r}")
        seen.add(rung.name)


def plan_phases(settings: AutoProxySettings, limit: float | None, unit: str, full: RungCost,
                candidates: Sequence[RungCost]) -> PhasePlan:
    """The phase plan of an auto-proxy sweep, or PhaseError naming every phase that cannot fit.

    Args:
        settings: validated auto-proxy settings.
        limit: ``hydra.sweeper.budget.limit`` in ``unit`` (None: no cap, which auto-proxy cannot plan).
        unit: the budget unit (``examples``, ``flops``, ``gpu_hours``).
        full: the predicted cost of one full-scale trial.
        candidates: the predicted cost of one trial at each candidate (a proxy search contributes one
            entry per planned setting, priced at the costliest end of its space).

    Returns:
        A PhasePlan: each phase's design and cost, and the trials the search can afford at each rung.

    Raises:
        ValueError: a unit that is not a budget unit, or rungs that are not RungCosts with distinct names
            (``full`` is full scale's).
        PhaseError: no limit, no candidates, or a phase that does not fit (all of them in one message).
    """
    unit = check_unit(unit).value
    if limit is None:
        raise PhaseError(f"auto-proxy plans its phases within a budget: set {LIMIT_KEY} (in {unit})")
    if isinstance(limit, bool) or not (isinstance(limit, (int, float)) and math.isfinite(limit) and limit > 0):
        raise PhaseError(f"{LIMIT_KEY}={limit!r} is not allowed; it must be a positive, finite number")
    if not candidates:
        raise PhaseError(f"{KEY}.candidates: no candidate proxy to calibrate")
    _check_rungs(full, candidates)
    shares = settings.shares
    caps = {"calibrate": shares.calibrate * limit, "search": shares.search * limit, "verify": shares.verify * limit}
    calibration, calib_problem = _calibration(settings, caps["calibrate"], full.cost, candidates, limit, unit)
    verification, verify_problem = _verification(settings, caps["verify"], full.cost, limit, unit)
    problems = [p for p in (calib_problem, verify_problem) if p]
    room = limit - (calibration.cost if calibration else caps["calibrate"]) - \
        (verification.cost if verification else caps["verify"])
    cheapest = min(candidates, key=lambda r: r.cost)
    fits = _floor(room / cheapest.cost)
    if fits < settings.search.min_trials:
        need = settings.search.min_trials * cheapest.cost
        # lowering min_trials helps only when at least one trial fits
        lower = f", or lower {KEY}.search.min_trials to {fits}" if fits >= 1 else ""
        problems.append(
            f"the search fits {fits} trial(s) at the cheapest candidate {cheapest.name} "
            f"({format_cost(cheapest.cost, unit)} {unit} each) and {KEY}.search.min_trials="
            f"{settings.search.min_trials}: {_limit_and_fit(limit, need / shares.search, unit)[1]}{lower}")
    if problems:
        raise PhaseError("auto-proxy cannot plan its phases within the budget: " + "; ".join(problems) + ".")
    assert calibration is not None and verification is not None
    trials = {r.name: _floor(room / r.cost) for r in (*candidates, full)}
    notes = []
    if calibration.full_seeds < 2:
        notes.append(f"calibration runs 1 full-scale seed per configuration ({settings.calibrate.full_seeds} asked; "
                     "the calibrate share does not fit more): no noise ceiling, so criterion rho_rel falls back to rho")
    if calibration.configs < MIN_CONFIGS_VERDICT:
        notes.append(f"{calibration.configs} calibration configurations: below {MIN_CONFIGS_VERDICT} the analysis "
                     "module makes no confident choice, so the fallback decides")
    if verification.seeds < settings.verify.seeds:
        notes.append(f"verification runs {verification.seeds} seed(s) per configuration ({settings.verify.seeds} "
                     "asked; the verify share does not fit more)")
    return PhasePlan(float(limit), str(unit), full.cost, caps, calibration, verification, SearchRoom(room, trials),
                     notes)


__all__ = ["PhaseError", "PhasePlan", "RungCost", "plan_phases", "round_up"]
