"""A LightningModule made budget-aware by budgetsweep's callback (budgetsweep.lightning).

    python examples/lightning/train.py                                     # full run
    python examples/lightning/train.py 'reduction=[data_subset,short_schedule]'
    python examples/lightning/train.py -m hydra/sweeper=budget hydra.sweeper.budget.unit=examples \
        hydra.sweeper.budget.limit=60000 hydra.sweeper.n_trials=4 'optim.lr=tag(log, interval(1e-3, 1e-1))'

The lines marked `# budgetsweep` are all it takes. Data: scikit-learn's bundled digits.
"""
import hydra
import lightning
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset

import budgetsweep  # budgetsweep
from budgetsweep.lightning import BudgetCallback  # budgetsweep


class Classifier(lightning.LightningModule):
    def __init__(self, width: int, optimizer_kwargs: dict):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 10))
        self.optimizer_kwargs = optimizer_kwargs

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        out = self.net(x)
        self.log("val_loss", nn.functional.cross_entropy(out, y))
        self.log("val_accuracy", (out.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), **self.optimizer_kwargs)  # the schedule is the callback's


def digits():
    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32)
    y = torch.tensor(data.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    val, train = order[:360], order[360:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[val], y[val])


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg) -> float:
    with budgetsweep.run_context(cfg, objective="val_loss") as run:  # budgetsweep
        lightning.seed_everything(cfg.seed, verbose=False)
        train_set, val_set = digits()
        keep = run.subset_indices(len(train_set), labels=train_set.tensors[1].numpy())  # budgetsweep: FULL size
        budget = BudgetCallback(run)  # budgetsweep
        module = Classifier(cfg.model.width, run.optimizer_kwargs())  # budgetsweep
        trainer = lightning.Trainer(**budget.trainer_kwargs(), logger=False, enable_checkpointing=False,  # budgetsweep
                                    enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
        trainer.fit(module, DataLoader(Subset(train_set, keep), batch_size=run.batch_size, shuffle=True,  # budgetsweep
                                       drop_last=True),  # whole batches: measured examples = planned
                    DataLoader(val_set, batch_size=len(val_set)))
    return run.objective_value()  # budgetsweep


if __name__ == "__main__":
    main()
