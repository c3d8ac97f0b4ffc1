"""About one Hydra composition per set of group choices of a ``budgetsweep -m`` grid, where Hydra's
basic sweeper pays two per job.

Hydra's basic sweeper composes every job of a batch up front (``Sweeper.validate_batch_is_legal``,
so that a bad override fails before any job runs) and Hydra's basic launcher, in the same process,
composes each job again just before running it: two calls of ``ConfigLoaderImpl.load_sweep_config``
with the same master config and the same overrides. A composition of budgetsweep's config costs
about 0.18 s on an idle CPU (DESIGN section 11; ``analysis/proxy_sweep_speed.md``), more than a
50x digits proxy's training.

:func:`install` (called by the ``budgetsweep`` console script, and by the budget sweeper for any app it
sweeps) wraps ``load_sweep_config`` twice over:

- a job's config is derived from a base composed once per set of group choices (and other non-plain
  overrides) of the current sweep, its plain ``key=value`` overrides applied with Hydra's own function
  (``budgetsweep.budget.trial_config.TrialComposer``, shared with the budget sweeper); whenever that
  might differ from Hydra's composition (a plain key meeting a ``+``/``~``/``++`` override, a
  ``hydra.`` key, any error), Hydra composes the job itself;
- under Hydra's basic sweeper, the first composition of a job is kept and handed to the second call
  with the same master config and overrides, once (other sweepers, such as the budget sweeper,
  compose each job once: derived, nothing kept); the first caller gets a copy (nobody else ever sees the kept object, so
  whatever a caller does to its copy cannot reach the launcher).

The result is Hydra's own composition of the same inputs: identical, hydra node included
(``tests/test_compose_memo.py`` runs grids through Hydra's sweeper and launcher with and without it
and compares what every job sees). Only where the launcher runs jobs in this process (Hydra's basic
launcher); a launcher that composes elsewhere (joblib, submitit) is left alone. At most
:data:`MAX_KEPT` compositions are kept (about 0.36 MiB each) and the bases of one sweep at a time
(at most ``trial_config.MAX_BASES``): memory stays bounded whatever the grid's size; jobs of a batch
beyond ``MAX_KEPT`` are derived twice.
"""
from __future__ import annotations

import copy
import functools
from collections import OrderedDict

BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
MAX_KEPT = 64  # compositions kept at once: ~23 MiB at most


class ComposeMemo:
    """The kept compositions, keyed by (config loader, master config, job overrides): one use each."""

    def __init__(self, max_kept: int = MAX_KEPT, derive: bool = True) -> None:
        self.max_kept, self.derive = max_kept, derive
        self.kept: OrderedDict = OrderedDict()
        self.hits = self.misses = 0
        self._composer: tuple | None = None  # (loader, master config, TrialComposer): the current sweep's

    @property
    def full_composes(self) -> int:
        """Hydra compositions the current sweep's composer paid (one per set of group choices)."""
        return self._composer[2].full_composes if self._composer else 0

    def _compose(self, original, loader, master_config, sweep_overrides):
        """Hydra's composition of a job, derived from an already composed job with the same group
        choices where only plain values differ (``TrialComposer``: the same config, tested)."""
        if not self.derive:
            return original(loader, master_config, sweep_overrides)
        return self.composer(original, loader, master_config).compose(list(sweep_overrides))

    def composer(self, original, loader, master_config):
        """The current sweep's ``TrialComposer`` (its full compose is ``original``, Hydra's own)."""
        if self._composer is None or self._composer[0] is not loader or self._composer[1] is not master_config:
            from budgetsweep.budget.trial_config import TrialComposer

            class _Hydras:  # the composer's full compose is Hydra's own, never this wrapper again
                def __getattr__(self, name):
                    return getattr(loader, name)

                def load_sweep_config(self, config, overrides):
                    return original(loader, config, overrides)

            # one sweep's composer at a time: its bases are bounded, and a new sweep drops the old ones
            self._composer = (loader, master_config, TrialComposer(config=master_config, config_loader=_Hydras()))
        return self._composer[2]

    def load_sweep_config(self, original, loader, master_config, sweep_overrides):
        """``ConfigLoaderImpl.load_sweep_config`` through the memo; same arguments, same result."""
        if _target(master_config, "launcher") != BASIC_LAUNCHER:
            return original(loader, master_config, sweep_overrides)
        if _target(master_config, "sweeper") != BASIC_SWEEPER:
            # composed once per job (the budget sweeper validates no batch): derived, nothing to keep
            return self._compose(original, loader, master_config, sweep_overrides)
        key = (id(loader), id(master_config), tuple(sweep_overrides))
        entry = self.kept.pop(key, None)
        # the master config object is held by the entry, so an equal id is the same object
        if entry is not None and entry[0] is master_config and entry[1] is loader:
            self.hits += 1
            return entry[2]
        self.misses += 1
        cfg = self._compose(original, loader, master_config, sweep_overrides)
        if len(self.kept) >= self.max_kept:
            return cfg  # full: this job composes again in the launcher, as without the memo
        self.kept[key] = (master_config, loader, cfg)
        return copy.deepcopy(cfg)  # ~0.02 s against a composition's ~0.18 s

    def clear(self) -> None:
        self.kept.clear()
        self._composer = None


def _target(master_config, plugin: str) -> str | None:
    """``hydra.<plugin>._target_`` of the sweep's config (plugin: launcher or sweeper)."""
    try:
        return master_config.hydra[plugin]._target_
    except Exception:  # no hydra node or no launcher: not a sweep we know
        return None


MEMO = ComposeMemo()


def install(memo: ComposeMemo = MEMO) -> None:
    """Route Hydra's ``load_sweep_config`` through ``memo`` (idempotent; this process only)."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    current = ConfigLoaderImpl.load_sweep_config
    if getattr(current, "_budgetsweep_memo", None) is memo:
        return
    original = getattr(current, "_budgetsweep_original", current)

    @functools.wraps(original)
    def load_sweep_config(self, master_config, sweep_overrides):
        return memo.load_sweep_config(original, self, master_config, sweep_overrides)

    load_sweep_config._budgetsweep_memo = memo
    load_sweep_config._budgetsweep_original = original
    ConfigLoaderImpl.load_sweep_config = load_sweep_config


def launch_composer(loader, master_config, memo: ComposeMemo = MEMO):
    """The ``TrialComposer`` through which Hydra's basic launcher will compose the jobs of this sweep
    (``master_config``) in this process, or None: the memo is not installed, derives nothing, or leaves
    this sweep's launches to Hydra (another launcher; Hydra's basic sweeper, whose compositions it keeps).
    The budget sweeper plans each trial with it, and hands the planned config over to the launch."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    current = ConfigLoaderImpl.load_sweep_config
    if (getattr(current, "_budgetsweep_memo", None) is not memo or not memo.derive
            or _target(master_config, "launcher") != BASIC_LAUNCHER
            or _target(master_config, "sweeper") == BASIC_SWEEPER):
        return None
    return memo.composer(current._budgetsweep_original, loader, master_config)


def uninstall() -> None:
    """Restore Hydra's own ``load_sweep_config`` (tests)."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    original = getattr(ConfigLoaderImpl.load_sweep_config, "_budgetsweep_original", None)
    if original is not None:
        ConfigLoaderImpl.load_sweep_config = original
