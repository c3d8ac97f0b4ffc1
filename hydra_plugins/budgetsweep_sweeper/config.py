"""Configs of ``hydra/sweeper=budget`` and its ``sampler`` and ``pruner`` groups.

The sweeper's fields are hydra-optuna-sweeper's (so a config switches by changing only the
sweeper's name) plus ``pruner`` and ``budget``. Sampler and pruner arguments default to Optuna 5's
own defaults; ``null`` means "Optuna's default" and is not passed. Upstream's TPE config passes
older values (``multivariate: false`` where Optuna 5 picks multivariate TPE for one objective);
set them explicitly to reproduce an upstream run. This module imports no Optuna: Hydra imports it
for every app that has the plugin installed.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import MISSING

PROVIDER = "budgetsweep_sweeper"


# -- samplers (hydra/sweeper/sampler) -----------------------------------------------------
@dataclass
class SamplerConfig:
    _target_: str = MISSING


@dataclass
class TPESamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.TPESampler"
    seed: Optional[int] = None
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    # null: multivariate TPE for one objective, independent TPE for several (Optuna 5)
    multivariate: Optional[bool] = None
    group: bool = False
    constant_liar: bool = True
    # upstream's fields, deprecated in Optuna 5: passed only when set
    consider_prior: Optional[bool] = None
    prior_weight: Optional[float] = None
    consider_magic_clip: Optional[bool] = None
    consider_endpoints: Optional[bool] = None
    warn_independent_sampling: Optional[bool] = None


@dataclass
class RandomSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.RandomSampler"
    seed: Optional[int] = None


@dataclass
class CmaEsSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: Optional[int] = None
    x0: Optional[Dict[str, Any]] = None
    sigma0: Optional[float] = None
    n_startup_trials: int = 1
    independent_sampler: Optional[Any] = None
    warn_independent_sampling: bool = True
    consider_pruned_trials: bool = False
    restart_strategy: Optional[str] = None
    popsize: Optional[int] = None
    inc_popsize: int = -1
    use_separable_cma: bool = False
    with_margin: bool = False
    lr_adapt: bool = False
    source_trials: Optional[Any] = None


@dataclass
class NSGAIISamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: Optional[int] = None
    population_size: int = 50
    mutation_prob: Optional[float] = None
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5
    constraints_func: Optional[Any] = None


@dataclass
class GridSamplerConfig(SamplerConfig):
    # the search space is filled in at run time from hydra.sweeper.params
    _target_: str = "optuna.samplers.GridSampler"
    _partial_: bool = True
    seed: Optional[int] = None


@dataclass
class GPSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.GPSampler"
    seed: Optional[int] = None
    n_startup_trials: int = 10
    deterministic_objective: bool = False
    independent_sampler: Optional[Any] = None
    warn_independent_sampling: bool = True


@dataclass
class QMCSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.QMCSampler"
    seed: Optional[int] = None
    qmc_type: str = "sobol"
    scramble: bool = False
    independent_sampler: Optional[Any] = None
    warn_asynchronous_seeding: bool = True
    warn_independent_sampling: bool = True


# -- pruners (hydra/sweeper/pruner) ---------------------------------------------------------
@dataclass
class NopPrunerConfig:
    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class MedianPrunerConfig:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class SuccessiveHalvingPrunerConfig:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = "auto"
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0
    bootstrap_count: int = 0


@dataclass
class HyperbandPrunerConfig:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"
    reduction_factor: int = 3
    bootstrap_count: int = 0


@dataclass
class WilcoxonPrunerConfig:
    _target_: str = "optuna.pruners.WilcoxonPruner"
    p_threshold: float = 0.1
    n_startup_steps: int = 2


@dataclass
class PatientPrunerConfig:
    _target_: str = "optuna.pruners.PatientPruner"
    # another pruner config ({_target_: optuna.pruners.MedianPruner, ...}) or null
    wrapped_pruner: Optional[Any] = None
    patience: int = MISSING
    min_delta: float = 0.0


# -- the budget (hydra.sweeper.budget); validated by budgetsweep.budget.settings -----------
@dataclass
class BudgetConfig:
    unit: str = "gpu_hours"  # gpu_hours | flops | examples
    limit: Optional[float] = None  # > 0 in unit; null: no cap (n_trials bounds the sweep, costs still measured)
    tolerance: float = 0.1
    safety_margin: float = 0.25
    default_trial_cost: Optional[float] = None
    assumed_flops_per_second: float = 1e9
    assumed_overhead_seconds: float = 10.0
    max_skipped: int = 10
    heartbeat_seconds: float = 30.0
    stale_after_seconds: float = 600.0


@dataclass
class BudgetSweeperConf:
    _target_: str = "hydra_plugins.budgetsweep_sweeper.budget_sweeper.BudgetSweeper"
    # the sweeper builds its sampler and pruner itself: it keeps the pruner's config for the jobs
    _recursive_: bool = False
    defaults: List[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "nop"}])

    sampler: Any = MISSING
    pruner: Any = MISSING
    # "minimize" | "maximize", or a list of them for several objectives
    direction: Any = "minimize"
    # a database URL; null: sqlite at outputs/budgetsweep.db under the original working directory
    storage: Optional[Any] = None
    # with storage null, the study is <study_name or app name>-<hash of the command>; see study_identity
    study_name: Optional[str] = None
    n_trials: int = 20
    # batch size: trials reserved and launched together
    n_jobs: int = 2
    max_failure_rate: float = 0.0
    # deprecated upstream form of params; used only when params is empty
    search_space: Optional[Dict[str, Any]] = None
    # {} rather than upstream's null, so +hydra.sweeper.params.x=... works on the command line
    params: Optional[Dict[str, Any]] = field(default_factory=dict)
    # dotpath to a callable(cfg, trial) that suggests more parameters
    custom_search_space: Optional[str] = None
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    # null: a plain budget sweep. A mapping (budgetsweep.auto_proxy.AutoProxySettings' fields; conf/experiment/
    # auto_proxy.yaml sets the defaults): calibrate -> choose -> search -> verify within hydra.sweeper.budget.limit
    auto_proxy: Optional[Any] = None


SAMPLERS = {
    "tpe": TPESamplerConfig,
    "random": RandomSamplerConfig,
    "cmaes": CmaEsSamplerConfig,
    "nsgaii": NSGAIISamplerConfig,
    "grid": GridSamplerConfig,
    "gp": GPSamplerConfig,
    "qmc": QMCSamplerConfig,
}

PRUNERS = {
    "nop": NopPrunerConfig,
    "median": MedianPrunerConfig,
    "successive_halving": SuccessiveHalvingPrunerConfig,
    "hyperband": HyperbandPrunerConfig,
    "wilcoxon": WilcoxonPrunerConfig,
    "patient": PatientPrunerConfig,
}


def register_samplers() -> None:
    store = ConfigStore.instance()
    for name, node in SAMPLERS.items():
        store.store(group="hydra/sweeper/sampler", name=name, node=node, provider=PROVIDER)


def register() -> None:
    store = ConfigStore.instance()
    store.store(group="hydra/sweeper", name="budget", node=BudgetSweeperConf, provider=PROVIDER)
    register_samplers()
    for name, node in PRUNERS.items():
        store.store(group="hydra/sweeper/pruner", name=name, node=node, provider=PROVIDER)


register()


class BudgetSamplerGroup(SearchPathPlugin):
    """hydra-optuna-sweeper registers the same group, ``hydra/sweeper/sampler``, with its older
    defaults, and which registration wins would depend on the order Hydra scans plugins in (which
    follows sys.path). Search path plugins run after the scan, so re-registering here makes ours
    win every time; hydra/sweeper=optuna then runs with these nodes too, whose fields it accepts."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        repo = ConfigStore.instance().repo
        group = repo.get("hydra", {}).get("sweeper", {}).get("sampler", {})
        if any(getattr(group.get(f"{name}.yaml"), "provider", PROVIDER) != PROVIDER for name in SAMPLERS):
            register_samplers()
