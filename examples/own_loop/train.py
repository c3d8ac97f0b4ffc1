"""A plain PyTorch training script of its own (own data, model and loop), made budget-aware.

The lines marked `# budgetsweep` are all it takes: the run context hands the loop the reduced
recipe (data subset, batch size, learning rate, steps, precision), records metrics and cost,
stops when a budget sweeper's pruner or reservation says so, and writes record.json.

    python examples/own_loop/train.py                                   # full run
    python examples/own_loop/train.py 'reduction=[data_subset,short_schedule]'
    python examples/own_loop/train.py train.steps=null train.epochs=10  # count epochs instead of steps

The calls follow the one sequence of docs/own_loops.md: `run.subset_indices` gets the FULL training
set's size, then `run.steps()` and `run.set_lr(opt, step)` need no argument, with `train.steps` or
`train.epochs`.
"""
import hydra
import torch
from torch import nn

import budgetsweep  # budgetsweep


def make_data(n: int, seed: int):
    """Two interleaved spirals: a small problem where width and learning rate matter."""
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * 3 * torch.pi
    label = torch.randint(0, 2, (n,), generator=g)
    sign = 1 - 2 * label.float()
    x = torch.stack([t * torch.cos(t) * sign, t * torch.sin(t) * sign], dim=1) / 5
    return x + 0.05 * torch.randn(x.shape, generator=g), label


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg) -> float:
    with budgetsweep.run_context(cfg, objective="val_loss") as run:  # budgetsweep
        torch.manual_seed(cfg.seed)
        x, y = make_data(cfg.data.n_train, seed=0)
        val_x, val_y = make_data(cfg.data.n_val, seed=1)
        keep = torch.as_tensor(run.subset_indices(len(x), labels=y.numpy()))  # budgetsweep: the FULL size
        x, y = x[keep], y[keep]
        model = nn.Sequential(nn.Linear(2, cfg.model.width), nn.Tanh(), nn.Linear(cfg.model.width, cfg.model.width),
                              nn.Tanh(), nn.Linear(cfg.model.width, 2))
        opt = torch.optim.AdamW(model.parameters(), **run.optimizer_kwargs())  # budgetsweep
        batch = run.batch_size  # budgetsweep
        for step in range(run.steps()):  # budgetsweep
            lr = run.set_lr(opt, step)  # budgetsweep
            idx = torch.randint(0, len(x), (batch,))
            with run.autocast():  # budgetsweep
                loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.add_cost(examples=batch)  # budgetsweep
            if (step + 1) % run.eval_every == 0:
                with torch.no_grad():
                    out = model(val_x)
                    val_loss = nn.functional.cross_entropy(out, val_y).item()
                    acc = (out.argmax(1) == val_y).float().mean().item()
                run.report(step + 1, val_loss=val_loss, val_accuracy=acc, lr=lr)  # budgetsweep
        if cfg.get("crash"):
            raise RuntimeError("crash requested by the config (crash=true)")
    return run.objective_value()  # budgetsweep


if __name__ == "__main__":
    main()
