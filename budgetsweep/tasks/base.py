"""The Task protocol: data, model, loss and metrics for a recipe."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # torch is imported where data is built: planning and `--help` need none of it
    import torch

METRIC_DIRECTIONS = {"loss": "minimize", "accuracy": "maximize", "mse": "minimize", "error": "minimize"}


@dataclass
class TaskData:
    """Whole splits as tensors: the trainer slices batches, no per-sample collation."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor | None = None
    test_y: torch.Tensor | None = None
    n_train_full: int = 0  # training-set size before any data_subset
    info: dict[str, Any] | None = None  # goes into the record (known optimum, corpus hash, ...)


class Task(Protocol):
    name: str
    objective: str  # a metric name, e.g. "val_loss"

    def build_data(self, recipe) -> TaskData: ...

    def build_model(self, recipe) -> torch.nn.Module: ...

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...

    def metrics(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, float]: ...

    def n_train(self) -> int: ...


def objective_direction(metric: str) -> str:
    """Direction from the metric name's suffix (``val_loss`` -> minimize)."""
    for suffix, direction in METRIC_DIRECTIONS.items():
        if metric.endswith(suffix):
            return direction
    raise ValueError(
        f"task.objective={metric!r} has no known direction; use a metric ending in one of "
        f"{sorted(METRIC_DIRECTIONS)}"
    )


def classification_metrics(output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    import torch

    loss = torch.nn.functional.cross_entropy(output.float(), target, reduction="mean")
    acc = (output.argmax(dim=-1) == target).float().mean()
    return {"loss": float(loss), "accuracy": float(acc)}


def class_prior_baseline(train_labels, val_labels, n_classes: int) -> dict[str, float]:
    """The trivial classifier's validation metrics: it predicts the training set's class frequencies
    (cross-entropy in nats, the ``loss``) and always their most frequent class (``accuracy``).
    Labels are integer arrays; a class absent from training gets probability 1 / (n_train + n_classes)
    (add-one smoothing), so the cross-entropy stays finite."""
    import numpy as np

    train, val = np.asarray(train_labels, dtype=np.int64), np.asarray(val_labels, dtype=np.int64)
    counts = np.bincount(train, minlength=n_classes).astype(np.float64)
    prior = np.where(counts > 0, counts / len(train), 1.0 / (len(train) + n_classes))
    prior /= prior.sum()
    return {"val_loss": float(-np.log(prior[val]).mean()),
            "val_accuracy": float((val == int(np.argmax(counts))).mean())}


def check_metric(task_name: str, objective: str, available: tuple[str, ...]) -> None:
    if objective not in available:
        raise ValueError(f"task.objective={objective!r} is not a metric of task {task_name!r}; "
                         f"allowed: {available}")
