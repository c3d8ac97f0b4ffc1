"""Where does a step-cutting proxy start to learn? The measurement behind ``guards.min_steps``.

For digits and charlm, the full recipe shortened to N optimizer steps (``short_schedule`` with the
schedule compressed, warmup included: the sound way to cut steps) for several N, one seed each: the
validation loss after N steps against the task's trivial baseline (class prior; unigram entropy).
Prints one Markdown table; nothing is written.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/guard_min_steps.py [--steps 5 10 20 30 50 100]
"""
from __future__ import annotations

import argparse
import tempfile

from hydra import compose, initialize_config_module

from budgetsweep.app import run
from budgetsweep.records import read_record

FULL_STEPS = {"digits": 1010, "charlm": 613}  # the full recipes' optimizer steps (budgetsweep-plan / the record)


def measure(task: str, steps: int, seed: int) -> tuple[float, float, str]:
    overrides = [f"task={task}", "reduction=short_schedule", f"reduction.short_schedule.fraction={steps / FULL_STEPS[task]}",
                 f"seed={seed}", "train.device=cpu", "train.eval_every=100000"]
    with initialize_config_module(config_module="budgetsweep.conf", version_base=None):
        cfg = compose(config_name="config", overrides=overrides)
    with tempfile.TemporaryDirectory() as out:
        run(cfg, out, overrides)
        record = read_record(out)
    learned = record.learned or {}
    return record.objective.value, learned.get("baseline"), f"{record.info['steps']}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 30, 50, 100])
    parser.add_argument("--tasks", nargs="+", default=["digits", "charlm"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| task | steps | val_loss | trivial baseline | val_loss / baseline |\n|---|---|---|---|---|")
    for task in args.tasks:
        for n in args.steps:
            value, baseline, taken = measure(task, n, args.seed)
            print(f"| {task} | {taken} | {value:.3f} | {baseline:.3f} | {value / baseline:.2f} |", flush=True)


if __name__ == "__main__":
    main()
