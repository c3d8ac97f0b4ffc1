"""The Hydra plugin class: thin; the work is in ``_impl``, imported only when a sweep runs."""
from typing import Any, List, Optional

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class BudgetSweeper(Sweeper):
    def __init__(self, sampler: Any, pruner: Any, direction: Any, storage: Optional[Any],
                 study_name: Optional[str], n_trials: int, n_jobs: int, max_failure_rate: float,
                 search_space: Optional[DictConfig], params: Optional[DictConfig],
                 custom_search_space: Optional[str], budget: DictConfig,
                 auto_proxy: Optional[DictConfig] = None) -> None:
        self.settings = dict(sampler=sampler, pruner=pruner, direction=direction, storage=storage,
                             study_name=study_name, n_trials=n_trials, n_jobs=n_jobs,
                             max_failure_rate=max_failure_rate, search_space=search_space, params=params,
                             custom_search_space=custom_search_space, budget=budget, auto_proxy=auto_proxy)
        self.context: dict = {}

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.context = dict(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        from budgetsweep.gc_tuning import FrozenHeap

        # Optuna, SQLAlchemy and NumPy are imported here, inside the sweep's heap scope: their objects are
        # never traced by a full collection (budgetsweep/gc_tuning.py)
        with FrozenHeap() as heap:
            from ._impl import BudgetSweeperImpl, refuse

            try:
                sweeper = BudgetSweeperImpl(**self.settings)
            except ValueError as exc:  # bad input: one message, exit 2 (not Hydra's "Error in call to target")
                refuse(exc)
            sweeper.setup(**self.context)
            return sweeper.sweep(arguments, heap)
