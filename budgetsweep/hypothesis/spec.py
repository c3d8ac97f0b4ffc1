"""The hypothesis file (YAML): what a researcher pre-registers before any run.

Example (every key; ``seeds`` or ``target_power``, ``direction``, ``common``, ``sides``, ``test``,
``power``, ``sequential`` and ``budget`` are optional)::

    name: warmup_helps
    common: [task=teacher_student]          # overrides of both arms
    baseline: [train.warmup_steps=0]
    candidate: [train.warmup_steps=20]
    metric: val_loss
    direction: minimize                     # default: from the metric's name (budgetsweep.tasks.base)
    smallest_effect: 0.002                  # metric units; the smallest improvement worth acting on
    seeds: 5                                # or a list [0, 1, 2, 3, 4]; or target_power: 0.8 + max_seeds: 20
    alpha: 0.05                             # in (0, 0.5)
    sides: 1                                # 1: the registered direction is the alternative; 2: two-sided
    test: t                                 # which p decides: t (paired t) or permutation (exact sign-flip)
    power: 0.8                              # for the minimum detectable effect
    scales:
      proxy: proxy50                        # a preset of conf/experiment, or a reduction list [data_subset, ...]
      proxy_overrides: []                   # e.g. [reduction.data_subset.fraction=0.05]
      full: true                            # also run at full scale (transfer)
    sequential: {looks: [3, 5], spending: obrien_fleming}
    budget: {limit: 2.0e6, unit: examples}

Errors: :class:`HypothesisError` (a ValueError) naming the key, its value and what is allowed; the
command prints it and exits 2 before anything runs.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from budgetsweep.hypothesis.stats import DIRECTIONS, SIDES, TESTS, smallest_sign_flip_p

KEYS = ("name", "common", "baseline", "candidate", "metric", "direction", "smallest_effect", "seeds", "target_power",
        "max_seeds", "alpha", "sides", "test", "power", "scales", "sequential", "budget")
SCALE_KEYS = ("proxy", "proxy_overrides", "full")
SEQUENTIAL_KEYS = ("looks", "spending")
BUDGET_KEYS = ("limit", "unit")
BUDGET_UNITS = ("gpu_hours", "flops", "examples")  # DESIGN.md section 3, "cost"
SCALE_NAMES = ("proxy", "full")


class HypothesisError(ValueError):
    """A hypothesis file that cannot be run; the message names the key, the value and what is allowed."""


def _fail(key: str, value, allowed: str) -> HypothesisError:
    return HypothesisError(f"{key}={value!r} is not allowed; {allowed}")


def _number(data: dict, key: str, default=None) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(key, value, "it must be a number")
    return float(value)


def _overrides(value, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and "=" in v for v in value):
        raise _fail(key, value, "it must be a list of Hydra overrides key=value")
    for v in value:
        k = v.split("=", 1)[0].lstrip("+~")
        if k == "seed":
            raise _fail(key, v, "seeds come from the 'seeds' key (both arms run the same seeds)")
        if k.startswith("hydra"):
            raise _fail(key, v, "hydra.* overrides choose how jobs run: pass them on the command line")
    return tuple(value)


def _normal(overrides: tuple[str, ...]) -> tuple[str, ...]:
    # the order of overrides to different keys does not change the configuration
    return tuple(sorted(o.replace(" ", "") for o in overrides))


@dataclass(frozen=True)
class Hypothesis:
    """A validated hypothesis file. ``text`` is the file's content as read (the registration hashes it)."""

    name: str
    baseline: tuple[str, ...]
    candidate: tuple[str, ...]
    metric: str
    direction: str
    smallest_effect: float
    alpha: float
    seeds: tuple[int, ...] | None = None
    target_power: float | None = None
    max_seeds: int | None = None
    common: tuple[str, ...] = ()
    sides: int = 1
    test: str = "t"
    power: float = 0.8
    proxy: str | tuple[str, ...] | None = None
    proxy_overrides: tuple[str, ...] = ()
    full: bool = False
    sequential: dict | None = None
    budget: dict | None = None
    text: str = field(default="", compare=False)

    @property
    def sha256(self) -> str:
        """SHA-256 of the file's text (UTF-8)."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def scales(self) -> dict[str, list[str]]:
        """{scale name: the overrides that select it}, proxy first."""
        out = {}
        if self.proxy is not None:
            if isinstance(self.proxy, str):
                sel = [f"experiment={self.proxy}"]
            else:
                sel = [f"reduction=[{','.join(self.proxy)}]"]
            out["proxy"] = sel + list(self.proxy_overrides)
        if self.full:
            out["full"] = ["reduction=full"]
        return out

    def arm_overrides(self, scale: str, arm: str) -> list[str]:
        """The overrides of one arm at one scale (without the seed): common, scale, arm, the metric as objective."""
        own = self.baseline if arm == "baseline" else self.candidate
        return [*self.common, *self.scales()[scale], *own, f"task.objective={self.metric}"]

    def planned_seeds(self) -> tuple[int, ...]:
        """The seeds in run order: the listed ones, or 0..max_seeds-1 when the count follows a target power."""
        return self.seeds if self.seeds is not None else tuple(range(self.max_seeds))


def parse(data, text: str = "") -> Hypothesis:
    """Validate the mapping of a hypothesis file. Raises HypothesisError naming the first bad key."""
    if not isinstance(data, dict):
        raise HypothesisError(f"a hypothesis file is a YAML mapping with keys {', '.join(KEYS)}; "
                              f"got {type(data).__name__}")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise _fail(unknown[0], data[unknown[0]], f"unknown key; allowed keys: {', '.join(KEYS)}")
    for key in ("name", "baseline", "candidate", "metric", "smallest_effect", "alpha", "scales"):
        if key not in data:
            raise HypothesisError(f"{key} is missing; a hypothesis file needs {key} (see budgetsweep.hypothesis.spec)")
    name = data["name"]
    if not (isinstance(name, str) and name and all(c.isalnum() or c in "-_." for c in name)):
        raise _fail("name", name, "it must be a non-empty name of letters, digits, '-', '_' or '.'")
    common = _overrides(data.get("common"), "common")
    baseline = _overrides(data["baseline"], "baseline")
    candidate = _overrides(data["candidate"], "candidate")
    if _normal(common + baseline) == _normal(common + candidate):
        raise HypothesisError(f"candidate={list(candidate)!r} is identical to baseline={list(baseline)!r}; "
                              "the candidate must change at least one override")
    metric = data["metric"]
    if not isinstance(metric, str) or not metric:
        raise _fail("metric", metric, "it must be a metric name the task reports, e.g. val_loss")
    direction = data.get("direction")
    if direction is None:
        from budgetsweep.tasks.base import objective_direction  # imports no torch

        try:
            direction = objective_direction(metric)
        except ValueError as exc:
            raise HypothesisError(f"metric={metric!r}: {exc}; or set direction: minimize|maximize") from None
    elif direction not in DIRECTIONS:
        raise _fail("direction", direction, f"allowed: {', '.join(DIRECTIONS)}")
    smallest = _number(data, "smallest_effect")
    if not smallest > 0:
        raise _fail("smallest_effect", data["smallest_effect"], "it must be > 0, in the metric's units")
    alpha = _number(data, "alpha")
    if not 0 < alpha < 0.5:
        raise _fail("alpha", data["alpha"], "it must be in (0, 0.5)")
    sides = data.get("sides", 1)
    if sides not in SIDES or isinstance(sides, bool):
        raise _fail("sides", sides, f"allowed: {SIDES}")
    test = data.get("test", "t")
    if test not in TESTS:
        raise _fail("test", test, f"allowed: {', '.join(TESTS)}")
    power = _number(data, "power", 0.8)
    if not alpha < power < 1:
        raise _fail("power", data.get("power"), f"it must be in (alpha={alpha:g}, 1)")
    seeds, target, max_seeds = _seeds(data, alpha)
    n_max = len(seeds) if seeds else max_seeds
    floor = smallest_sign_flip_p(n_max, int(sides))
    if test == "permutation" and floor >= alpha:
        raise _fail("test", test, f"with {n_max} seeds the exact sign-flip test's smallest {int(sides)}-sided p is "
                                  f"{floor:.4g} >= alpha={alpha:g}, so it could never support the candidate; "
                                  "use more seeds or test: t")
    proxy, proxy_overrides, full = _scales(data["scales"])
    sequential = _sequential(data.get("sequential"), n_max)
    budget = _budget(data.get("budget"))
    return Hypothesis(name=name, baseline=baseline, candidate=candidate, metric=metric, direction=direction,
                      smallest_effect=smallest, alpha=alpha, seeds=seeds, target_power=target, max_seeds=max_seeds,
                      common=common, sides=int(sides), test=test, power=power, proxy=proxy,
                      proxy_overrides=proxy_overrides, full=full, sequential=sequential, budget=budget, text=text)


def _seeds(data: dict, alpha: float):
    has_seeds, has_target = "seeds" in data, "target_power" in data
    if has_seeds == has_target:
        raise HypothesisError("seeds and target_power: give exactly one (seeds: a count >= 2 or a list of "
                              "distinct integers; target_power: in (alpha, 1) with max_seeds)")
    if has_seeds:
        if "max_seeds" in data:
            raise _fail("max_seeds", data["max_seeds"], "it goes with target_power, not with seeds")
        value = data["seeds"]
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 2:
                raise _fail("seeds", value, "it must be >= 2 (a paired test needs at least two pairs)")
            return tuple(range(value)), None, None
        if (isinstance(value, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in value)
                and len(set(value)) == len(value)):
            if len(value) < 2:
                raise _fail("seeds", value, "it must list >= 2 seeds (a paired test needs at least two pairs)")
            return tuple(value), None, None
        raise _fail("seeds", value, "it must be a count >= 2 or a list of distinct integers")
    target = _number(data, "target_power")
    if not alpha < target < 1:
        raise _fail("target_power", data["target_power"], f"it must be in (alpha={alpha:g}, 1)")
    max_seeds = data.get("max_seeds", 20)
    if isinstance(max_seeds, bool) or not isinstance(max_seeds, int) or max_seeds < 2:
        raise _fail("max_seeds", max_seeds, "it must be an integer >= 2")
    return None, target, max_seeds


def _scales(value):
    if not isinstance(value, dict):
        raise _fail("scales", value, f"it must be a mapping with keys {', '.join(SCALE_KEYS)}")
    unknown = sorted(set(value) - set(SCALE_KEYS))
    if unknown:
        raise _fail(f"scales.{unknown[0]}", value[unknown[0]], f"unknown key; allowed: {', '.join(SCALE_KEYS)}")
    proxy = value.get("proxy")
    if isinstance(proxy, list):
        if not proxy or not all(isinstance(r, str) and r and "=" not in r for r in proxy):
            raise _fail("scales.proxy", proxy,
                        "a reduction list names conf/reduction options, e.g. [data_subset, short_schedule]")
        proxy = tuple(proxy)
    elif proxy is not None and not (isinstance(proxy, str) and proxy and "=" not in proxy):
        raise _fail("scales.proxy", proxy, "it must be a preset of conf/experiment (e.g. proxy50) or a reduction list")
    proxy_overrides = _overrides(value.get("proxy_overrides"), "scales.proxy_overrides")
    if proxy_overrides and proxy is None:
        raise _fail("scales.proxy_overrides", list(proxy_overrides), "it needs scales.proxy")
    full = value.get("full", False)
    if not isinstance(full, bool):
        raise _fail("scales.full", full, "it must be true or false")
    if proxy is None and not full:
        raise _fail("scales", value, "test at least one scale: scales.proxy, scales.full: true, or both")
    return proxy, proxy_overrides, full


def _sequential(value, n_max: int):
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _fail("sequential", value, f"it must be a mapping with keys {', '.join(SEQUENTIAL_KEYS)}")
    unknown = sorted(set(value) - set(SEQUENTIAL_KEYS))
    if unknown:
        raise _fail(f"sequential.{unknown[0]}", value[unknown[0]],
                    f"unknown key; allowed: {', '.join(SEQUENTIAL_KEYS)}")
    from budgetsweep.hypothesis.sequential import SPENDING

    looks = value.get("looks")
    integers = isinstance(looks, list) and all(isinstance(n, int) and not isinstance(n, bool) for n in looks)
    if (not integers or not looks
            or looks[0] < 2 or any(b <= a for a, b in zip(looks, looks[1:])) or looks[-1] != n_max):
        raise _fail("sequential.looks", looks, f"it must be strictly increasing pair counts, the first >= 2, "
                                               f"the last = the number of seeds ({n_max})")
    spending = value.get("spending", "obrien_fleming")
    if spending not in SPENDING:
        raise _fail("sequential.spending", spending, f"allowed: {', '.join(sorted(SPENDING))}")
    return {"looks": list(looks), "spending": spending}


def _budget(value):
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - set(BUDGET_KEYS):
        raise _fail("budget", value, f"it must be a mapping with keys {', '.join(BUDGET_KEYS)}")
    limit = value.get("limit")
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0:
        raise _fail("budget.limit", limit, "it must be a number > 0 in budget.unit")
    unit = value.get("unit", "gpu_hours")
    if unit not in BUDGET_UNITS:
        raise _fail("budget.unit", unit, f"allowed: {', '.join(BUDGET_UNITS)}")
    return {"limit": float(limit), "unit": unit}


def load(path: str | Path) -> Hypothesis:
    """Read and validate a hypothesis file. Raises HypothesisError (unreadable file, bad YAML, bad key)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HypothesisError(f"hypothesis file {str(path)!r} cannot be read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise HypothesisError(f"hypothesis file {str(path)!r} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse(data, text)
