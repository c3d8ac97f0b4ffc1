"""End-to-end speed of a proxy sweep against the full recipe's (issue 14, point 6).

The user pays for the whole command, so this times whole ``budgetsweep -m`` processes of the
12-configuration digits grid (optim.lr 3e-4, 1.39e-3, 6.46e-3, 3e-2 x model.hidden 32, 128, 512),
with one seed (12 jobs) and two seeds (24 jobs). The marginal wall time per job is
(time of 24 jobs - time of 12 jobs) / 12: process start-up and imports cancel out. Three variants,
run interleaved in one invocation so the machine's load affects them alike:

- ``full``: the full recipe;
- ``proxy``: ``experiment=proxy50`` (the article's 50x proxy: 10% data, 20% of the steps), which sets
  the lean Hydra outputs itself (``hydra.output_subdir=null hydra/job_logging=none``: no ``.hydra/``
  config copies, no per-job log file; the record and metrics.jsonl stay);
- ``proxy, Hydra's outputs``: the same with Hydra's per-job outputs restored
  (``hydra.output_subdir=.hydra hydra/job_logging=default``), what the preset saves.

Each process's wall time and CPU time (user + system, ``getrusage`` of the child) are recorded: on a
shared machine the CPU time is the fairer of the two. Then the same grids run through Hydra's basic
sweeper and launcher inside this process (``budgetsweep.app.main``, after a warm-up sweep), so the
start-up's noise (seconds of imports) is out of the marginal figures.

The goal: the proxy's marginal per-job time at least 10x below the full recipe's.

Beside it, the per-job overhead broken down, measured in one process over an in-process grid of
``--jobs`` proxy jobs (default 100, the 12 configurations cycled over seeds), each composed with
Hydra's compose API and run by ``budgetsweep.app.run``: composition (timed once; Hydra's basic
sweeper composes every job twice, once in ``validate_batch_is_legal`` and once in the launcher; the
``budgetsweep`` command keeps the first for the launcher, ``budgetsweep/compose_memo.py``),
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
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRID = ["task=digits", "optim.lr=3e-4,1.39e-3,6.46e-3,3e-2", "model.hidden=32,128,512"]
RESTORE = ["hydra.output_subdir=.hydra", "hydra/job_logging=default"]
VARIANTS = {"full": [], "proxy": ["experiment=proxy50"], "proxy, Hydra's outputs": ["experiment=proxy50", *RESTORE]}
LRS, HIDDEN = ("3e-4", "1.39e-3", "6.46e-3", "3e-2"), (32, 128, 512)


def sweep_seconds(variant: str, seeds: str, root: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one whole ``budgetsweep -m`` process (start-up included)."""
    root.mkdir(parents=True, exist_ok=True)
    out = root / f"{re.sub(r'[^A-Za-z0-9]+', '_', variant)}-{seeds.replace(',', '_')}"
    cmd = [str(Path(sys.executable).parent / "budgetsweep"), "-m", *GRID, *VARIANTS[variant], f"seed={seeds}",
           f"hydra.sweep.dir={out}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    records = list(out.glob("*/record.json"))
    expected = 12 * len(seeds.split(","))
    if len(records) != expected:
        raise SystemExit(f"{' '.join(cmd)} wrote {len(records)} records, expected {expected}")
    return elapsed, cpu


def in_process_sweeps(root: Path) -> dict:
    """(wall, CPU) seconds of the full and proxy grids (12 and 24 jobs) through Hydra's basic sweeper and
    launcher in this process, after a warm-up sweep; and the compose memo's counts."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    from hydra.core.global_hydra import GlobalHydra

    import budgetsweep.app as app
    from budgetsweep import compose_memo

    def sweep(variant: str, seeds: str, name: str) -> tuple[float, float]:
        argv = sys.argv
        sys.argv = ["budgetsweep", "-m", *GRID, *VARIANTS[variant], f"seed={seeds}",
                    f"hydra.sweep.dir={root / name}"]
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            app.main()
        finally:
            sys.argv = argv
            GlobalHydra.instance().clear()
        return time.perf_counter() - wall, time.process_time() - cpu

    sweep("proxy", "0", "warm")  # imports, the dataset and FLOPs caches
    hits, misses = compose_memo.MEMO.hits, compose_memo.MEMO.misses
    times = {}
    for seeds in ("0", "0,1"):
        for variant in ("full", "proxy"):
            n = 12 * len(seeds.split(","))
            times[variant, n] = sweep(variant, seeds, f"{variant}-{n}")
            print(f"{variant:>20}: {n} jobs in-process in {times[variant, n][0]:.1f} s "
                  f"(CPU {times[variant, n][1]:.1f} s)", flush=True)
    full = compose_memo.MEMO.full_composes  # the last sweep's (proxy, 24 jobs)
    compose_memo.uninstall()
    return {"times": times, "memo_hits": compose_memo.MEMO.hits - hits, "memo_misses": compose_memo.MEMO.misses - misses,
            "last_sweep_full_composes": full}


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
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode
    from omegaconf import open_dict

    from budgetsweep.budget.trial_config import TrialComposer

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
    compose_s = run_s = full_s = 0.0
    memory = {}
    jobs = [(lr, h, seed) for seed in range(n_jobs) for lr in LRS for h in HIDDEN][:n_jobs]
    with initialize_config_module(config_module="budgetsweep.conf", version_base=None):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("config", [], RunMode.MULTIRUN)
        # what budgetsweep/compose_memo.py does for each job of a `budgetsweep -m` grid: one full compose per
        # set of group choices, each job derived from it (TrialComposer)
        composer = TrialComposer(config=master, config_loader=loader)
        for i, (lr, hidden, seed) in enumerate(jobs, 1):
            overrides = ["task=digits", f"optim.lr={lr}", f"model.hidden={hidden}", "experiment=proxy50",
                         f"seed={seed}"]
            if 1 < i <= 6:  # Hydra's own full composition of a job, for comparison
                start = time.perf_counter()
                loader.load_sweep_config(master, overrides)
                full_s += time.perf_counter() - start
            start = time.perf_counter()
            cfg = composer.compose(overrides)
            with open_dict(cfg):
                del cfg["hydra"]  # as the app sees it: Hydra composes its own node too, then hands the job its part
            mid = time.perf_counter()
            app.run(cfg, root / f"job{i}", overrides)
            end = time.perf_counter()
            if i > 1:  # the first job pays one-off imports (torch, scikit-learn) and builds the caches
                compose_s += mid - start
                run_s += end - mid
            if i == 1:
                for timer in timers.values():
                    timer.seconds = 0.0
            if i in (10, n_jobs // 2, n_jobs):
                memory[i] = rss_mb()
    per_job = {name: t.seconds / (n_jobs - 1) for name, t in timers.items()}
    return {"compose": compose_s / (n_jobs - 1), "full_compose": full_s / 5, "full_composes": composer.full_composes,
            "run": run_s / (n_jobs - 1), "phases": per_job, "memory": memory,
            "dataset_builds": DATASETS.builds, "flops_counts": FLOPS.builds, "n_jobs": n_jobs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100, help="jobs of the in-process grid (memory, breakdown)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="whole-process runs of each grid, in interleaved rounds; the fastest is kept (noise only adds)")
    parser.add_argument("--out", type=Path, default=REPO / "analysis" / "proxy_sweep_speed.md")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats={args.repeats}: at least 1")
    load_before = os.getloadavg()
    rounds: dict[tuple[str, int], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="proxy-speed-") as tmp:
        root = Path(tmp)
        for round_ in range(1, args.repeats + 1):
            for seeds in ("0", "0,1"):  # interleaved: each variant's 12-job run, then each one's 24-job run
                for variant in VARIANTS:
                    n = 12 * len(seeds.split(","))
                    wall, cpu = sweep_seconds(variant, seeds, root / f"round{round_}")
                    rounds.setdefault((variant, n), []).append((wall, cpu))
                    print(f"round {round_}/{args.repeats} {variant:>20}: {n} jobs in {wall:.1f} s (CPU {cpu:.1f} s)",
                          flush=True)
        sweeps = in_process_sweeps(root / "sweeps")
        grid = in_process_grid(args.jobs, root / "inproc")
    load_after = os.getloadavg()
    times, paired = paired_marginals(rounds)
    marginal = {v: paired[v, 0] for v in VARIANTS}
    ratio = {v: marginal["full"] / marginal[v] for v in VARIANTS if v != "full"}
    print({k: round(v, 3) for k, v in marginal.items()}, {k: round(v, 2) for k, v in ratio.items()})
    args.out.write_text(render(times, marginal, ratio, sweeps, grid, load_before, load_after, args.repeats, paired))
    print(f"wrote {args.out}")


def paired_marginals(rounds: dict[tuple[str, int], list[tuple[float, float]]]):
    """(median seconds of each grid over the rounds, marginal seconds per job by (variant, 0 wall | 1 CPU)).

    The marginal is the median over rounds of that round's (24-job - 12-job) / 12: the two grids of a
    round ran back to back under the same load. A difference of independent minima or of single runs
    amplifies the noise once a proxy's 12 jobs take less time than a process start varies by."""
    times = {key: tuple(statistics.median(r[i] for r in runs) for i in (0, 1)) for key, runs in rounds.items()}
    paired = {}
    for variant in {v for v, _ in rounds}:
        for i in (0, 1):
            diffs = [(big[i] - small[i]) / 12 for small, big in zip(rounds[variant, 12], rounds[variant, 24])]
            paired[variant, i] = statistics.median(diffs)
    return times, paired


def _marginal(times, variant, i):
    return (times[variant, 24][i] - times[variant, 12][i]) / 12


def _ratio(full: float, variant: float) -> str:
    """full / variant as "12.3x", or why not: a marginal at or below zero is the start-up's noise (a loaded machine)."""
    return f"{full / variant:.1f}x" if variant > 0 and full > 0 else "n/a (noise)"


def render(times, marginal, ratio, sweeps, grid, load_before, load_after, repeats: int, paired) -> str:
    st = sweeps["times"]
    whole = {i: (paired["full", i], paired["proxy", i]) for i in (0, 1)}
    inproc = {i: (_marginal(st, "full", i), _marginal(st, "proxy", i)) for i in (0, 1)}
    measured = [f / p for f, p in (*whole.values(), *inproc.values()) if f > 0 and p > 0]
    verdict = ("met" if min(measured) >= 10 else "NOT met") if measured else "not measurable (noise)"
    if measured and len(measured) < 4:  # say which figures the verdict rests on
        verdict += f" where measurable; {4 - len(measured)} of the 4 ratios were the start-up's noise"
    lines = [
        "# End-to-end speed of proxy sweeps (digits, 50x proxy)", "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; OMP_NUM_THREADS=1; load average "
        f"{load_before[0]:.1f} before and {load_after[0]:.1f} after (on a shared machine absolute times are "
        "noisy; the variants ran interleaved so the ratios are fairer than the times).", "",
        f"Command: `python benchmarks/proxy_sweep_speed.py{''.join(' ' + a for a in sys.argv[1:])}` (one run; each "
        f"whole-process grid ran {repeats} time(s) in interleaved rounds; the grids' times are medians over the rounds, "
        "and a marginal is the median over rounds of that round's (24 jobs - 12 jobs) / 12).", "",
        "## Whole processes: `budgetsweep -m " + " ".join(GRID) + " [variant] seed=0 | seed=0,1`", "",
        "| variant | 12 jobs wall (s) | 24 jobs wall (s) | marginal wall per job (s) | full / variant (wall) "
        "| marginal CPU per job (s) | full / variant (CPU) |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in VARIANTS:
        r = "1" if v == "full" else _ratio(marginal["full"], marginal[v])
        cpu = paired[v, 1]
        rc = "1" if v == "full" else _ratio(paired["full", 1], cpu)
        lines.append(f"| {v} | {times[v, 12][0]:.1f} | {times[v, 24][0]:.1f} | {marginal[v]:.3f} | {r} | {cpu:.3f} | {rc} |")
    lean_saving = marginal["proxy, Hydra's outputs"] - marginal["proxy"]
    noisy = min(marginal.values()) <= 0  # a 24-job process faster than its 12-job one: the start-up's noise
    saving_text = "n/a (noise)" if noisy else f"{lean_saving:.4f}"
    lines += [
        "", f"Goal (marginal per-job time of the proxy at least 10x below the full recipe's): **{verdict}** "
        f"(whole processes: wall {_ratio(*whole[0])}, CPU {_ratio(*whole[1])}; through the sweeper in one process: "
        f"wall {_ratio(*inproc[0])}, CPU {_ratio(*inproc[1])}; the lowest measured ratio decides).",
        f"The preset's lean outputs (against `{' '.join(RESTORE)}`) changed the proxy's marginal wall time per job: "
        + ("n/a (noise)." if noisy else f"by {-lean_saving:+.3f} s."), "",
        "## Through Hydra's basic sweeper in one process (start-up out of the figures)", "",
        "The same grids run by `budgetsweep.app.main` in the benchmark's process after a warm-up sweep: the "
        "marginal figures hold the sweeper's validation, the launcher's composition and job set-up, and the run.", "",
        "| variant | 12 jobs wall (s) | 24 jobs wall (s) | marginal wall per job (s) | marginal CPU per job (s) |",
        "|---|---|---|---|---|",
    ]
    for v in ("full", "proxy"):
        lines.append(f"| {v} | {st[v, 12][0]:.1f} | {st[v, 24][0]:.1f} | {_marginal(st, v, 0):.3f} | "
                     f"{_marginal(st, v, 1):.3f} |")
    lines += [
        "", f"full / proxy: wall {_ratio(*inproc[0])}, CPU {_ratio(*inproc[1])}. Compositions of a job: "
        f"{sweeps['memo_misses']} composed, {sweeps['memo_hits']} handed from the sweeper's validation to the launcher "
        "(Hydra's basic sweeper alone composes every job twice); of the 24-job proxy grid's compositions, "
        f"{sweeps['last_sweep_full_composes']} was/were Hydra's full compose (one per set of group choices), the others "
        "derived from it (`budgetsweep/compose_memo.py`, `TrialComposer`).", "",
        f"## Per-job breakdown of the proxy (in one process, {grid['n_jobs']} jobs, first job excluded)", "",
        "| phase | seconds per job |", "|---|---|",
        f"| composition under `budgetsweep -m`: derived from the grid's one full compose ({grid['full_composes']} "
        f"for {grid['n_jobs']} jobs) | {grid['compose']:.4f} |",
        f"| (for comparison: one full Hydra compose of a job, what each job paid before) | {grid['full_compose']:.4f} |",
    ]
    for name, seconds in grid["phases"].items():
        lines.append(f"| {name} | {seconds:.4f} |")
    lines += [
        f"| app.run in all | {grid['run']:.4f} |",
        f"| composition + app.run: a proxy job's floor under Hydra | {grid['compose'] + grid['run']:.4f} |",
        f"| Hydra's per-job outputs (.hydra/, log file), which the preset drops: from the processes | "
        f"{saving_text} |",
        "", "Planning includes the dataset and FLOPs rows; training includes evaluation (and the dataset it "
        "builds); the process rows also hold the launcher's job set-up (working directory, logging, return "
        "value) and the sweeper's up-front composition of the whole batch.", "",
        f"Per process, the dataset was built {grid['dataset_builds']} time(s) and FLOPs were counted "
        f"{grid['flops_counts']} time(s) (plan and trainer; once per distinct model) for {grid['n_jobs']} jobs "
        "(budgetsweep/tasks/cache.py).", "",
        f"What bounds the ratio: a proxy job costs at least one composition and its run, "
        f"{grid['compose'] + grid['run']:.3f} s here, against the full recipe's marginal {whole[0][0]:.3f} s (whole "
        f"processes) or {inproc[0][0]:.3f} s (in one process) of wall time: at most "
        f"{_ratio(max(whole[0][0], inproc[0][0]), grid['compose'] + grid['run'])} before the launcher's job set-up, "
        f"and composition is {grid['compose'] / (grid['compose'] + grid['run']):.0%} of that floor.", "",
        "## Memory of the in-process grid", "", "| after job | resident (MiB) | peak resident (MiB) |", "|---|---|---|",
    ]
    for job, (rss, peak) in sorted(grid["memory"].items()):
        lines.append(f"| {job} | {rss:.1f} | {peak:.1f} |")
    (r10, p10), (rn, pn) = grid["memory"][10], grid["memory"][grid["n_jobs"]]
    # (a growth in the first jobs is the allocator and torch warming up for the grid's three model sizes)
    lines += ["", f"Peak grew by {pn - p10:.1f} MiB from job 10 to job {grid['n_jobs']} "
              f"(resident: {rn - r10:+.1f} MiB); the caches are LRUs of a few entries.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
