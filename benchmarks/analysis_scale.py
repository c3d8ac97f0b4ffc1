"""Time fidelity analysis at scale (DESIGN section 11) on real record files and on many groups.

1. Real files: N record.json files (+ metrics.jsonl), written the way jobs write them (the record
   layout of a real ``budgetsweep task=digits`` run, indented JSON), by default 100,000 runs =
   5 strategies (full + 4 proxies) x 1,000 configurations x 20 seeds. Timed: the report from the
   folders to report.md + report.html (find + read files, pair, bootstrap once, figures, write),
   in process and as the ``budgetsweep-report`` command (with its imports).
2. Many groups: 250 groups (datasets) x 3 proxy strategies (+ full) x 20 configurations x 25 seeds
   through ``from_frame`` and ``compare_strategies(by=...)`` without bootstrap, side by side with a
   plain pandas/scipy script computing the same rank statistics group by group.

Result: analysis/analysis_scale.md.

    .venv/bin/python benchmarks/analysis_scale.py                       # defaults (writes 100k files once)
    .venv/bin/python benchmarks/analysis_scale.py --configs 20 --seeds 2 --groups 5 --out /tmp/scale.md
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
from scipy import stats

from budgetsweep.analysis import compare_strategies, from_frame, split_runs
from budgetsweep.analysis.forked import cpus
from budgetsweep.analysis.load import find_records, load_runs
from budgetsweep.analysis.report import build_report, load_sets

REPO = Path(__file__).resolve().parents[1]
# label, predicted cost factor, how much of the configuration's quality the proxy sees (1 = all)
PROXIES = (
    ("data_subset(fraction=0.1)", 0.1, 0.9),
    ("short_schedule(fraction=0.2,mode=compress)", 0.2, 0.8),
    ("data_subset(fraction=0.05)+short_schedule(fraction=0.2,mode=compress)", 0.01, 0.6),
    ("batch_scaling(factor=4)", 0.25, 0.3),
)


def recipe(lr: float, hidden: int) -> dict:
    """The recipe section of a real digits record (budgetsweep.recipe.Recipe.to_dict())."""
    return {
        "task": {"_target_": "budgetsweep.tasks.digits.Digits", "objective": "val_loss", "val_fraction": 0.2,
                 "test_fraction": 0.2, "split_seed": 0},
        "model": {"_target_": "budgetsweep.tasks.models.MLP", "hidden": hidden, "depth": 2, "dropout": 0.0,
                  "activation": "relu"},
        "optim": {"name": "adamw", "lr": lr, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0, "beta1": 0.9,
                  "beta2": 0.999, "eps": 1e-08},
        "train": {"batch_size": 32, "epochs": 10, "steps": None, "schedule": "cosine", "warmup_steps": 50,
                  "cooldown_fraction": 0.2, "min_lr_ratio": 0.0, "eval_every": 100, "precision": "fp32",
                  "device": "auto", "run_fraction": 1.0, "schedule_fraction": 1.0, "save_checkpoint": False},
        "data": {"fraction": 1.0, "keep": "epochs", "subset_seed": 0},
        "seed": 0,
        "extra": {},
    }


def write_records(root: Path, configs: int, seeds: int, rng: np.random.Generator) -> int:
    """Write (1 + len(PROXIES)) x configs x seeds job folders under root/<strategy>/<config>_<seed>/."""
    labels = ["full"] + [p[0] for p in PROXIES]
    factor = [1.0] + [p[1] for p in PROXIES]
    fid = [1.0] + [p[2] for p in PROXIES]
    quality = rng.normal(size=configs)
    lrs = np.geomspace(1e-4, 1e-1, configs // 4 + 1)
    count = 0
    for s, label in enumerate(labels):
        bias = rng.normal(size=configs)
        folder = root / ("full" if s == 0 else "proxy") / f"s{s}"
        for c in range(configs):
            lr, hidden = float(lrs[c // 4]), (32, 64, 128, 256)[c % 4]
            key = f"{c:012x}"
            for seed in range(seeds):
                status = "completed" if rng.random() > 0.04 else ("failed" if rng.random() < 0.5 else "pruned")
                value = 1.0 + 0.2 * (fid[s] * quality[c] + np.sqrt(1 - fid[s] ** 2) * bias[c]) + 0.05 * rng.normal()
                examples = int(1e5 * factor[s])
                full_recipe = recipe(lr, hidden)
                record = {
                    "status": status, "config_key": key,
                    "config": {"task": "digits", "optim.lr": lr, "model.hidden": hidden},
                    "overrides": ["task=digits", f"optim.lr={lr}", f"model.hidden={hidden}", f"seed={seed}"],
                    "recipe": recipe(lr, hidden), "full_recipe": full_recipe,
                    "reductions": [{"name": label.split("(")[0], "target": "budgetsweep.reductions.x.X", "params": {},
                                    "changes": [], "predicted_cost_factor": factor[s]}],
                    "reduction_label": label, "seed": seed,
                    "objective": {"name": "val_loss", "direction": "minimize",
                                  "value": float(value) if status == "completed" else None},
                    "metrics": {"train_loss": float(value) + 0.1, "val_loss": float(value), "val_accuracy": 0.7},
                    "cost": {"predicted_factor": factor[s], "predicted": None,
                             "measured": {"wall_seconds": examples / 5e3 * rng.uniform(0.9, 1.1) + 2.0,
                                          "examples": examples, "flops": examples * 6e6, "peak_memory_mb": 0.5,
                                          "peak_memory_source": "autograd_saved_tensors", "device_kind": "cpu",
                                          "device_count": 1}},
                    "versions": {"budgetsweep": "0.1.0", "python": "3.11.7", "torch": "2.13.0+cpu"},
                    "started_at": "2026-12-01T00:34:16+00:00", "ended_at": "2026-12-01T00:34:17+00:00",
                    "error": None, "trial": None, "artifacts": {},
                    "info": {"n_train_full": 1077, "planned_examples": examples, "steps": 34},
                    "schema_version": 1,
                }
                job = folder / f"{key}_{seed}"
                job.mkdir(parents=True, exist_ok=True)
                (job / "record.json").write_text(json.dumps(record, indent=2))
                (job / "metrics.jsonl").write_text(json.dumps({"step": 34, "examples": examples, "epoch": 1.0,
                                                               "val_loss": float(value)}) + "\n")
                count += 1
    return count


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (record reading, bootstraps, figures)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def _cpu() -> float:
    """CPU seconds of this process and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime + _children_cpu()


CHILDREN: dict[str, float] = {"last": 0.0}  # the child processes' share of the last timed call


def timed(fn, *args, **kwargs):
    start, cpu, children = time.perf_counter(), _cpu(), _children_cpu()
    out = fn(*args, **kwargs)
    CHILDREN["last"] = _children_cpu() - children
    return out, time.perf_counter() - start, _cpu() - cpu


def group_table(groups: int, strategies: int, configs: int, seeds: int, rng: np.random.Generator) -> pd.DataFrame:
    """A learning-curve-like results table: one row per (dataset, size, learner, seed)."""
    labels = ["100%"] + [f"{p}%" for p in (5, 10, 25)[:strategies]]
    g = np.repeat(np.arange(groups), len(labels) * configs * seeds)
    s = np.tile(np.repeat(np.arange(len(labels)), configs * seeds), groups)
    c = np.tile(np.repeat(np.arange(configs), seeds), groups * len(labels))
    r = np.tile(np.arange(seeds), groups * len(labels) * configs)
    quality, bias = rng.normal(size=(groups, configs)), rng.normal(size=(groups, len(labels), configs))
    acc = 0.8 + 0.05 * (quality[g, c] + 0.5 * bias[g, s, c] * (s > 0)) + 0.01 * rng.normal(size=len(g))
    return pd.DataFrame({"dataset": g, "learner": np.array([f"learner{i}" for i in range(configs)])[c],
                         "size": np.array(labels)[s], "seed": r, "accuracy": np.round(acc, 4),
                         "n_examples": np.array([1.0, 0.05, 0.1, 0.25])[s] * 1e4})


def plain_script(df: pd.DataFrame) -> pd.DataFrame:
    """What a user writes by hand: seed means, then per dataset and size scipy's rank statistics."""
    means = df.groupby(["dataset", "size", "learner"])["accuracy"].mean()
    rows = []
    for dataset, part in means.groupby(level="dataset"):
        part = part.droplevel("dataset")
        full = part.loc["100%"]
        for size in part.index.get_level_values("size").unique():
            if size == "100%":
                continue
            proxy = part.loc[size].reindex(full.index)
            rows.append({"dataset": dataset, "size": size, "rho": stats.spearmanr(proxy, full).statistic,
                         "tau": stats.kendalltau(proxy, full).statistic})
    return pd.DataFrame(rows)


GOAL_SECONDS = 5.0  # issue 12 point 8: 100k record files to a full report, wall seconds, on this machine


def goal_line(best: tuple[float, float, float], cli_runs: list[tuple[float, float]], load_start: float,
              load_end: float) -> str:
    """Whether the wall-time goal was met, and what the CPU seconds allow: on a machine with C CPUs no
    run can take less than CPU / C wall seconds, whatever the load."""
    n_cpus = cpus()
    wall, cpu, _ = best
    text = (f"Goal: folders to report in <= {GOAL_SECONDS:.0f} s wall. In process: {wall:.2f} s wall, "
            f"{'met' if wall <= GOAL_SECONDS else 'missed'}; its {cpu:.2f} CPU seconds on {n_cpus} CPUs allow at "
            f"best {cpu / n_cpus:.2f} s.")
    if cli_runs:
        cli_wall, cli_cpu = min(cli_runs, key=lambda r: r[1])
        text += (f" The command: {cli_wall:.2f} s wall, {'met' if cli_wall <= GOAL_SECONDS else 'missed'}; "
                 f"{cli_cpu:.2f} CPU seconds allow at best {cli_cpu / n_cpus:.2f} s.")
    if max(load_start, load_end) > n_cpus:
        text += (f" The load average ({load_start:.1f}, {load_end:.1f}) exceeded the {n_cpus} CPUs: other jobs "
                 "held the CPUs, and the wall seconds here measure them as much as the report.")
    return text


STAGES_SCRIPT = Path(__file__).resolve().with_name("report_stages.py")


def command_stages(proxy_dir: Path, full_dir: Path, resamples: int) -> list[tuple[str, float, float, float]]:
    """(stage, wall, CPU of the process, CPU of its workers) of one fresh report process
    (benchmarks/report_stages.py: the command's stages, its lazy imports as stages of their own)."""
    start, cpu_start = time.perf_counter(), _children_cpu()
    proc = subprocess.run([sys.executable, str(STAGES_SCRIPT), str(proxy_dir), str(full_dir), "--resamples",
                           str(resamples)], capture_output=True, text=True)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu_start  # the process and its workers, to its end
    assert proc.returncode == 0, proc.stderr
    stages = [tuple(stage) for stage in json.loads(proc.stdout.splitlines()[-1])["stages"]]
    # what the process did after its last stage (the command's exit, report_console) and before its first line
    rest_wall = wall - sum(w for _, w, _, _ in stages if w == w)
    rest_cpu = cpu - sum(c + ch for _, _, c, ch in stages)
    return stages + [("process start (before the first stage's clock) and exit", rest_wall, rest_cpu, 0.0)]


def stage_lines(stages: list[tuple[str, float, float, float]], cpus: int) -> list[str]:
    """The stage table of one report process, and the least wall time its CPU seconds allow: the
    process's own stages run one after another, its workers' share the CPUs."""
    own, workers = sum(cpu for _, _, cpu, _ in stages), sum(ch for _, _, _, ch in stages)
    return [
        "| stage | wall seconds | CPU seconds, the process | CPU seconds, its worker processes |",
        "|---|---|---|---|",
        *[f"| {name} | {'' if wall != wall else f'{wall:.2f}'} | {cpu:.2f} | {ch:.2f} |"
          for name, wall, cpu, ch in stages],
        f"| **total** | | {own:.2f} | {workers:.2f} |",
        "",
        f"{own + workers:.2f} CPU seconds in all. The process's own {own:.2f} run one after another (the stages "
        f"wait for their workers); its workers' {workers:.2f} are shared by {cpus} CPUs: on this machine with "
        f"nothing else running, the report takes at least {own:.2f} + {workers:.2f} / {cpus} = "
        f"{own + workers / cpus:.2f} s (less where the process's own work overlaps its workers', as the "
        "command's scipy.stats import overlaps its readers).",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", type=int, default=1000, help="configurations of the record-file benchmark")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3, help="times the whole report is made (the least CPU is shown)")
    p.add_argument("--files-dir", type=Path, default=Path(tempfile.gettempdir()) / "budgetsweep-bench-records",
                   help="where the record files are written (reused when it holds the same number)")
    p.add_argument("--groups", type=int, default=250)
    p.add_argument("--group-configs", type=int, default=20)
    p.add_argument("--group-seeds", type=int, default=25)
    p.add_argument("--cli", action=argparse.BooleanOptionalAction, default=True,
                   help="also time the budgetsweep-report command (a fresh process, imports included)")
    p.add_argument("--out", type=Path, default=REPO / "analysis" / "analysis_scale.md")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    n_runs = (1 + len(PROXIES)) * args.configs * args.seeds
    marker = args.files_dir / f"written-{n_runs}"
    if not marker.exists():
        shutil.rmtree(args.files_dir, ignore_errors=True)
        _, t_gen, _ = timed(write_records, args.files_dir, args.configs, args.seeds, rng)
        marker.write_text("ok\n")
        print(f"wrote {n_runs:,} record files in {t_gen:.0f} s", file=sys.stderr)
    proxy_dir, full_dir = args.files_dir / "proxy", args.files_dir / "full"

    rows: list[tuple[str, float, float, float]] = []
    load_start = os.getloadavg()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found, t, cpu = timed(find_records, [proxy_dir, full_dir])
        rows.append((f"find_records ({len(found):,} record.json files)", t, cpu, CHILDREN["last"]))
        _, t, cpu = timed(load_runs, [proxy_dir, full_dir])
        rows.append(("load_runs (find + read + one DataFrame)", t, cpu, CHILDREN["last"]))
        # the whole report, --repeat times: on a shared machine one run's figures move by 10-20%
        runs_of: list[list[tuple[float, float, float]]] = [[], [], []]  # per stage: (wall, cpu, children)
        for _ in range(args.repeat):
            (proxy, full, _, _), t_load, cpu_load = timed(load_sets, [proxy_dir], [full_dir])
            runs_of[0].append((t_load, cpu_load, CHILDREN["last"]))
            report, t_build, cpu_build = timed(build_report, proxy, full, n_resamples=args.resamples)
            runs_of[1].append((t_build, cpu_build, CHILDREN["last"]))
            with tempfile.TemporaryDirectory() as tmp:
                _, t_write, cpu_write = timed(report.write, Path(tmp) / "report", ("md", "html"))
                runs_of[2].append((t_write, cpu_write, CHILDREN["last"]))
        totals = [tuple(sum(stage[i][j] for stage in runs_of) for j in range(3)) for i in range(args.repeat)]
        best = min(range(args.repeat), key=lambda i: totals[i][1])  # the run with the least CPU
        names = ("load_sets (load_runs of the proxy and the full folders, split by label)",
                 f"build_report (pair once, {args.resamples} BCa resamples once, {len(PROXIES)} strategies)",
                 "write report.md + report.html (figures)")
        rows += [(name, *stage[best]) for name, stage in zip(names, runs_of)]
        rows.append(("**folders to report (load_sets + build_report + write)**", *totals[best]))
        repeats_line = ("Folders to report, every run (wall / CPU seconds): "
                        + "; ".join(f"{w:.2f} / {c:.2f}" for w, c, _ in totals)
                        + ("; the table shows the run with the least CPU." if args.repeat > 1 else "."))
        with tempfile.TemporaryDirectory() as tmp:
            cli_line = ""
            if args.cli:
                exe = Path(sys.executable).with_name("budgetsweep-report")
                command = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else
                           ["-m", "budgetsweep.cli"]), str(proxy_dir), "--full", str(full_dir), "--out",
                           str(Path(tmp) / "cli"), "--resamples", str(args.resamples)]
                cli_runs = []  # (wall, CPU of the command and its child processes), --repeat times
                for _ in range(args.repeat):
                    start, cpu_start = time.perf_counter(), _children_cpu()
                    proc = subprocess.run(command, capture_output=True, text=True)
                    cli_runs.append((time.perf_counter() - start, _children_cpu() - cpu_start))
                    assert proc.returncode == 0, proc.stderr
                t_cli, cpu_cli = min(cli_runs, key=lambda r: r[1])
                rows.append(("`budgetsweep-report PROXY --full FULL` (new process, imports included)", t_cli,
                             cpu_cli, float("nan")))
                cli_line = proc.stdout.splitlines()[0]
                repeats_line += (" The command, every run (wall / CPU seconds, its readers, bootstraps and "
                                 "renderers included): " + "; ".join(f"{w:.2f} / {c:.2f}" for w, c in cli_runs)
                                 + ".")
                stage_runs = [command_stages(proxy_dir, full_dir, args.resamples) for _ in range(args.repeat)]
                stages = min(stage_runs, key=lambda run: sum(cpu + ch for _, _, cpu, ch in run))

    load_end = os.getloadavg()[0]
    frame = group_table(args.groups, 3, args.group_configs, args.group_seeds, rng)
    runs, t_frame, cpu_frame = timed(from_frame, frame, config="learner", strategy="size", full_label="100%",
                                     seed="seed", objective="accuracy", direction="maximize", by="dataset",
                                     costs={"examples": "n_examples"})
    gp, gf = split_runs(runs)
    table, t_groups, cpu_groups = timed(compare_strategies, gp, gf, by="dataset", n_resamples=0)
    plain, t_plain, cpu_plain = timed(plain_script, frame)
    merged = table.reset_index().merge(plain, left_on=["dataset", "strategy"], right_on=["dataset", "size"],
                                       suffixes=("", "_plain"))
    agree = bool(np.allclose(merged["rho"], merged["rho_plain"], atol=1e-12)
                 and np.allclose(merged["tau"], merged["tau_plain"], atol=1e-12))

    summary = table.attrs["summary"]
    lines = [
        "# Analysis at scale",
        "",
        "Command:",
        "",
        "```",
        f".venv/bin/python benchmarks/analysis_scale.py --configs {args.configs} --seeds {args.seeds} "
        f"--resamples {args.resamples} --repeat {args.repeat} --groups {args.groups} "
        f"--group-configs {args.group_configs} "
        f"--group-seeds {args.group_seeds}",
        "```",
        "",
        f"## {n_runs:,} real record files to a report",
        "",
        f"{1 + len(PROXIES)} strategies (full + {len(PROXIES)} proxies) x {args.configs:,} configurations x "
        f"{args.seeds} seeds, one job folder each with record.json (the layout of a real run, indented, "
        "~4 KB) and metrics.jsonl, about 4% of runs failed or pruned, written by the benchmark beforehand. "
        "CPU seconds include the child processes (record reading, large bootstraps, figures); wall seconds "
        "well above them mean the "
        "process waited for the CPU or the disk (a machine shared with other jobs); the child processes' "
        "share runs beside the parent, two at a time on two CPUs. Every run here is cold: no index or cache "
        "of decoded records exists, each report opens, reads and decodes every record file (the files "
        "themselves are in the page cache, having been written or read before).",
        "",
        f"Load average (1 min) of the machine: {load_start:.1f} at the start of this section, "
        f"{load_end:.1f} at its end.",
        "",
        "| stage | wall seconds | CPU seconds | of which child processes |",
        "|---|---|---|---|",
        *[f"| {name} | {t:.2f} | {'' if cpu != cpu else f'{cpu:.2f}'} | {'' if ch != ch else f'{ch:.2f}'} |"
          for name, t, cpu, ch in rows],
        "",
        repeats_line,
        "",
        goal_line(totals[best], cli_runs if args.cli else [], load_start, load_end),
        "",
        f"Verdict printed by the command: {cli_line}" if cli_line else "",
        "",
        *(["### The report process stage by stage", "",
           f"One fresh process doing what the command does (benchmarks/report_stages.py), the run with the least "
           f"CPU of {args.repeat}; the command's lazy imports made up front as stages of their own.", "",
           *stage_lines(stages, cpus()), ""] if args.cli else []),
        f"## {args.groups} groups in one call",
        "",
        f"{len(frame):,} rows: {args.groups} datasets x 3 proxy sizes (+ full) x {args.group_configs} learners x "
        f"{args.group_seeds} seeds; no bootstrap (Fisher-z intervals).",
        "",
        "| stage | wall seconds | CPU seconds |",
        "|---|---|---|",
        f"| from_frame | {t_frame:.2f} | {cpu_frame:.2f} |",
        f"| compare_strategies(by=\"dataset\") (every statistic, noise ceiling, verdict per group) | {t_groups:.2f} | "
        f"{cpu_groups:.2f} |",
        f"| **from_frame + compare_strategies** | {t_frame + t_groups:.2f} | {cpu_frame + cpu_groups:.2f} |",
        f"| plain pandas/scipy script (seed means, spearmanr + kendalltau per group) | {t_plain:.2f} | "
        f"{cpu_plain:.2f} |",
        "",
        f"rho and tau equal the plain script's on every (group, strategy): {agree}.",
        "",
        "Summary across groups (table.attrs[\"summary\"]):",
        "",
        summary[["groups", "median_rho", "share_meets", "share_confident"]].round(3).to_markdown()
        if _has_tabulate() else summary[["groups", "median_rho", "share_meets", "share_confident"]].round(3)
        .to_string(),
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the end), "
        f"Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"written to {args.out}")
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
