"""An app that writes the value (and its type) its ``cfg.v`` received to ``delivered.json`` in its
output directory: what a sweeper hands a job, seen from the job. No record."""
import json
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf


@hydra.main(version_base=None, config_path="conf", config_name="echo_app")
def main(cfg: DictConfig) -> float:
    node = cfg.v
    value = OmegaConf.to_container(node) if OmegaConf.is_config(node) else node
    out = {"type": type(value).__name__, "value": repr(value)}
    Path(HydraConfig.get().runtime.output_dir, "delivered.json").write_text(json.dumps(out))
    return 0.0


def custom_space(cfg, trial) -> None:
    """A custom_search_space that suggests Python values of every kind Optuna allows."""
    trial.suggest_categorical("w", [None, True, 1, 1.5, "1", "null", "a b", "x=y,z", "it's", "[1,2]"])


if __name__ == "__main__":
    main()
