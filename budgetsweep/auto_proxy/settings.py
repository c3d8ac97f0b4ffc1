"""The auto-proxy strategy's settings (``auto_proxy`` in a sweep's config), validated before anything runs.

Auto-proxy (DESIGN section 12) spends one budget in three phases: **calibrate** (a few random
configurations at full scale and at each candidate proxy), **search** (at the chosen proxy) and
**verify** (the search's top configurations at full scale). These dataclasses say which candidates,
what fidelity counts as good enough, how the budget is shared and what happens when no candidate is
good enough. They double as Hydra structured configs (plain defaults, lists and dicts by factory).

Every error is one ``AutoProxyConfigError`` (a ``ValueError``) naming the key, the value and what is
allowed, e.g. ``auto_proxy.target=1.5 is not allowed; it must be in (0, 1]``.
"""
from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from budgetsweep.analysis.compare import CRITERIA, MIN_CONFIGS_VERDICT

KEY = "auto_proxy"
FULL_NAME = "full"  # full scale's rung (analysis.schema.FULL_LABEL): no candidate may take it
DEFAULT_PRESETS = ("small_batch", "mup_width", "proxy50")  # conf/experiment presets that keep the task
SHARE_TOL = 1e-9


class AutoProxyConfigError(ValueError):
    """Settings that cannot run; the message names the key, the value and what is allowed."""


class Fallback(enum.StrEnum):
    """What to search at when no candidate's fidelity clears the target with its uncertainty.

    ``milder``: among the candidates whose fidelity *estimate* meets the target (their intervals too
    wide to be sure) and that measured cheaper than full scale, the one with the highest lower bound of
    its interval, then the mildest (smallest measured cost reduction); else full scale. ``full``: full
    scale.
    """

    MILDER = "milder"
    FULL = "full"


def _fail(key: str, value: Any, allowed: str) -> AutoProxyConfigError:
    return AutoProxyConfigError(f"{KEY}.{key}={value!r} is not allowed; {allowed}")


def _real(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(key, value, "it must be a finite number")
    return float(value)


def _int(key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(key, value, f"it must be an integer >= {low}")
    return value


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(v, str) and v for v in value):
        raise _fail(key, value, "it must be a list of non-empty names, e.g. [data_subset, short_schedule]")
    return tuple(value)


def _check_known(cls, node: Mapping[str, Any], key: str) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        raise _fail(key, node, "it must be a mapping")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(node) - known)
    if unknown:
        raise AutoProxyConfigError(f"{KEY}.{key + '.' if key else ''}{unknown[0]} is not an auto-proxy setting; "
                                   f"allowed: {', '.join(sorted(known))}")
    return dict(node)


@dataclass
class Candidate:
    """One candidate proxy (a rung): a preset of ``conf/experiment`` or a reduction list with parameters.

    ``preset: proxy50`` runs as the override ``experiment=proxy50``; ``reduction: [data_subset,
    short_schedule]`` with ``params: {data_subset.fraction: 0.1}`` as ``reduction=[data_subset,
    short_schedule] reduction.data_subset.fraction=0.1``. ``name`` labels it in messages and the summary
    (default: the preset, or the reductions joined by ``+``).
    """

    name: str | None = None
    preset: str | None = None
    reduction: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def validate(self, key: str) -> None:
        if self.preset is not None and (not isinstance(self.preset, str) or not self.preset):
            raise _fail(f"{key}.preset", self.preset, "it must be the name of a preset in conf/experiment")
        if (self.preset is None) == (not self.reduction):
            raise AutoProxyConfigError(
                f"{KEY}.{key} has preset={self.preset!r} and reduction={list(self.reduction)!r}; give exactly one: a "
                "preset of conf/experiment (e.g. preset: proxy50) or a reduction list (e.g. reduction: [data_subset])")
        if self.reduction:
            names = _strings(f"{key}.reduction", self.reduction)
            if "full" in names:
                raise _fail(f"{key}.reduction", list(names), "full scale is always calibrated; a candidate must "
                            "reduce something")
        if self.preset is not None and self.params:
            raise _fail(f"{key}.params", dict(self.params), "params go with a reduction list; a preset fixes its own")
        for param in self.params:
            head = str(param).split(".", 1)[0]
            if "." not in str(param) or head not in self.reduction:
                raise _fail(f"{key}.params", dict(self.params),
                            f"each key must be <reduction>.<parameter> of a reduction in {list(self.reduction)}, "
                            "e.g. data_subset.fraction")
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise _fail(f"{key}.name", self.name, "it must be a non-empty string")
        if self.label == FULL_NAME:
            raise _fail(f"{key}.name", self.label, f"{FULL_NAME!r} is full scale's rung; name the candidate otherwise")

    @property
    def label(self) -> str:
        """The candidate's name in messages (not its reduction label: that comes from its runs)."""
        return self.name or self.preset or "+".join(self.reduction)

    def overrides(self) -> list[str]:
        """The Hydra overrides that turn the full recipe into this candidate."""
        if self.preset is not None:
            return [f"experiment={self.preset}"]
        return [f"reduction=[{','.join(self.reduction)}]",
                *(f"reduction.{k}={_override_value(v)}" for k, v in self.params.items())]


def _override_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@dataclass
class ProxySearch:
    """Candidates found by a search over reduction parameters (issue 15's third way): Optuna samples
    ``trials`` settings of ``reduction`` from ``params`` (the sweeper's grammar, e.g.
    ``data_subset.fraction: interval(0.02, 0.5)``), each calibrated like a candidate; fidelity and cost
    are its two objectives. Empty ``reduction``: no proxy search."""

    reduction: list[str] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    trials: int = 6

    def validate(self, key: str) -> None:
        if not self.reduction:
            if self.params:
                raise _fail(f"{key}.params", dict(self.params), "a proxy search needs its reduction list too")
            return
        names = _strings(f"{key}.reduction", self.reduction)
        _int(f"{key}.trials", self.trials, 2)
        if not self.params:
            raise _fail(f"{key}.params", dict(self.params), "a proxy search needs a search space, e.g. "
                        "{data_subset.fraction: 'interval(0.02, 0.5)'}")
        from hydra.core.override_parser.overrides_parser import OverridesParser

        parser = OverridesParser.create()
        for param, space in self.params.items():
            if str(param).split(".", 1)[0] not in names or "." not in str(param):
                raise _fail(f"{key}.params", dict(self.params),
                            f"each key must be <reduction>.<parameter> of a reduction in {list(names)}")
            try:
                parsed = parser.parse_override(f"reduction.{param}={space}")
                ok = parsed.is_sweep_override()
            except Exception:  # Hydra's grammar error: reported below with the key
                ok = False
            if not ok:
                raise _fail(f"{key}.params.{param}", space, "it must be a search space in the sweeper's grammar: "
                            "interval(a, b), range(a, b), choice(...), or tag(log, interval(a, b))")


@dataclass
class Shares:
    """Shares of ``hydra.sweeper.budget.limit`` per phase; they sum to 1.

    Defaults from issue 15's benchmark budget of 10 full-scale runs: verifying the top 3 at one full
    seed costs 3 full runs (``verify: 0.3``); TPE needs some 10-20 trials to beat random sampling and
    a 50x proxy gets 100 of them from 2 full runs, an 8x proxy 16 (``search: 0.2``); calibration, the
    step that decides whether the proxy is worth anything, gets the rest (``calibrate: 0.5``). A
    share is a cap: what calibration and verification are planned not to need goes to the search, and
    so does what calibration was planned and did not spend (``AutoProxyDriver._search_budget``).
    """

    calibrate: float = 0.5
    search: float = 0.2
    verify: float = 0.3

    def validate(self, key: str) -> None:
        values = {f.name: _real(f"{key}.{f.name}", getattr(self, f.name)) for f in fields(self)}
        for name, value in values.items():
            if not 0 < value < 1:
                raise _fail(f"{key}.{name}", value, "it must be in (0, 1): every phase needs some of the budget")
        total = sum(values.values())
        if abs(total - 1) > SHARE_TOL:
            raise AutoProxyConfigError(
                f"{KEY}.{key} = {values} sums to {total:g}; the shares of the budget must sum to 1")


@dataclass
class Calibrate:
    """Calibration: ``configs`` random configurations, each at full scale with ``full_seeds`` seeds
    (fewer, down to ``min_full_seeds``, where the budget does not allow them: two are needed for the
    noise ceiling) and at every candidate with ``proxy_seeds``. The analysis module gives a confident
    verdict from ``MIN_CONFIGS_VERDICT`` (10) configurations on, hence the default."""

    configs: int = MIN_CONFIGS_VERDICT
    full_seeds: int = 2
    min_full_seeds: int = 1
    proxy_seeds: int = 1
    sampler_seed: int = 0  # the random configurations' sampler

    def validate(self, key: str) -> None:
        _int(f"{key}.configs", self.configs, 3)  # fewer have no rank correlation (analysis.ranks.MIN_CONFIGS)
        _int(f"{key}.full_seeds", self.full_seeds, 1)
        _int(f"{key}.min_full_seeds", self.min_full_seeds, 1)
        _int(f"{key}.proxy_seeds", self.proxy_seeds, 1)
        _int(f"{key}.sampler_seed", self.sampler_seed, 0)
        if self.min_full_seeds > self.full_seeds:
            raise _fail(f"{key}.min_full_seeds", self.min_full_seeds,
                        f"it must be <= {KEY}.{key}.full_seeds={self.full_seeds}")


@dataclass
class Verify:
    """Verification: the search's ``top_k`` configurations at full scale with ``seeds`` seeds each
    (fewer, down to ``min_seeds``, where the budget does not allow them)."""

    top_k: int = 3
    seeds: int = 2
    min_seeds: int = 1

    def validate(self, key: str) -> None:
        _int(f"{key}.top_k", self.top_k, 1)
        _int(f"{key}.seeds", self.seeds, 1)
        _int(f"{key}.min_seeds", self.min_seeds, 1)
        if self.min_seeds > self.seeds:
            raise _fail(f"{key}.min_seeds", self.min_seeds, f"it must be <= {KEY}.{key}.seeds={self.seeds}")


@dataclass
class Search:
    """The search phase: at least ``min_trials`` trials must fit at the cheapest candidate. ``eta``:
    null, the configured sampler searches at the chosen rung; an integer >= 2, successive halving
    across the ladder of candidates (``halving``): the sampler's configurations start at the cheapest
    rung and each rung promotes its top 1/eta to the next costlier one, up to the chosen rung, within
    the search's cap over all rungs."""

    min_trials: int = 10
    eta: Optional[int] = None

    def validate(self, key: str) -> None:
        _int(f"{key}.min_trials", self.min_trials, 1)
        if self.eta is not None:
            _int(f"{key}.eta", self.eta, 2)


@dataclass
class AutoProxySettings:
    """Everything auto-proxy needs besides the budget (``hydra.sweeper.budget``) and the search space.

    ``target``: the fidelity a candidate must reach, on ``criterion`` (``rho``: Spearman between the
    candidate's and the full ranking of the calibration configurations; ``rho_rel``: rho over the
    noise ceiling), judged by the lower bound of its ``confidence_level`` interval (the analysis
    module's rule, ``analysis.compare.recommend``). ``n_resamples``: bootstrap resamples of that
    interval (0: Fisher-z). Default candidates: the step-cutting, batch and width presets of
    ``conf/experiment`` that keep the task.
    """

    candidates: list[Candidate] = field(default_factory=lambda: [Candidate(preset=p) for p in DEFAULT_PRESETS])
    proxy_search: ProxySearch = field(default_factory=ProxySearch)
    target: float = 0.8
    criterion: str = "rho"
    confidence_level: float = 0.95
    n_resamples: int = 2000
    shares: Shares = field(default_factory=Shares)
    calibrate: Calibrate = field(default_factory=Calibrate)
    search: Search = field(default_factory=Search)
    verify: Verify = field(default_factory=Verify)
    fallback: str = Fallback.MILDER.value  # a plain string in the config (OmegaConf enums take member names)

    def __post_init__(self) -> None:
        self._coerce()
        target = _real("target", self.target)
        if not 0 < target <= 1:
            raise _fail("target", self.target, "it must be in (0, 1] (the rank correlation a proxy must reach, "
                        "e.g. 0.8)")
        if self.criterion not in CRITERIA:
            raise _fail("criterion", self.criterion, f"allowed: {', '.join(CRITERIA)}")
        level = _real("confidence_level", self.confidence_level)
        if not 0 < level < 1:
            raise _fail("confidence_level", self.confidence_level, "it must be in (0, 1), e.g. 0.95")
        _int("n_resamples", self.n_resamples, 0)
        if self.fallback not in tuple(Fallback):
            raise _fail("fallback", self.fallback, f"allowed: {', '.join(Fallback)}")
        self.fallback = Fallback(self.fallback)
        if not self.candidates and not self.proxy_search.reduction:
            raise _fail("candidates", [], "give at least one candidate proxy (or a proxy_search)")
        for i, candidate in enumerate(self.candidates):
            candidate.validate(f"candidates[{i}]")
        seen: dict[str, int] = {}
        for i, candidate in enumerate(self.candidates):
            if candidate.label in seen:
                raise _fail(f"candidates[{i}]", candidate.label,
                            f"candidates[{seen[candidate.label]}] has the same name; names must be unique")
            seen[candidate.label] = i
        self.proxy_search.validate("proxy_search")
        self.shares.validate("shares")
        self.calibrate.validate("calibrate")
        self.search.validate("search")
        self.verify.validate("verify")
        if self.verify.top_k > self.search.min_trials:
            raise _fail("verify.top_k", self.verify.top_k, f"it must be <= {KEY}.search.min_trials="
                        f"{self.search.min_trials} (verification runs the top of the search at full scale; a search "
                        "may stop at min_trials)")

    def _coerce(self) -> None:
        """Nested plain mappings (a config converted to containers) into their dataclasses; a candidate
        may be given as a preset name alone."""
        nested = {"proxy_search": ProxySearch, "shares": Shares, "calibrate": Calibrate, "search": Search,
                  "verify": Verify}
        for name, sub in nested.items():
            value = getattr(self, name)
            if not isinstance(value, sub):
                setattr(self, name, sub(**_check_known(sub, value if value is not None else {}, name)))
        items = self.candidates
        if isinstance(items, (str, Mapping)) or not isinstance(items, (list, tuple)):
            raise _fail("candidates", items, "it must be a list of candidates (preset: ... or reduction: [...])")
        self.candidates = [c if isinstance(c, Candidate) else Candidate(preset=c) if isinstance(c, str)
                           else Candidate(**_check_known(Candidate, c, f"candidates[{i}]"))
                           for i, c in enumerate(items)]

    @classmethod
    def from_mapping(cls, node: Mapping[str, Any] | None) -> "AutoProxySettings":
        """Settings from a plain mapping (``OmegaConf.to_container(cfg.auto_proxy)``); an unknown key is an
        error naming it and the allowed ones."""
        data = _check_known(cls, node or {}, "")
        return cls(**data)


__all__ = ["AutoProxyConfigError", "AutoProxySettings", "Calibrate", "Candidate", "Fallback", "ProxySearch",
           "Search", "Shares", "Verify"]
