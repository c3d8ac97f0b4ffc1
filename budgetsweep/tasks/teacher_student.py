"""``task=teacher_student``: data labelled by a fixed random teacher network; any size, known optimum.

Inputs are standard Gaussian. A teacher MLP (its own seed, fixed per task config) gives the
targets: for ``kind=regression`` y = teacher(x) + noise, whose best achievable mean squared error
is noise_std^2; for ``kind=classification`` y = argmax teacher(x), which a student of the teacher's
size can fit exactly (best accuracy 1). The optimum goes into the record.
"""
from __future__ import annotations

import torch
from hydra.utils import instantiate

from budgetsweep.tasks.base import TaskData, check_metric, class_prior_baseline, classification_metrics
from budgetsweep.tasks.cache import DATASETS, content_key
from budgetsweep.tasks.subset import subset_indices

KINDS = ("regression", "classification")


class TeacherStudent:
    name = "teacher_student"

    def __init__(self, kind: str = "regression", n_train: int = 4096, n_val: int = 1024, n_test: int = 1024,
                 input_dim: int = 16, output_dim: int = 1, teacher_hidden: int = 32, noise_std: float = 0.1,
                 teacher_seed: int = 1234, objective: str = "val_loss") -> None:
        if kind not in KINDS:
            raise ValueError(f"task.kind={kind!r} is not allowed; allowed: {KINDS}")
        for key, value in (("task.n_train", n_train), ("task.n_val", n_val), ("task.input_dim", input_dim),
                           ("task.output_dim", output_dim), ("task.teacher_hidden", teacher_hidden)):
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{key}={value!r} is not allowed; it must be an integer >= 1")
        if kind == "classification" and output_dim < 2:
            raise ValueError(f"task.output_dim={output_dim} is not allowed for classification; it must be >= 2")
        if noise_std < 0:
            raise ValueError(f"task.noise_std={noise_std!r} is not allowed; it must be >= 0")
        metrics = ("val_loss", "val_accuracy") if kind == "classification" else ("val_loss",)
        check_metric(self.name, objective, metrics)
        self.kind, self.objective = kind, objective
        self.sizes = (n_train, n_val, n_test)
        self.input_dim, self.output_dim, self.teacher_hidden = input_dim, output_dim, teacher_hidden
        self.noise_std, self.teacher_seed = noise_std, teacher_seed
        self._data = None

    def cache_key(self) -> str:
        """Every value the generated data depends on."""
        return content_key(type(self).__qualname__, self.kind, self.sizes, self.input_dim, self.output_dim,
                           self.teacher_hidden, self.noise_std, self.teacher_seed)

    def _generate(self):
        # one build per process and task config (budgetsweep.tasks.cache); build_data hands out copies
        if self._data is None:
            self._data = DATASETS.get(self.cache_key(), self._build)
        return self._data

    def _build(self):
        g = torch.Generator().manual_seed(self.teacher_seed)
        w1 = torch.randn(self.input_dim, self.teacher_hidden, generator=g) / self.input_dim ** 0.5
        w2 = torch.randn(self.teacher_hidden, self.output_dim, generator=g) / self.teacher_hidden ** 0.5
        n = sum(self.sizes)
        x = torch.randn(n, self.input_dim, generator=g)
        f = torch.tanh(x @ w1) @ w2
        if self.kind == "regression":
            y = f + self.noise_std * torch.randn(f.shape, generator=g)
        else:
            y = f.argmax(dim=1)
        a, b, _ = self.sizes
        return (x[:a], y[:a], x[a:a + b], y[a:a + b], x[a + b:], y[a + b:])

    def n_train(self) -> int:
        return self.sizes[0]

    def trivial_baseline(self) -> dict:
        """The ``learned`` verdict's baseline on the validation set: regression, the MSE of predicting the
        training targets' mean (about the targets' variance); classification, the training class prior."""
        _, y_train, _, y_val, _, _ = self._generate()
        if self.kind == "classification":
            return {**class_prior_baseline(y_train.numpy(), y_val.numpy(), self.output_dim),
                    "source": "class prior of the training labels"}
        mse = float(((y_val - y_train.mean(dim=0)) ** 2).mean())
        return {"val_loss": mse, "source": "mean of the training targets (MSE)"}

    def eval_sizes(self) -> tuple[int, int]:
        """(validation, test) examples, for pricing evaluation without generating data."""
        return self.sizes[1], self.sizes[2]

    def build_data(self, recipe) -> TaskData:
        x_train, y_train, x_val, y_val, x_test, y_test = self._generate()
        labels = y_train.numpy() if self.kind == "classification" else None
        idx = torch.as_tensor(subset_indices(len(x_train), recipe.data.fraction, recipe.data.subset_seed, labels))
        optimum = {"val_loss": self.noise_std ** 2} if self.kind == "regression" else {"val_accuracy": 1.0}
        return TaskData(
            # copies (indexing copies too): the cached tensors are shared by every job of the process
            train_x=x_train[idx], train_y=y_train[idx], val_x=x_val.clone(), val_y=y_val.clone(),
            test_x=x_test.clone(), test_y=y_test.clone(),
            n_train_full=len(x_train),
            info={"n_train": int(len(idx)), "n_train_full": len(x_train), "known_optimum": optimum},
        )

    def build_model(self, recipe) -> torch.nn.Module:
        return instantiate(recipe.model, in_features=self.input_dim, out_features=self.output_dim)

    def loss(self, output, target):
        if self.kind == "regression":
            return torch.nn.functional.mse_loss(output, target)
        return torch.nn.functional.cross_entropy(output, target)

    def metrics(self, output, target):
        if self.kind == "regression":
            return {"loss": float(torch.nn.functional.mse_loss(output.float(), target))}
        return classification_metrics(output, target)
