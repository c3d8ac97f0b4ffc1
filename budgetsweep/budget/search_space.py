"""The ``params`` grammar of hydra-optuna-sweeper, mapped to Optuna distributions the same way.

| override                         | Optuna distribution                                        |
|----------------------------------|------------------------------------------------------------|
| ``choice(a, b, c)``, ``a,b,c``   | CategoricalDistribution([a, b, c])                         |
| ``range(a, b)``                  | IntDistribution(a, b, step=1): **b included**              |
| ``range(a, b, step=s)``          | IntDistribution(a, b, step=s) (floats: FloatDistribution)  |
| ``interval(a, b)``               | FloatDistribution(a, b) (Hydra makes the bounds floats)    |
| ``int(interval(a, b))``          | IntDistribution(a, b)                                      |
| ``tag(log, interval(a, b))``     | FloatDistribution(a, b, log=True)                          |
| ``tag(log, int(interval(a, b)))``| IntDistribution(a, b, log=True)                            |
| ``shuffle(...)``                 | CategoricalDistribution of the values, in written order    |
| anything else                    | a fixed value, passed to every trial                       |

``range`` follows hydra-optuna-sweeper 1.3, not Python: Optuna's integer ranges include their upper
end, so ``range(1, 5)`` samples 1..5, and Optuna moves an upper end that is not on the step grid
down onto it (``range(1, 10, step=4)`` samples 1, 5, 9). With the grid sampler, upstream lists
``low + i * step`` for ``i < (high - low) // step``, which leaves the upper end out; we do the same,
so a config means what it meant with ``hydra/sweeper=optuna``. ``shuffle`` only changes the order
of a categorical, which does not change what is sampled (upstream shuffles it randomly, which
makes its runs irreproducible); we keep the written order.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

GRAMMAR = ("choice(a, b, ...), a,b,...; range(a, b), range(a, b, step=s); interval(a, b); int(interval(a, b)); "
           "tag(log, interval(a, b)); tag(log, int(interval(a, b))); shuffle(...); or a fixed value")

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_\-+./:@*$%~]*")
_OTHER_TYPE = re.compile(r"(?i)(true|false|null|nan|[+-]?inf)")


@dataclass(frozen=True)
class SearchSpace:
    distributions: dict[str, BaseDistribution]  # in sampling order (upstream's order)
    fixed: dict[str, str]  # override key -> value as written
    # parameters whose categorical choices are override text (``choice``/``a,b``/``shuffle`` of the
    # params grammar, encoded as upstream's Transformer.encode does: null -> 'null', 'a b' -> "'a b'",
    # [1,2] -> '[1,2]'); their sampled values go back into an override as written
    encoded: frozenset[str] = frozenset()

    def override(self, name: str, value: Any) -> str:
        """``name=<value>``: the override that hands a job ``value`` as Hydra's basic sweeper would."""
        if name in self.encoded:
            return f"{name}={value if isinstance(value, str) else format_value(value)}"
        return f"{name}={format_value(value)}"

    def fixed_overrides(self) -> list[str]:
        """The fixed ``name=value`` overrides every trial carries after its swept ones, as written."""
        return [f"{name}={value}" for name, value in self.fixed.items()]

    def grid(self) -> dict[str, list]:
        return {name: grid_values(name, dist) for name, dist in self.distributions.items()}


def _parse(line: str, source: str):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_override(line)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{source} does not parse ({reason}); allowed: {GRAMMAR}") from None


def _primitive(source: str, value: Any) -> Any:
    if not isinstance(value, (str, int, float, bool)):
        raise ValueError(f"{source}: choice value {value!r} is a {type(value).__name__}; "
                         "allowed: str, int, float or bool")
    return value


def distribution_from_override(override, source: str) -> BaseDistribution | str:
    """A distribution for a sweep override, or the value string of a fixed one."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep, Transformer

    if not override.is_sweep_override():
        return override.get_value_element_as_str()
    value = override.value()
    try:
        if override.is_choice_sweep():
            assert isinstance(value, ChoiceSweep)
            # lists and dicts become their override text, as upstream's Transformer.encode does
            return CategoricalDistribution([_primitive(source, Transformer.encode(x)) for x in value.list])
        if override.is_range_sweep():
            assert isinstance(value, RangeSweep)
            if value.shuffle:
                values = list(override.sweep_iterator(transformer=Transformer.encode))
                values.sort(key=lambda v: (value.step or 1) * v)  # back to the written order
                return CategoricalDistribution([_primitive(source, x) for x in values])
            if any(isinstance(x, float) for x in (value.start, value.stop, value.step)):
                return FloatDistribution(value.start, value.stop, step=value.step)
            return IntDistribution(int(value.start), int(value.stop), step=int(value.step))
        if override.is_interval_sweep():
            assert isinstance(value, IntervalSweep)
            log = "log" in value.tags
            if isinstance(value.start, int) and isinstance(value.end, int):
                return IntDistribution(value.start, value.end, log=log)
            return FloatDistribution(value.start, value.end, log=log)
    except ValueError as exc:  # Optuna's own check, e.g. log scale with low <= 0, low > high
        raise ValueError(f"{source} is not a valid distribution: {exc}") from None
    raise ValueError(f"{source} is a sweep the budget sweeper does not support; allowed: {GRAMMAR}")


def distribution_from_config(name: str, node: Mapping[str, Any]) -> BaseDistribution:
    """The deprecated ``hydra.sweeper.search_space.<name>`` form: {type, low, high, log, step, choices}."""
    source = f"hydra.sweeper.search_space.{name}"
    kind = str(node.get("type", "")).split(".")[-1]
    try:
        if kind == "categorical":
            return CategoricalDistribution(list(node["choices"]))
        low, high, log, step = node.get("low"), node.get("high"), bool(node.get("log", False)), node.get("step")
        if kind == "int":
            if log:
                return IntDistribution(int(low), int(high), log=True)
            return IntDistribution(int(low), int(high), step=int(step) if step is not None else 1)
        if kind == "float":
            if log:
                return FloatDistribution(low, high, log=True)
            return FloatDistribution(low, high, step=step)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{source}={dict(node)!r} is not a valid distribution: {exc}") from None
    raise ValueError(f"{source}.type={node.get('type')!r} is not allowed; allowed: int, float, categorical")


def build_search_space(params: Mapping[str, Any] | None, arguments: list[str],
                       search_space: Mapping[str, Any] | None = None) -> SearchSpace:
    """Upstream's order: deprecated ``search_space`` (only without ``params``), then ``params``,
    then command-line overrides; a later definition of a name replaces an earlier one in place;
    a name that ends up fixed leaves the search space."""
    distributions: dict[str, BaseDistribution] = {}
    if search_space and not params:
        distributions = {str(k): distribution_from_config(str(k), v) for k, v in search_space.items()}
    fixed: dict[str, str] = {}
    encoded: set[str] = set()
    lines = [(f"{k!s}={v}", f"hydra.sweeper.params.{k}={v!r}") for k, v in (params or {}).items()]
    lines += [(arg, f"override {arg!r}") for arg in arguments]
    for line, source in lines:
        override = _parse(line, source)
        name = override.get_key_element()
        value = distribution_from_override(override, source)
        if isinstance(value, BaseDistribution):
            distributions[name] = value
            if isinstance(value, CategoricalDistribution):
                encoded.add(name)
            else:
                encoded.discard(name)
        else:
            fixed[name] = value
    for name in fixed:
        distributions.pop(name, None)
        encoded.discard(name)
    return SearchSpace(distributions, fixed, frozenset(encoded))


def grid_values(name: str, distribution: BaseDistribution) -> list:
    """The values the grid sampler visits, computed as upstream does."""
    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    if isinstance(distribution, IntDistribution) and not distribution.log:
        count = (distribution.high - distribution.low) // distribution.step
        return [distribution.low + i * distribution.step for i in range(count)]
    if isinstance(distribution, FloatDistribution) and distribution.step is not None:
        count = int((distribution.high - distribution.low) // distribution.step)
        return [distribution.low + i * distribution.step for i in range(count)]
    raise ValueError(f"hydra.sweeper.params.{name}: the grid sampler needs a discrete parameter "
                     f"(choice or range), not {distribution}")


def format_value(value: Any) -> str:
    """A Python value (from a ``search_space`` config or a ``custom_search_space``) as an override value
    that Hydra parses back to the same value and type: null, true/false, ints, floats (inf, nan),
    and strings quoted whenever Hydra would otherwise read something else (a number, a bool, null,
    a list, spaces, ``,='``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # 'inf', '-inf', 'nan', '1e-05': Hydra reads each as that float
    if not isinstance(value, str):
        return f"{value}"
    if _PLAIN.fullmatch(value) and not _OTHER_TYPE.fullmatch(value):
        return value  # a bare word Hydra reads as this string
    return quote(value)


def quote(text: str) -> str:
    """A Hydra single-quoted string: quotes escaped, and backslashes doubled where they precede a
    quote or the end (elsewhere Hydra keeps backslashes as they are)."""
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", text)
    escaped = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, escaped)
    return f"'{escaped}'"
