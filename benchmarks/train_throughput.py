"""Built-in training loop vs a minimal hand-written PyTorch loop: same model, data and steps.

DESIGN section 11 target: the built-in loop at >= 0.9x the hand loop's throughput. Both run in
one process, interleaved over several repeats, and the median time of each is compared, so a
busy machine affects both alike. Writes analysis/train_throughput.md.

    .venv/bin/python benchmarks/train_throughput.py [--steps 2000] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from budgetsweep.recipe import OptimSpec, Recipe, TrainSpec
from budgetsweep.tasks import Digits
from budgetsweep.train import train

MODEL = {"_target_": "budgetsweep.tasks.models.MLP", "hidden": 128, "depth": 2}


class Quiet:
    def add_cost(self, examples=0, flops=0.0):
        pass

    def report(self, step, metrics):
        pass


def hand_loop(task, recipe, steps):
    """What a researcher writes by hand: tensors in memory, shuffled slices, AdamW, no extras."""
    torch.manual_seed(recipe.seed)
    data = task.build_data(recipe)
    model = task.build_model(recipe)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.optim.lr)
    x, y, n, b = data.train_x, data.train_y, len(data.train_x), recipe.train.batch_size
    pos, order = n, None
    for _ in range(steps):
        if pos + b > n:
            order, pos = torch.randperm(n), 0
        idx = order[pos:pos + b]
        pos += b
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("analysis/train_throughput.md"))
    args = parser.parse_args()
    task = Digits()
    # eval once at the end, as the hand loop has no evaluation to pay for
    recipe = Recipe(task={}, model=dict(MODEL), optim=OptimSpec(lr=0.003),
                    train=TrainSpec(batch_size=32, steps=args.steps, epochs=None, eval_every=args.steps,
                                    device="cpu", schedule="cosine", warmup_steps=50))
    ours, hand = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        train(recipe, task, Quiet(), progress=False)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        hand_loop(task, recipe, args.steps)
        hand.append(time.perf_counter() - t0)
    ratio = statistics.median(hand) / statistics.median(ours)
    examples = args.steps * recipe.train.batch_size
    text = (
        "# Training-loop throughput\n\n"
        f"digits MLP 64-128-128-10, batch 32, {args.steps} steps, CPU, {torch.get_num_threads()} threads, "
        f"median of {args.repeats} interleaved repeats.\n\n"
        "| loop | median seconds | examples/s |\n|---|---|---|\n"
        f"| built-in `budgetsweep.train.train` | {statistics.median(ours):.3f} | {examples / statistics.median(ours):,.0f} |\n"
        f"| minimal hand-written loop | {statistics.median(hand):.3f} | {examples / statistics.median(hand):,.0f} |\n\n"
        f"Throughput ratio (built-in / hand): **{ratio:.2f}** (target >= 0.9).\n\n"
        "The built-in time includes one final evaluation on validation and test, the FLOP count of the "
        "first batch and the memory measurement of the first step.\n\n"
        "Command: `.venv/bin/python benchmarks/train_throughput.py`\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
