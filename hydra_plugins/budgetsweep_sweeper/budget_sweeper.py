"""The Hydra plugin class: thin; the work is in ``_impl``, imported only when the sweeper is used."""
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
        from ._impl import BudgetSweeperImpl

        # a bad setting raised here would reach the user through Hydra's instantiate ("Error in call to target",
        # exit 1): kept for sweep(), which reports bad input as one message with exit 2
        self.init_error: Optional[ValueError] = None
        try:
            self.sweeper = BudgetSweeperImpl(
                sampler=sampler, pruner=pruner, direction=direction, storage=storage, study_name=study_name,
                n_trials=n_trials, n_jobs=n_jobs, max_failure_rate=max_failure_rate, search_space=search_space,
                params=params, custom_search_space=custom_search_space, budget=budget, auto_proxy=auto_proxy,
            )
        except ValueError as exc:
            self.init_error = exc

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        if self.init_error is None:
            self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        if self.init_error is not None:
            from ._impl import refuse

            refuse(self.init_error)
        return self.sweeper.sweep(arguments)
