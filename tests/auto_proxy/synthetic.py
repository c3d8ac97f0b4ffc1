"""A synthetic task with known fidelity, written as real run records (``records.RunRecord`` through
``records.write_record``, the writer every job uses) and read back with ``analysis.load_runs``.

Configurations: learning rate x width. The full-scale loss has its best at lr 1e-3 and the widest
model; seed noise (sd ``NOISE``) is small against the spread between configurations, so the noise
ceiling is high. Two kinds of proxy:

- ``faithful`` (8x fewer examples): the full loss scaled and shifted, plus its own seed noise: it
  ranks configurations as full scale does, up to noise (Spearman ~0.97 over the grid).
- ``faithful_mild`` (2x): the same, at a milder reduction.
- ``biased`` (50x fewer examples): a short run's bias (DESIGN section 10): it favours high learning
  rates, its best is at lr 1e-1, so it ranks the grid against full scale; ``biased_mild`` (4x) too.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from budgetsweep.records import Cost, MeasuredCost, Objective, RunRecord, write_record

FULL_EXAMPLES = 1000
NOISE = 0.01
FAITHFUL = "model_scale(depth=1.0,mup=True,width=0.125)"
BIASED = "data_subset(fraction=0.1)+short_schedule(fraction=0.2,mode=compress)"
LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
WIDTHS = (32, 128, 512)
KINDS = {"full": (1.0, "full"), "faithful": (1 / 8, FAITHFUL), "biased": (1 / 50, BIASED),
         "faithful_mild": (1 / 2, "batch_scaling(factor=0.5,keep=steps,rule=sqrt)"),
         "biased_mild": (1 / 4, "short_schedule(fraction=0.25,mode=truncate)"),
         "faithful_slow": (1 / 2, "mixed_precision(dtype=bf16)+batch_scaling(factor=0.5,keep=steps,rule=sqrt)"),
         "noisy_mild": (1 / 2, "data_subset(fraction=0.5)")}
# seed noise against NOISE: a mild proxy that ranks well on average but with noisy runs
NOISE_SCALE = {"noisy_mild": 6.0}
# wall time against what the examples would take: bf16 autocast on a CPU runs slower than fp32
SLOWDOWN = {"faithful_slow": 3.0}


def full_loss(lr: float, width: int) -> float:
    """The true full-scale loss (no seed noise)."""
    return 0.2 + 0.1 * (math.log10(lr) + 3) ** 2 + 4.0 / width


def true_loss(kind: str, lr: float, width: int) -> float:
    if kind == "full":
        return full_loss(lr, width)
    if kind in ("faithful", "faithful_mild", "faithful_slow", "noisy_mild"):
        return 1.3 * full_loss(lr, width) + 0.05
    # biased: best at lr 1e-1 (short runs favour high learning rates), width matters little
    return 0.4 + 0.1 * (math.log10(lr) + 1) ** 2 + 0.5 / width


def configs(n: int | None = None) -> list[tuple[float, int]]:
    grid = [(lr, w) for lr in LRS for w in WIDTHS]
    return grid if n is None else grid[:: max(1, len(grid) // n)][:n]


def write_run(root: Path, kind: str, lr: float, width: int, seed: int, *, value: float | None = None,
              status: str = "completed") -> Path:
    """One job's record.json under ``root`` (its own folder), as the app writes it; returns the folder."""
    factor, label = KINDS[kind]
    rng = np.random.default_rng([seed, int(lr * 1e6), width, list(KINDS).index(kind)])
    if value is None:
        value = true_loss(kind, lr, width) + NOISE * NOISE_SCALE.get(kind, 1.0) * float(rng.standard_normal())
    examples = int(FULL_EXAMPLES * factor)
    config = {"task": "synthetic", "optim.lr": lr, "model.hidden": width}
    record = RunRecord(
        status=status, config_key=f"lr={lr:g},hidden={width}", config=config,
        overrides=[f"optim.lr={lr}", f"model.hidden={width}", f"seed={seed}"], recipe={}, full_recipe={},
        reductions=[], reduction_label=label, seed=seed,
        objective=Objective("val_loss", "minimize", value if status == "completed" else None),
        metrics={"val_loss": value}, cost=Cost(predicted_factor=factor, measured=MeasuredCost(
            wall_seconds=(0.01 + examples / 1e4) * SLOWDOWN.get(kind, 1.0), examples=examples, flops=examples * 1e6)))
    folder = root / f"{kind}_{lr:g}_{width}_{seed}"
    write_record(folder, record)
    return folder


def write_calibration(root: Path, kinds: tuple[str, ...], *, n_configs: int | None = None, full_seeds: int = 2,
                      proxy_seeds: int = 1) -> list[tuple[float, int]]:
    """Calibration records: each configuration at full scale with ``full_seeds`` seeds and at each kind."""
    chosen = configs(n_configs)
    for lr, width in chosen:
        for seed in range(full_seeds):
            write_run(root, "full", lr, width, seed)
        for kind in kinds:
            for seed in range(proxy_seeds):
                write_run(root, kind, lr, width, seed)
    return chosen
