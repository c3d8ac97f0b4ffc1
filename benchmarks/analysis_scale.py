"""Time fidelity analysis on 100k synthetic runs (DESIGN section 11: "100k run records in seconds").

The runs are built directly as a run frame in the loaded schema (5 strategies x 2,000 configs x
10 seeds by default); a smaller number of record.json files is written to a temporary folder to
time loading, which is per file by nature. Result: analysis/analysis_scale.md.

    .venv/bin/python benchmarks/analysis_scale.py            # defaults: 100k rows, 2,000 files
    .venv/bin/python benchmarks/analysis_scale.py --configs 200 --out /tmp/scale.md
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy

from budgetsweep.analysis import build_report, compare_strategies, fidelity, load_runs, pair_runs
from budgetsweep.analysis.schema import normalize_runs

REPO = Path(__file__).resolve().parents[1]
# label, predicted cost factor, how much of the configuration's quality the proxy sees (1 = all)
PROXIES = (
    ("data_subset(fraction=0.1)", 0.1, 0.9),
    ("short_schedule(fraction=0.2,mode=compress)", 0.2, 0.8),
    ("data_subset(fraction=0.05)+short_schedule(fraction=0.2,mode=compress)", 0.01, 0.6),
    ("batch_scaling(factor=4)", 0.25, 0.3),
)


def synthetic_runs(configs: int, seeds: int, rng: np.random.Generator) -> pd.DataFrame:
    """One row per (strategy, config, seed), columns as load_runs gives them; no per-row Python."""
    labels = ["full"] + [p[0] for p in PROXIES]
    factor = np.array([1.0] + [p[1] for p in PROXIES])
    fidelity_of = np.array([1.0] + [p[2] for p in PROXIES])
    n_strat = len(labels)
    quality = rng.normal(size=configs)  # what full-scale training would reveal
    bias = rng.normal(size=(n_strat, configs))  # what each proxy sees instead
    s = np.repeat(np.arange(n_strat), configs * seeds)
    c = np.tile(np.repeat(np.arange(configs), seeds), n_strat)
    seed = np.tile(np.arange(seeds), n_strat * configs)
    w = fidelity_of[s]
    value = 1.0 + 0.2 * (w * quality[c] + np.sqrt(1 - w**2) * bias[s, c]) + 0.05 * rng.normal(size=len(s))
    status = rng.choice(np.array(["completed", "failed", "pruned"]), size=len(s), p=[0.96, 0.02, 0.02])
    value = np.where(status == "completed", value, np.nan)
    examples = 1e6 * factor[s]
    keys = np.array([f"{i:012x}" for i in range(configs)])
    lr = np.geomspace(1e-4, 1e-1, configs)
    n = len(s)
    df = pd.DataFrame({
        "config_key": keys[c],
        "reduction_label": np.array(labels)[s],
        "seed": seed,
        "status": status,
        "objective_name": np.full(n, "val_loss"),
        "objective_direction": np.full(n, "minimize"),
        "objective_value": value,
        "predicted_factor": factor[s],
        "wall_seconds": examples / 5e3 * rng.uniform(0.9, 1.1, n) + 2.0,  # a fixed start-up cost
        "examples": examples,
        "flops": examples * 6e6,
        "source": np.full(n, "records"),
        "config.optim.lr": lr[c],
        "config.model.hidden": np.full(n, 64),
        "metric.val_loss": value,
    })
    return normalize_runs(df)


def record_json(row: dict, i: int) -> str:
    """A record.json text for a row of the synthetic frame (for the loading benchmark)."""
    return json.dumps({
        "schema_version": 1, "status": row["status"], "config_key": row["config_key"],
        "config": {"optim.lr": row["config.optim.lr"], "model.hidden": 64}, "overrides": [f"seed={i}"],
        "recipe": {}, "full_recipe": {}, "reductions": [], "reduction_label": row["reduction_label"],
        "seed": int(row["seed"]), "objective": {"name": "val_loss", "direction": "minimize",
                                                "value": None if np.isnan(row["objective_value"])
                                                else row["objective_value"]},
        "metrics": {"val_loss": row["metric.val_loss"]},
        "cost": {"predicted_factor": row["predicted_factor"], "predicted": None,
                 "measured": {"wall_seconds": row["wall_seconds"], "examples": row["examples"],
                              "flops": row["flops"], "device_kind": "cpu", "device_count": 1}},
        "versions": {}, "started_at": None, "ended_at": None, "error": None, "trial": None, "artifacts": {},
    })


CPU: dict[str, float] = {}  # CPU seconds of the last timed call, all threads (context on a busy machine)


def timed(fn, *args, **kwargs):
    start, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    CPU["last"] = time.process_time() - cpu
    return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", type=int, default=2000)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--files", type=int, default=2000, help="record.json files written to time loading")
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--out", type=Path, default=REPO / "analysis" / "analysis_scale.md")
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    runs, t_make = timed(synthetic_runs, args.configs, args.seeds, rng)
    full = runs[runs["reduction_label"] == "full"]
    proxy = runs[runs["reduction_label"] != "full"]
    one = proxy[proxy["reduction_label"] == PROXIES[0][0]]
    stages: list[tuple[str, float, float]] = []
    pairs, t = timed(pair_runs, proxy, full)
    stages.append((f"pair_runs ({len(PROXIES)} strategies x {args.configs} configs)", t, CPU["last"]))
    fid, t = timed(fidelity, one, full, n_resamples=args.resamples)
    stages.append((f"fidelity (1 strategy, {args.resamples} bootstrap resamples, BCa)", t, CPU["last"]))
    table, t = timed(compare_strategies, proxy, full, n_resamples=args.resamples)
    stages.append((f"compare_strategies ({len(PROXIES)} strategies)", t, CPU["last"]))
    report, t_build = timed(build_report, proxy, full, n_resamples=args.resamples)
    stages.append(("build_report (compare + pairs + ranking + status)", t_build, CPU["last"]))
    with tempfile.TemporaryDirectory() as tmp:
        _, t_write = timed(report.write, Path(tmp) / "report", ("md", "html", "csv"))
        stages.append((f"write md + html (5 figures) + csv ({len(runs):,}-row runs.csv)", t_write, CPU["last"]))
        sample = runs.sample(n=min(args.files, len(runs)), random_state=0).to_dict("records")
        root = Path(tmp) / "runs"
        for i, row in enumerate(sample):
            job = root / str(i // 100) / str(i)
            job.mkdir(parents=True)
            (job / "record.json").write_text(record_json(row, i))
        loaded, t_load = timed(load_runs, root)
        assert len(loaded) == len(sample)
    per_file = t_load / max(1, len(sample))

    lines = [
        "# Analysis at scale",
        "",
        f"{len(runs):,} synthetic runs ({1 + len(PROXIES)} strategies x {args.configs:,} configurations x "
        f"{args.seeds} seeds, 4% not completed), built directly as a run frame. Command:",
        "",
        "```",
        f".venv/bin/python benchmarks/analysis_scale.py --configs {args.configs} --seeds {args.seeds} "
        f"--files {args.files} --resamples {args.resamples}",
        "```",
        "",
        "| stage | wall seconds | CPU seconds |",
        "|---|---|---|",
        *[f"| {name} | {t:.2f} | {cpu:.2f} |" for name, t, cpu in stages],
        f"| load_runs ({len(sample):,} record.json files; {per_file * 1e3:.2f} ms per file) | {t_load:.2f} | "
        f"{CPU['last']:.2f} |",
        "",
        f"The whole analysis of {len(runs):,} runs (compare_strategies: pairing, then fidelity with bootstrap "
        f"intervals for each of the {len(PROXIES)} strategies) takes {stages[2][1]:.1f} s; the report "
        f"(build + write) {t_build + t_write:.1f} s more. Loading is per file: about {per_file * len(runs):.0f} s "
        f"for {len(runs):,} record files at this rate (file-system bound).",
        "",
        f"Check: fidelity of {PROXIES[0][0]}: rho = {fid.rho:.3f} [{fid.rho_low:.3f}, {fid.rho_high:.3f}], "
        f"ceiling {fid.ceiling.ceiling:.3f}; recommendation: {table.attrs['recommendation']}",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the end), "
        f"Python {platform.python_version()}, "
        f"pandas {pd.__version__}, numpy {np.__version__}, scipy {scipy.__version__}. "
        f"Frame built in {t_make:.2f} s.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
