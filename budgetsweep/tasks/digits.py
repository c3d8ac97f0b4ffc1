"""``task=digits``: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes), no download."""
from __future__ import annotations

import numpy as np
import torch
from hydra.utils import instantiate
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from budgetsweep.tasks.base import TaskData, check_metric, class_prior_baseline, classification_metrics
from budgetsweep.tasks.cache import DATASETS, content_key, read_only
from budgetsweep.tasks.subset import subset_indices

METRICS = ("val_loss", "val_accuracy")


class Digits:
    name = "digits"

    def __init__(self, objective: str = "val_loss", val_fraction: float = 0.2, test_fraction: float = 0.2,
                 split_seed: int = 0) -> None:
        check_metric(self.name, objective, METRICS)
        for key, value in (("task.val_fraction", val_fraction), ("task.test_fraction", test_fraction)):
            if not 0 < value < 0.5:
                raise ValueError(f"{key}={value!r} is out of range; it must be in (0, 0.5)")
        self.objective = objective
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self._splits = None

    def cache_key(self) -> str:
        """The content the splits depend on (the bundled data is fixed for an installed scikit-learn)."""
        return content_key(type(self).__qualname__, self.val_fraction, self.test_fraction, self.split_seed)

    def _load(self):
        # one build per process and split config (budgetsweep.tasks.cache), shared read-only by its jobs
        if self._splits is None:
            self._splits = DATASETS.get(self.cache_key(), self._split)
        return self._splits

    def _split(self):
        # the split is fixed by split_seed, independent of the run seed, so all runs share it
        x, y = load_digits(return_X_y=True)
        x = (x / 16.0).astype(np.float32)
        x_rest, x_test, y_rest, y_test = train_test_split(
            x, y, test_size=self.test_fraction, stratify=y, random_state=self.split_seed)
        val = self.val_fraction / (1 - self.test_fraction)
        x_train, x_val, y_train, y_val = train_test_split(
            x_rest, y_rest, test_size=val, stratify=y_rest, random_state=self.split_seed)
        return read_only(x_train, y_train, x_val, y_val, x_test, y_test)

    def n_train(self) -> int:
        return len(self._load()[1])

    def trivial_baseline(self) -> dict:
        """Validation metrics of the class prior of the training set (the ``learned`` verdict's baseline)."""
        _, y_train, _, y_val, _, _ = self._load()
        return {**class_prior_baseline(y_train, y_val, 10), "source": "class prior of the training labels"}

    def eval_sizes(self) -> tuple[int, int]:
        """(validation, test) examples, for pricing evaluation without building tensors."""
        splits = self._load()
        return len(splits[3]), len(splits[5])

    def build_data(self, recipe) -> TaskData:
        x_train, y_train, x_val, y_val, x_test, y_test = self._load()
        idx = subset_indices(len(y_train), recipe.data.fraction, recipe.data.subset_seed, labels=y_train)
        t = lambda a, dt=torch.float32: torch.tensor(a, dtype=dt)  # noqa: E731  a copy: the splits are shared
        return TaskData(
            train_x=t(x_train[idx]), train_y=t(y_train[idx], torch.long),
            val_x=t(x_val), val_y=t(y_val, torch.long),
            test_x=t(x_test), test_y=t(y_test, torch.long),
            n_train_full=len(y_train),
            info={"n_train": int(len(idx)), "n_train_full": int(len(y_train)), "n_val": int(len(y_val)),
                  "n_test": int(len(y_test)), "n_classes": 10},
        )

    def build_model(self, recipe) -> torch.nn.Module:
        return instantiate(recipe.model, in_features=64, out_features=10)

    def progressive_view(self, x, y, scale: float):
        """The batch at a lower resolution (``reduction=progressive``): each 8x8 image average-pooled
        to round(8 x scale) pixels a side, then upsampled back (nearest) to 8x8 so the model's input
        shape is unchanged. It changes the information in an input, not the compute per example."""
        side = max(1, round(8 * scale))
        if side >= 8:
            return x, y
        small = torch.nn.functional.adaptive_avg_pool2d(x.view(-1, 1, 8, 8), side)
        return torch.nn.functional.interpolate(small, size=(8, 8), mode="nearest").flatten(1), y

    def loss(self, output, target):
        return torch.nn.functional.cross_entropy(output, target)

    def metrics(self, output, target):
        return classification_metrics(output, target)
