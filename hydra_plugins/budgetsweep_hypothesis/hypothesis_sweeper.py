"""The Hydra plugin class: thin; the work is in ``_impl``, imported only when the sweeper is used."""
from typing import Any, List, Optional

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from .config import HypothesisSweeperConf  # noqa: F401  (registers hydra/sweeper=hypothesis)


class HypothesisSweeper(Sweeper):
    def __init__(self, registration: Optional[str], pairs_per_batch: Optional[int]) -> None:
        from ._impl import HypothesisSweeperImpl

        self.sweeper = HypothesisSweeperImpl(registration=registration, pairs_per_batch=pairs_per_batch)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        return self.sweeper.sweep(arguments)
