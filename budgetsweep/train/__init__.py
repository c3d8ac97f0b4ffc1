"""The training loop, schedules and precision. Imports no Hydra and no Optuna."""
from budgetsweep.train.loop import NonFiniteLoss, TrainResult, evaluate, train
from budgetsweep.train.schedules import lr_multiplier

__all__ = ["train", "evaluate", "TrainResult", "NonFiniteLoss", "lr_multiplier"]
