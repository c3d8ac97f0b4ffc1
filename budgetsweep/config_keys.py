"""A config key the composed config does not have (``optim.lrr=0.1``): one message, exit status 2.

Hydra answers such a typo with "Could not override 'optim.lrr'. ... Key 'lrr' is not in struct" and
exit status 1, naming the key but not the keys that exist. Which keys exist is known only once the
config is composed (the groups chosen decide them), so this is not a check before Hydra as
``budgetsweep.options``' are: :func:`install` wraps Hydra's own function that applies the command
line's values to the composed config (``ConfigLoaderImpl._apply_overrides_to_config``), and costs
nothing when every key exists. A key the user typed gets budgetsweep's message for bad input
(DESIGN section 9: the key, the value, what is allowed; exit status 2, no traceback); an override
the command line did not hold (a budget sweep's sampled values) keeps Hydra's exception, its message
replaced by the same sentence, so a sweep goes on as Hydra lets it.
"""
from __future__ import annotations

import difflib
import functools
import sys
from collections.abc import Iterable, Sequence
from typing import Any

PREFIX = "budgetsweep: invalid configuration: "


def allowed_keys(cfg: Any, key: str) -> tuple[str, str, list[str]] | None:
    """(the level's path, the missing name, the keys at that level, closest to the name first) for a
    dotted ``key`` that ``cfg`` lacks; None when ``cfg`` has it, or when a level on the way is no mapping
    (then the error is another one than a missing key)."""
    from omegaconf import DictConfig

    node, path = cfg, []
    for name in key.split("."):
        if not isinstance(node, DictConfig):
            return None
        if name not in node:
            keys = sorted(str(k) for k in node.keys())
            close = difflib.get_close_matches(name, keys, n=3, cutoff=0.6)
            return ".".join(path), name, close + [k for k in keys if k not in close]
        node, path = node._get_node(name), [*path, name]
    return None


def unknown_key_message(cfg: Any, key: str, input_line: str) -> str | None:
    """The one-paragraph message for an override (``input_line``, e.g. ``optim.lrr=0.1``) of ``key``
    that ``cfg`` lacks; None when it has the key."""
    found = allowed_keys(cfg, key)
    if found is None:
        return None
    level, name, keys = found
    where = f"'{level}'" if level else "the top level of the config"
    full = f"{level}.{name}" if level else name
    close = difflib.get_close_matches(name, keys, n=1, cutoff=0.6)
    guess = f" (did you mean {level + '.' if level else ''}{close[0]}?)" if close else ""
    allowed = (f"allowed keys in {level or 'the config'}: {', '.join(keys)}" if keys
               else f"'{level}' holds no keys at all")
    return (f"{input_line}: {where} has no key '{name}'{guess}"
            + (f", so {key} cannot be set" if full != key else "")
            + f"; {allowed}. To add a key the config does not have, write +{input_line.lstrip('+')}")


def command_line_keys(argv: Iterable[str]) -> set[str]:
    """The keys of the command line's ``key=value`` overrides (prefixes ``+``, ``++``, ``~`` dropped)."""
    return {a.split("=", 1)[0].lstrip("+~") for a in argv if "=" in a and not a.startswith("-")}


def _apply(original, typed: set[str], overrides: Sequence[Any], cfg: Any) -> None:
    from hydra.errors import ConfigCompositionException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    try:
        original(overrides, cfg)
    except ConfigCompositionException as exc:
        if not isinstance(exc.__cause__, (ConfigAttributeError, ConfigKeyError)):
            raise
        key = getattr(exc.__cause__, "full_key", None)
        # the key that failed: the override's, or a level above it that is missing (optm for optm.lr)
        override = next((o for o in overrides if key and (o.key_or_group == key
                                                          or o.key_or_group.startswith(f"{key}."))), None)
        message = unknown_key_message(cfg, override.key_or_group, override.input_line) if override else None
        if message is None:
            raise
        if override.key_or_group in typed:
            print(PREFIX + message, file=sys.stderr)
            raise SystemExit(2) from None
        raise ConfigCompositionException(message) from exc.__cause__


def install(argv: Iterable[str]) -> None:
    """Wrap Hydra's override application (once per process): a missing key typed on ``argv`` exits 2 with
    :func:`unknown_key_message`; any other missing key keeps Hydra's exception, with that message."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    current = ConfigLoaderImpl.__dict__["_apply_overrides_to_config"].__func__
    original = getattr(current, "__wrapped__", current)
    wrapped = functools.wraps(original)(functools.partial(_apply, original, command_line_keys(argv)))
    ConfigLoaderImpl._apply_overrides_to_config = staticmethod(wrapped)


__all__ = ["allowed_keys", "command_line_keys", "install", "unknown_key_message"]
