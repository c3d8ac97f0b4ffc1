"""Config of ``hydra/sweeper=hypothesis``. Imports nothing heavy: Hydra imports it for every app."""
from dataclasses import dataclass
from typing import Optional

from hydra.core.config_store import ConfigStore

PROVIDER = "budgetsweep_hypothesis"


@dataclass
class HypothesisSweeperConf:
    _target_: str = "hydra_plugins.budgetsweep_hypothesis.hypothesis_sweeper.HypothesisSweeper"
    # path of the registration.json that budgetsweep-hypothesis wrote; required
    registration: Optional[str] = None
    # whole pairs per launched batch; null: the launcher's n_jobs // 2 (at least 1; basic launcher: 1)
    pairs_per_batch: Optional[int] = None


ConfigStore.instance().store(group="hydra/sweeper", name="hypothesis", node=HypothesisSweeperConf, provider=PROVIDER)
