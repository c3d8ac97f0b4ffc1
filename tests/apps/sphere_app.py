"""A sphere app as written for hydra-optuna-sweeper (its example's config fields), switched to the
budget sweeper by its config's one ``override hydra/sweeper: budget`` line. It writes no record.
Run it as ``python -m tests.apps.sphere_app --multirun``."""
import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="sphere_app")
def sphere(cfg: DictConfig) -> float:
    x: float = cfg.x
    y: float = cfg.y
    return x**2 + y**2


if __name__ == "__main__":
    sphere()
