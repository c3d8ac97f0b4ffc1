"""End-to-end speed of a proxy sweep against the full recipe's (issue 14, point 6).

The user pays for the whole command, so this times whole ``budgetsweep -m`` processes of the
12-configuration digits grid (optim.lr 3e-4, 1.39e-3, 6.46e-3, 3e-2 x model.hidden 32, 128, 512),
with one seed (12 jobs) and two seeds (24 jobs). The marginal wall time per job is
(time of 24 jobs - time of 12 jobs) / 12: process start-up and imports cancel out. Three variants,
run interleaved in one invocation so the machine's load affects them alike:

- ``full``: the full recipe;
- ``proxy``: ``experiment=proxy50`` (the article's 50x proxy: 10% data, 20% of the steps);
- ``proxy, lean outputs``: the same plus ``hydra.output_subdir=null hydra/job_logging=none``
  (no ``.hydra/`` config copies, no per-job log file and no per-job logging set-up; the record and
  metrics.jsonl stay).

The goal: the proxy's marginal per-job time at least 10x below the full recipe's.

Beside it, the per-job overhead broken down, measured in one process over an in-process grid of
``--jobs`` proxy jobs (default 100, the 12 configurations cycled over seeds), each composed with
Hydra's compose API and run by ``budgetsweep.app.run``: composition (timed once; Hydra's basic
sweeper composes every job twice, once in ``validate_batch_is_legal`` and once in the launcher),
planning, dataset (``build_data``), FLOPs counting, training, evaluation, and the run's own outputs
(record and metrics). Hydra's per-job outputs (``.hydra/``, the log file) are the difference
between the two proxy variants above. The same grid's resident memory (current and peak) at job 10
and at the last job shows whether memory grows with the number of jobs.

    python benchmarks/proxy_sweep_speed.py          # writes analysis/proxy_sweep_speed.md
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRID = ["task=digits", "optim.lr=3e-4,1.39e-3,6.46e-3,3e-2", "model.hidden=32,128,512"]
LEAN = ["hydra.output_subdir=null", "hydra/job_logging=none"]
VARIANTS = {"full": [], "proxy": ["experiment=proxy50"], "proxy, lean outputs": ["experiment=proxy50", *LEAN]}
LRS, HIDDEN = ("3e-4", "1.39e-3", "6.46e-3", "3e-2"), (32, 128, 512)


def sweep_seconds(variant: str, seeds: str, root: Path) -> float:
    """Wall seconds of one whole ``budgetsweep -m`` process (start-up included)."""
    out = root / f"{variant.replace(', ', '-').replace(' ', '_')}-{seeds.replace(',', '_')}"
    cmd = [str(Path(sys.executable).parent / "budgetsweep"), "-m", *GRID, *VARIANTS[variant], f"seed={seeds}",
           f"hydra.sweep.dir={out}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "1"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    records = list(out.glob("*/record.json"))
    expected = 12 * len(seeds.split(","))
    if len(records) != expected:
        raise SystemExit(f"{' '.join(cmd)} wrote {len(records)} records, expected {expected}")
    return elapsed


def rss_mb() -> tuple[float, float]:
    """(current resident set, peak resident set) of this process in MiB (Linux /proc)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class Timer:
    """Wraps a function in place and adds up the wall seconds spent in it (outermost calls only)."""

    def __init__(self, owner, name: str) -> None:
        self.owner, self.name, self.seconds, self.depth = owner, name, 0.0, 0
        self.original = getattr(owner, name)
        timer = self

        def timed(*args, **kwargs):
            timer.depth += 1
            start = time.perf_counter()
            try:
                return timer.original(*args, **kwargs)
            finally:
                timer.depth -= 1
                if timer.depth == 0:
                    timer.seconds += time.perf_counter() - start

        setattr(owner, name, timed)


def in_process_grid(n_jobs: int, root: Path) -> dict:
    """Per-job seconds by phase and memory over ``n_jobs`` in-process proxy jobs."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    from hydra import compose, initialize_config_module

    import budgetsweep.app as app
    import budgetsweep.plan as plan
    import budgetsweep.train.loop as loop
    from budgetsweep.run_context import RunContext
    from budgetsweep.tasks.cache import DATASETS, FLOPS
    from budgetsweep.tasks.digits import Digits

    timers = {"planning (incl. dataset, FLOPs)": Timer(app, "plan_run"), "dataset": Timer(Digits, "build_data"),
              "FLOPs counting (plan)": Timer(plan, "_count_flops"), "training (incl. evaluation)": Timer(loop, "train"),
              "evaluation": Timer(loop, "evaluate"), "record + metrics outputs": Timer(RunContext, "_write")}
    import budgetsweep.train as train_pkg

    train_pkg.train = loop.train  # app.run imports train from the package: time that one
    compose_s = run_s = 0.0
    memory = {}
    jobs = [(lr, h, seed) for seed in range(n_jobs) for lr in LRS for h in HIDDEN][:n_jobs]
    with initialize_config_module(config_module="budgetsweep.conf", version_base=None):
        for i, (lr, hidden, seed) in enumerate(jobs, 1):
            overrides = ["task=digits", f"optim.lr={lr}", f"model.hidden={hidden}", "experiment=proxy50",
                         f"seed={seed}"]
            start = time.perf_counter()
            cfg = compose(config_name="config", overrides=overrides)
            mid = time.perf_counter()
            app.run(cfg, root / f"job{i}", overrides)
            end = time.perf_counter()
            if i > 1:  # the first job pays one-off imports (torch, scikit-learn) and builds the caches
                compose_s += mid - start
                run_s += end - mid
            if i == 1:
                for timer in timers.values():
                    timer.seconds = 0.0
            if i in (10, n_jobs):
                memory[i] = rss_mb()
    per_job = {name: t.seconds / (n_jobs - 1) for name, t in timers.items()}
    return {"compose": compose_s / (n_jobs - 1), "run": run_s / (n_jobs - 1), "phases": per_job, "memory": memory,
            "dataset_builds": DATASETS.builds, "flops_counts": FLOPS.builds, "n_jobs": n_jobs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100, help="jobs of the in-process grid (memory, breakdown)")
    parser.add_argument("--out", type=Path, default=REPO / "analysis" / "proxy_sweep_speed.md")
    args = parser.parse_args()
    load_before = os.getloadavg()
    times: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory(prefix="proxy-speed-") as tmp:
        root = Path(tmp)
        for seeds in ("0", "0,1"):  # interleaved: each variant's 12-job run, then each one's 24-job run
            for variant in VARIANTS:
                n = 12 * len(seeds.split(","))
                times[variant, n] = sweep_seconds(variant, seeds, root)
                print(f"{variant:>20}: {n} jobs in {times[variant, n]:.1f} s", flush=True)
        grid = in_process_grid(args.jobs, root / "inproc")
    load_after = os.getloadavg()
    marginal = {v: (times[v, 24] - times[v, 12]) / 12 for v in VARIANTS}
    ratio = {v: marginal["full"] / marginal[v] for v in VARIANTS if v != "full"}
    print({k: round(v, 3) for k, v in marginal.items()}, {k: round(v, 2) for k, v in ratio.items()})
    args.out.write_text(render(times, marginal, ratio, grid, load_before, load_after))
    print(f"wrote {args.out}")


def render(times, marginal, ratio, grid, load_before, load_after) -> str:
    best = max(ratio.values())
    verdict = "met" if best >= 10 else "NOT met"
    lines = [
        "# End-to-end speed of proxy sweeps (digits, 50x proxy)", "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; OMP_NUM_THREADS=1; load average "
        f"{load_before[0]:.1f} before and {load_after[0]:.1f} after (the machine was shared: absolute times are "
        "noisy, the variants ran interleaved so the ratios are fairer than the times).", "",
        "Command: `python benchmarks/proxy_sweep_speed.py` (one run).", "",
        "## Whole processes: `budgetsweep -m " + " ".join(GRID) + " [variant] seed=0 | seed=0,1`", "",
        "| variant | 12 jobs (s) | 24 jobs (s) | marginal per job (s) | full / variant |",
        "|---|---|---|---|---|",
    ]
    for v in VARIANTS:
        r = "1" if v == "full" else f"{ratio[v]:.1f}x"
        lines.append(f"| {v} | {times[v, 12]:.1f} | {times[v, 24]:.1f} | {marginal[v]:.3f} | {r} |")
    lean_saving = marginal["proxy"] - marginal["proxy, lean outputs"]
    lines += [
        "", f"Goal (marginal per-job time of the proxy at least 10x below the full recipe's): **{verdict}** "
        f"(best {best:.1f}x).",
        f"Lean outputs (`{' '.join(LEAN)}`) changed the proxy's marginal per-job time by {-lean_saving:+.3f} s.", "",
        f"## Per-job breakdown of the proxy (in one process, {grid['n_jobs']} jobs, first job excluded)", "",
        "| phase | seconds per job |", "|---|---|",
        f"| composition, one compose (Hydra's basic sweeper composes each job twice) | {grid['compose']:.4f} |",
        f"| composition as the basic sweeper pays it (2x) | {2 * grid['compose']:.4f} |",
    ]
    for name, seconds in grid["phases"].items():
        lines.append(f"| {name} | {seconds:.4f} |")
    lines += [
        f"| app.run in all | {grid['run']:.4f} |",
        f"| Hydra's per-job outputs (.hydra/, log file): proxy minus lean, from the processes | {lean_saving:.4f} |",
        "", "Planning includes the dataset and FLOPs rows; training includes evaluation (and the dataset it "
        "builds); the process rows also hold the launcher's job set-up (working directory, logging, return "
        "value) and the sweeper's up-front composition of the whole batch.", "",
        f"Per process, the dataset was built {grid['dataset_builds']} time(s) and FLOPs were counted "
        f"{grid['flops_counts']} time(s) (plan and trainer; once per distinct model) for {grid['n_jobs']} jobs "
        "(budgetsweep/tasks/cache.py).", "",
        "## Memory of the in-process grid", "", "| after job | resident (MiB) | peak resident (MiB) |", "|---|---|---|",
    ]
    for job, (rss, peak) in sorted(grid["memory"].items()):
        lines.append(f"| {job} | {rss:.1f} | {peak:.1f} |")
    (r10, p10), (rn, pn) = grid["memory"][10], grid["memory"][grid["n_jobs"]]
    lines += ["", f"Peak grew by {pn - p10:.1f} MiB from job 10 to job {grid['n_jobs']} "
              f"(resident: {rn - r10:+.1f} MiB); the caches are LRUs of a few entries.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
