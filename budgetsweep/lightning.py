"""A Lightning callback that makes a LightningModule budget-aware through the run context
(issue 17 point 4).

    with budgetsweep.run_context(cfg) as run:
        keep = run.subset_indices(len(train_set))            # the data reduction, on the FULL size
        budget = BudgetCallback(run)
        trainer = lightning.Trainer(**budget.trainer_kwargs(), logger=False)
        trainer.fit(module, DataLoader(Subset(train_set, keep), batch_size=run.batch_size, shuffle=True), val_loader)
    return run.objective_value()

The callback gives the Trainer the reduced recipe's length (``max_steps``), validation interval (and
a validation of the final model, as the built-in trainer's) and precision (fp16 needs CUDA); sets
the scheduled learning rate before every step (``run.set_lr``, the built-in trainer's schedule, so
a module's ``configure_optimizers`` uses ``run.optimizer_kwargs()`` and no scheduler); meters every
batch's examples (and FLOPs, given ``flops_per_example``); reports the validation metrics to the
run (metrics.jsonl, the record, a budget sweeper's pruner); and stops the Trainer
(``trainer.should_stop``) when the pruner or the trial's reservation says so, so the run's record
ends ``pruned`` or ``budget_stopped`` rather than in an exception inside Lightning. Needs
``lightning`` (``pip install 'budgetsweep[lightning]'``).
"""
from __future__ import annotations

import math
from typing import Any

from lightning.pytorch import Callback

# the recipe's precision -> Lightning's precision flag
PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed", "fp16": "16-mixed"}


def _batch_examples(batch: Any) -> int:
    """Examples in a batch: the first dimension of its first tensor (a tensor, tuple, list or dict)."""
    while isinstance(batch, (list, tuple, dict)):
        if not batch:
            return 0
        batch = next(iter(batch.values())) if isinstance(batch, dict) else batch[0]
    return int(batch.shape[0]) if hasattr(batch, "shape") and batch.shape else 1


class BudgetCallback(Callback):
    """``run``: a RunContext (``budgetsweep.run_context(cfg)``). ``flops_per_example``: training FLOPs
    per example, when the budget's unit is flops (the run cannot count them inside Lightning).
    ``n_train``: the full training set's size for an epochs-based recipe when ``run.subset_indices``
    was not called. Raises ValueError for a negative or non-finite ``flops_per_example``."""

    def __init__(self, run, *, flops_per_example: float | None = None, n_train: int | None = None) -> None:
        if flops_per_example is not None and not (math.isfinite(flops_per_example) and flops_per_example >= 0):
            raise ValueError(f"flops_per_example={flops_per_example!r}: expected a finite number >= 0")
        self.run = run
        self.flops_per_example = flops_per_example or 0.0
        self.n_train = n_train
        run.raise_on_stop = False  # stop the Trainer (trainer.should_stop) instead of raising inside it

    def trainer_kwargs(self) -> dict[str, Any]:
        """``max_steps``, ``precision``, ``val_check_interval`` (steps, across epochs) and this callback."""
        steps = self.run.steps(self.n_train)
        return {"max_steps": steps, "max_epochs": -1, "precision": PRECISION[self.run.recipe.train.precision],
                "val_check_interval": min(self.run.eval_every, steps), "check_val_every_n_epoch": None,
                "num_sanity_val_steps": 0, "callbacks": [self]}

    def setup(self, trainer, pl_module, stage: str) -> None:
        """The recipe's precision on the Trainer's device, through ``run.autocast`` as an own loop
        would: fp16 off CUDA raises the built-in trainer's ValueError (Lightning would silently run
        bf16 while the record says fp16), and the run knows a mixed_precision reduction was honoured."""
        self.run.autocast(trainer.strategy.root_device.type)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        for optimizer in trainer.optimizers:
            self.run.set_lr(optimizer, trainer.global_step, self.n_train)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        examples = _batch_examples(batch)
        self.run.add_cost(examples=examples, flops=self.flops_per_example * examples)
        # the reservation is used up; or the last step: stopping makes Lightning validate the final model
        # (at max_steps it validates only on the interval), so the objective is the end's, as built in
        if self.run.should_stop or trainer.global_step >= trainer.max_steps:
            trainer.should_stop = True

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if getattr(v, "numel", lambda: 1)() == 1}
        if self.run.report(trainer.global_step, metrics):  # the pruner or the budget says stop
            trainer.should_stop = True
