"""An app that does nothing but return x^2: for measuring a sweeper's per-trial overhead.

It has no ``task`` and writes no record, so the budget sweeper predicts and charges each trial
``hydra.sweeper.budget.default_trial_cost``.
"""
import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="trivial_app")
def main(cfg: DictConfig) -> float:
    return float(cfg.x) ** 2


if __name__ == "__main__":
    main()
