"""A trial's config as Hydra's launcher composes it (``load_sweep_config``), without a full Hydra
compose per trial where that is provably the same config.

Hydra composes a job's config in two stages: the defaults list (decided by the config-group
choices) is merged into a base, then the other overrides are applied to it in their given order
(``ConfigLoaderImpl._apply_overrides_to_config``), and the ``hydra`` node records the overrides
(``hydra.overrides.task``, ``hydra.job.override_dirname``). A sweep's jobs differ mostly in plain
values (``optim.lr=0.01``). So ``TrialComposer`` composes the first stage once per set of non-plain
overrides (group choices, ``+``/``~`` values; cached), and for each job copies that base and
applies the job's plain and ``++`` (force-add) values with Hydra's own function, then writes the
``hydra`` node's override records as Hydra does. Anything else (a ``hydra.`` key, a sweep, a dict
value for a config group, a plain key that overlaps a ``+``/``~`` override, any error) is composed
by ``load_sweep_config`` itself: the full compose is the reference, this is only a shortcut to the
same config (tests/budget/test_trial_config.py and tests/test_compose_memo.py compare them). Used by
the budget sweeper's planning and launches and, through ``budgetsweep/compose_memo.py``, by Hydra's
basic sweeper.
"""
from __future__ import annotations

import copy
import os
from collections import OrderedDict
from typing import Any, Optional, Sequence

from omegaconf import DictConfig, OmegaConf, open_dict

MAX_BASES = 16  # composed bases kept per composer (one per set of group choices; ~0.36 MiB each)
MAX_LINES = 512  # parsed override lines kept (a trial brings one per swept parameter and its identity)
MAX_HANDED = 16  # configs handed over (planned trials not launched yet; a batch is n_jobs trials)


class TrialComposer:
    """``config``: the sweep's (master) config; ``config_loader``: Hydra's; ``fixed``: the overrides
    every trial carries after its swept ones (informative: every override of a job is sorted into
    base or plain alike, wherever it stands). ``compose(overrides)`` returns the same DictConfig as
    ``config_loader.load_sweep_config(config, overrides)``; it raises what that raises."""

    def __init__(self, *, config: DictConfig, config_loader: Any, fixed: Sequence[str] = ()) -> None:
        self.config, self.config_loader = config, config_loader
        self.fixed = list(fixed)
        self._bases: OrderedDict[tuple[str, ...], DictConfig] = OrderedDict()
        # overrides -> (their base's key, a config this composer derived for them that nobody else holds)
        self._handed: OrderedDict[tuple[str, ...], tuple[tuple[str, ...], DictConfig]] = OrderedDict()
        self._derived: dict[int, tuple[tuple[str, ...], DictConfig]] = {}  # the last derived config, by id
        self._parser: Any = None
        self._lines: dict[str, Any] = {}  # override line -> Hydra's parsed Override (oldest first out)
        self._repo: Any = None
        self.full_composes = 0  # how many trials needed Hydra's full compose (for tests and logs)

    def compose(self, overrides: Sequence[str]) -> DictConfig:
        overrides = list(overrides)
        fast = self._fast(overrides)
        if fast is not None:
            return fast
        self.full_composes += 1
        return self.config_loader.load_sweep_config(self.config, overrides)

    def hand_over(self, overrides: Sequence[str], cfg: DictConfig) -> None:
        """``cfg``, this composer's config for ``overrides``, is no longer used by its caller (the budget
        sweeper, once a trial is planned): the next compose of ``overrides`` followed by plain values only
        (the trial's launch, its identity added) derives from it in place instead of from a copy of the
        base. The same config: it is the base with the plain values of ``overrides`` applied, and the
        derivation applies them again (Hydra's own function: each sets its key to the same value, or
        merges the same mapping again) before the new ones, then rewrites the hydra node's records.
        Used once; at most :data:`MAX_HANDED` are held (a trial planned and never launched drops out)."""
        rest = self._derived.pop(id(cfg), None)
        if rest is None or rest[1] is not cfg:  # not derived here (Hydra's full compose): nothing to reuse
            return
        key = tuple(overrides)
        self._handed.pop(key, None)
        self._handed[key] = (rest[0], cfg)
        while len(self._handed) > MAX_HANDED:
            self._handed.pop(next(iter(self._handed)))

    def _take_handed(self, overrides: list[str], rest: tuple[str, ...]) -> Optional[DictConfig]:
        """A handed-over config of a prefix of ``overrides`` with the same base (so what follows the
        prefix is plain values only), taken once; or None."""
        for key, (base_key, cfg) in list(self._handed.items()):
            if base_key == rest and len(key) <= len(overrides) and tuple(overrides[:len(key)]) == key:
                del self._handed[key]
                return cfg
        return None

    # -- the shortcut ---------------------------------------------------------------------------
    def _fast(self, overrides: list[str]) -> Optional[DictConfig]:
        """The derived config, or None whenever it might differ from the full compose.

        Hydra composes the defaults list from the group overrides, then applies the other
        overrides in their given order. The base is the full compose of every override that is not
        a plain ``key=value`` (group choices, ``+``/``~`` values), cached by those lines; the plain
        and ``++`` values are then applied in their given order. That is Hydra's order exactly unless a
        plain key is, contains or lies in the key of a non-group override of the base: then None."""
        if not hasattr(self.config_loader, "_parse_overrides_and_create_caching_repo"):
            return None
        try:
            parsed = self._parse(overrides)
            repo = self._repository()
            if parsed is None or repo is None:
                return None
            rest, rest_values, plain = [], [], []
            for o in parsed:
                is_group = repo.group_exists(o.key_or_group)  # Hydra's own test (defaults_list.Overrides)
                is_dict = isinstance(o.value(), dict)
                if is_group and is_dict:
                    return None
                if is_group:
                    rest.append(o)
                elif self._prefixed(o) and not self._forced_value(o):
                    rest.append(o)
                    rest_values.append(o)
                else:
                    plain.append(o)
            if not self._independent(plain, rest_values):
                return None
            key = tuple(o.input_line for o in rest)
            handed = self._take_handed(overrides, key) if self._handed else None
            if handed is not None:
                return self._derive(handed, plain, parsed, copy_base=False)
            cfg = self._derive(self._base(key), plain, parsed)
            self._derived.clear()  # only the latest: what hand_over may take
            self._derived[id(cfg)] = (key, cfg)
            return cfg
        except Exception:  # unsure: the full compose decides (and raises its own error)
            return None

    def _parse(self, overrides: list[str]) -> Optional[list]:
        if self._parser is None:
            from hydra.core.override_parser.overrides_parser import OverridesParser

            self._parser = OverridesParser.create()
        # each line parsed once: a sweep's fixed overrides recur in every trial, and a trial's own lines
        # are parsed when it is planned and again at its launch (Hydra's parser costs ~ms a line; an
        # Override is only read, by Hydra's functions and here)
        new = [line for line in dict.fromkeys(overrides) if line not in self._lines]
        if new:
            for line, o in zip(new, self._parser.parse_overrides(overrides=new)):
                self._lines[line] = o
        parsed = [self._lines[line] for line in overrides]
        while len(self._lines) > MAX_LINES:
            self._lines.pop(next(iter(self._lines)))
        for o in parsed:
            if o.is_sweep_override() or o.is_hydra_override():
                return None
        return parsed

    @staticmethod
    def _prefixed(o: Any) -> bool:
        return o.is_sweep_override() or o.package is not None or o.is_add() or o.is_delete() or o.is_force_add()

    @staticmethod
    def _forced_value(o: Any) -> bool:
        """``++key=value`` on a key that is no config group: Hydra applies it with the plain values, in
        the given order (``_apply_overrides_to_config``, force-add), so it is derived like them. The budget
        sweeper's ``++budgetsweep.trial={...}`` differs in every job: as a base, each job was a full compose."""
        return o.is_force_add() and o.package is None and not o.is_sweep_override()

    def _repository(self) -> Any:
        """The config repository Hydra composes from (its search path includes the primary config's
        ``hydra.searchpath``; task overrides and group choices do not change it), built once."""
        if self._repo is None:
            hydra_overrides = OmegaConf.to_container(self.config.hydra.overrides.hydra)
            _, self._repo = self.config_loader._parse_overrides_and_create_caching_repo(
                self.config.hydra.job.config_name, list(hydra_overrides))
        return self._repo

    def _base(self, rest: tuple[str, ...]) -> DictConfig:
        """The full compose of the non-plain overrides ``rest``, cached by them (least recently
        used first out, at most :data:`MAX_BASES`: memory does not grow with the number of trials)."""
        base = self._bases.pop(rest, None)
        if base is None:
            base = self.config_loader.load_sweep_config(self.config, list(rest))
            self.full_composes += 1
            while len(self._bases) >= MAX_BASES:
                self._bases.pop(next(iter(self._bases)))
        self._bases[rest] = base
        return base

    @staticmethod
    def _independent(values: list, rest_values: list) -> bool:
        """No plain value's key is, or contains, or lies in the key of a non-group override of the
        base: Hydra applies all of them in the given order, the shortcut applies the base's first."""
        rest_keys = [o.key_or_group for o in rest_values]
        return not any(k == key or k.startswith(key + ".") or key.startswith(k + ".")
                       for key in (o.key_or_group for o in values) for k in rest_keys)

    def _derive(self, base: DictConfig, values: list, parsed: list, copy_base: bool = True) -> DictConfig:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname

        cfg = copy.deepcopy(base) if copy_base else base
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)  # Hydra's own: same checks, same errors
        # the hydra node records every task override in the given order, as _load_configuration_impl does
        cfg.hydra.overrides.task = [o.input_line for o in parsed]
        cfg.hydra.runtime.cwd = os.getcwd()
        with open_dict(cfg.hydra):
            for key in cfg.hydra.job.env_copy:  # read at compose time, as Hydra does
                cfg.hydra.job.env_set[key] = os.environ[key]
        dirname = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=parsed, kv_sep=dirname.kv_sep, item_sep=dirname.item_sep, exclude_keys=dirname.exclude_keys)
        OmegaConf.copy_cache(from_config=self.config, to_config=cfg)
        return cfg
