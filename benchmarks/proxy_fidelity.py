"""Do proxies rank configurations as full runs do? Grids on digits and charlm, full scale and presets.

Issue 14 point 4. For each task, a grid of configurations (learning rate x width) runs at full
scale with two seeds (the noise ceiling needs two) and once per proxy strategy; the records are
compared with ``budgetsweep.analysis.compare_strategies`` (Spearman rho with a BCa interval,
Kendall tau-b, top-1, regret) and the measured cost reduction in examples, FLOPs and wall time
(per run from the records, and for the whole command: process start-up, composition and
evaluation included). Writes ``analysis/proxy_fidelity.md`` and ``analysis/proxy_fidelity.csv``.

Every run is an ordinary ``budgetsweep -m`` job under ``--out`` (default
``outputs/benchmarks/proxy_fidelity``). A strategy whose directory already holds all its records
is not run again, so an interrupted benchmark resumes where it stopped and a new strategy costs
only its own runs.

    .venv/bin/python benchmarks/proxy_fidelity.py                 # both tasks, every strategy
    .venv/bin/python benchmarks/proxy_fidelity.py --task digits   # one task
    .venv/bin/python benchmarks/proxy_fidelity.py --report-only   # tables from existing records
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Grid:
    """One task's benchmark: the grid of configurations and the proxy strategies to rank it."""

    task: str
    axes: dict[str, list[str]]
    strategies: dict[str, list[str]]  # name -> overrides that turn the full recipe into the proxy
    fixed: list[str] = field(default_factory=list)
    full_seeds: tuple[int, ...] = (0, 1)
    proxy_seeds: tuple[int, ...] = (0,)

    @property
    def configs(self) -> int:
        n = 1
        for values in self.axes.values():
            n *= len(values)
        return n

    def overrides(self) -> list[str]:
        return [f"task={self.task}", *self.fixed, *(f"{k}={','.join(v)}" for k, v in self.axes.items())]


# The article's 50x proxy (10% data, 20% steps) and the step-cutting alternatives the issue measured,
# beside the step-preserving ones (a smaller batch, muP width scaling).
DIGITS = Grid(
    task="digits",
    axes={"optim.lr": ["3e-4", "1.39e-3", "6.46e-3", "3e-2"], "model.hidden": ["32", "128", "512"]},
    strategies={
        "proxy50": ["experiment=proxy50"],
        "steps_12pct": ["reduction=short_schedule", "reduction.short_schedule.fraction=0.125"],
        "small_batch": ["experiment=small_batch"],
        "mup_width": ["experiment=mup_width"],
    },
)

CHARLM = Grid(
    task="charlm",
    axes={"optim.lr": ["5e-4", "2e-3", "8e-3"], "model.n_embd": ["64", "128"]},
    strategies={
        "proxy50": ["experiment=proxy50"],
        "charlm_proxy50": ["experiment=charlm_proxy50"],
        "small_batch": ["experiment=small_batch"],
        "mup_width": ["experiment=mup_width"],
    },
)

GRIDS = {g.task: g for g in (DIGITS, CHARLM)}


def sweep(out: Path, grid: Grid, name: str, extra: list[str], seed: int) -> float | None:
    """Run one strategy at one seed over the grid; the command's wall seconds, or None if done before."""
    target = out / grid.task / name / f"seed{seed}"
    if len(list(target.rglob("record.json"))) >= grid.configs:
        return None
    cmd = [sys.executable, "-m", "budgetsweep.app", "-m", *grid.overrides(), *extra, f"seed={seed}",
           f"hydra.sweep.dir={target}", "hydra/job_logging=disabled", "hydra/hydra_logging=disabled"]
    print(f"[{time.strftime('%H:%M:%S')}] {grid.task} {name} seed={seed}: {grid.configs} jobs", flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_task(out: Path, grid: Grid, only: list[str] | None, full_only: bool = False) -> None:
    walls_path = out / grid.task / "command_seconds.json"
    walls = json.loads(walls_path.read_text()) if walls_path.exists() else {}
    plan = [("full", [], s) for s in grid.full_seeds]
    if not full_only:
        plan += [(n, o, s) for n, o in grid.strategies.items() if not only or n in only for s in grid.proxy_seeds]
    for name, extra, seed in plan:
        seconds = sweep(out, grid, name, extra, seed)
        if seconds is not None:
            walls[f"{name}/seed{seed}"] = seconds
            # the machine's load when it ended: wall-time ratios are only as fair as the load was even
            walls.setdefault("_load", {})[f"{name}/seed{seed}"] = round(os.getloadavg()[0], 2)
            walls_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = walls_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(walls, indent=2))
            tmp.replace(walls_path)


def command_reduction(walls: dict[str, float], name: str) -> float:
    """Full command seconds per run over the proxy's (seeds averaged): what the user waits for."""
    def per_seed(n):
        values = [v for k, v in walls.items() if not k.startswith("_") and k.split("/")[0] == n]
        return sum(values) / len(values) if values else float("nan")
    return per_seed("full") / per_seed(name)


def task_table(out: Path, grid: Grid) -> pd.DataFrame:
    from budgetsweep.analysis import compare_strategies, load_runs

    full = load_runs(out / grid.task / "full")
    walls_path = out / grid.task / "command_seconds.json"
    walls = json.loads(walls_path.read_text()) if walls_path.exists() else {}
    rows = []
    for name in grid.strategies:
        folder = out / grid.task / name
        if not folder.exists():
            continue
        proxy = load_runs(folder)
        table = compare_strategies(proxy, full)
        for strategy, row in table.iterrows():
            learned = proxy.get("learned")
            rows.append({
                "task": grid.task, "strategy": name, "reductions": strategy, "configs": row["configs"],
                "rho": row["rho"], "rho_low": row["rho_low"], "rho_high": row["rho_high"],
                "tau": row["tau"], "top1": row["top1"], "regret": row["regret"],
                "ceiling": row["ceiling"],
                "examples_x": row["cost_reduction_examples"], "flops_x": row["cost_reduction_flops"],
                "run_wall_x": row["cost_reduction_time"], "command_wall_x": command_reduction(walls, name),
                "predicted_x": row["predicted_reduction"],
                "learned_share": float(learned.eq("learned").mean()) if learned is not None else float("nan"),
            })
    return pd.DataFrame(rows)


def verdict(table: pd.DataFrame, threshold: float) -> list[str]:
    if table.empty:
        return ["No strategy has run yet: nothing to compare."]
    lines = []
    for task, rows in table.groupby("task", sort=False):
        best = rows.sort_values("rho", ascending=False).iloc[0]
        good = rows[rows["rho_low"] >= threshold]
        lines.append(f"- **{task}**: best ranking by `{best['strategy']}` (rho {best['rho']:.2f}, "
                     f"interval {best['rho_low']:.2f}-{best['rho_high']:.2f}, noise ceiling {best['ceiling']:.2f}, "
                     f"{best['flops_x']:.1f}x fewer FLOPs).")
        if good.empty:
            lines.append(f"  No strategy's interval clears rho {threshold}: none is a proxy to trust on this grid.")
        else:
            lines.append(f"  Clears rho {threshold} with confidence: " + ", ".join(f"`{s}`" for s in good["strategy"]))
    return lines


def write(out_md: Path, table: pd.DataFrame, threshold: float, argv: list[str]) -> None:
    from budgetsweep.analysis.render import fmt_float, format_table, markdown_table

    fmt = format_table(table, default=fmt_float(3))
    lines = [
        "# Proxy fidelity on the built-in tasks",
        "",
        f"Command: `.venv/bin/python benchmarks/proxy_fidelity.py {' '.join(argv)}`".rstrip() + "; "
        f"written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "Full scale: every configuration of the grid with seeds 0 and 1; each strategy: seed 0. "
        "rho: Spearman rho of the proxy's ranking against the full runs' mean (95% BCa interval); "
        "tau: Kendall tau-b; ceiling: the noise ceiling from the two full seeds. *_x: cost reduction "
        "(full / proxy): examples, FLOPs, wall seconds per run from the records, and the whole "
        "command's wall time (start-up, composition, evaluation included).",
        "",
        markdown_table(fmt, index=False),
        "",
        "## Verdict",
        "",
        *verdict(table, threshold),
        "",
    ]
    out_md.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(GRIDS), action="append", help="default: every task")
    parser.add_argument("--strategy", action="append", help="only these strategies (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs/benchmarks/proxy_fidelity")
    parser.add_argument("--full-only", action="store_true", help="run the full-scale grid only")
    parser.add_argument("--report-only", action="store_true", help="no runs: tables from existing records")
    parser.add_argument("--threshold", type=float, default=0.8)
    args = parser.parse_args(argv)
    grids = [GRIDS[t] for t in (args.task or GRIDS)]
    if not args.report_only:
        for grid in grids:
            run_task(args.out, grid, args.strategy, args.full_only)
    tables = [task_table(args.out, g) for g in grids if (args.out / g.task / "full").exists()]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    out_md = ROOT / "analysis/proxy_fidelity.md"
    table.to_csv(out_md.with_suffix(".csv"), index=False)
    write(out_md, table, args.threshold, argv)
    print(out_md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
