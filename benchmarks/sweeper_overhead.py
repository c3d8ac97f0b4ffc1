"""Overhead of ``hydra/sweeper=budget`` against Hydra's basic sweeper, measured side by side in one run.

Three figures, each a ratio of sweeps run interleaved on the same machine:

1. **Per trial, trivial app** (tests/apps/trivial_app.py: returns x^2, no record, no plan). Each sweeper
   runs it as a real subprocess with a small and a large number of trials; (fastest large - fastest
   small) / (difference in trials) is the time per trial, free of process start-up.
2. **Per trial, budgetsweep's own app** on ``task=digits train.steps=1``, without budget settings
   and with a limit (then the budget sweeper also composes and plans each trial to predict its
   cost); the job reports to its Optuna trial.
3. **Start-up** (trivial app): the fastest of repeated one-trial sweeps minus one trial's share,
   per sweeper (Python, Hydra, imports, study and ledger set-up).

And 4. **Per-trial cost against study size**: one budget sweep of ``--study-size`` trials of the
trivial app; the median interval between consecutive job starts over trials 20-40 and over the last
20 trials, in the sweeper process's CPU time (``benchmarks/cpu_marks.py`` notes it at every job's
start) and in wall time (each job's ``budgetsweep_job.json`` has its start time).

    python benchmarks/sweeper_overhead.py            # writes analysis/sweeper_overhead.md
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# compiled bytecode, as an installed package has it (pip compiles on install): with PYTHONDONTWRITEBYTECODE set
# every start recompiles each budgetsweep module from source (~10 ms each on a loaded 2-core machine), which
# only the budget sweeper's start-up would pay. Kept out of the source tree; warmed before any measurement.
PYCACHE = os.path.join(tempfile.gettempdir(), "budgetsweep-overhead-pycache")
APPS = {"trivial": (["-m", "tests.apps.trivial_app"], []),
        "digits": (["-m", "budgetsweep.app"], ["task=digits", "train.epochs=null", "train.steps=1"])}


def sweeper_args(name: str, app: str, n: int) -> list[str]:
    space = "x=interval(0,1)" if app == "trivial" else "optim.lr=tag(log, interval(1e-4, 1e-1))"
    if name == "basic":
        values = ",".join(f"{(i + 1) / (n + 1):.6f}" for i in range(n))
        return ["hydra/sweeper=basic", f"x={values}" if app == "trivial" else f"optim.lr={values}"]
    if name == "optuna":
        return ["hydra/sweeper=optuna", f"hydra.sweeper.n_trials={n}", space]
    if name == "budget_limit":  # a limit set: each trial is also composed and planned to predict its cost
        return ["hydra/sweeper=budget", f"hydra.sweeper.n_trials={n}", "hydra.sweeper.budget.unit=examples",
                "hydra.sweeper.budget.limit=1e12", space]
    # no budget settings: the one-line switch from hydra-optuna-sweeper (costs still measured)
    return ["hydra/sweeper=budget", f"hydra.sweeper.n_trials={n}", space]


def run_once(name: str, app: str, n: int, keep: Path | None = None, marks: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one sweep of ``n`` trials, process start-up included. With ``marks``, the
    sweep runs under ``benchmarks/cpu_marks.py``, which writes its CPU time at every job's start there."""
    with tempfile.TemporaryDirectory(prefix=f"overhead-{name}-") as tmp:
        sweep_dir = keep or Path(tmp, "sweep")
        module, overrides = APPS[app]
        if marks is not None:
            module = [str(REPO / "benchmarks" / "cpu_marks.py"), module[-1]]
        cmd = [sys.executable, *module, "-m", f"hydra.sweep.dir={sweep_dir}", *overrides, *sweeper_args(name, app, n)]
        env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
               "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PYTHONPYCACHEPREFIX": PYCACHE,
               **({"CPU_MARKS": str(marks)} if marks is not None else {})}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} sweep of {app} failed:\n{proc.stderr[-2000:]}")
        jobs = sum(1 for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit())
        if jobs != n:
            raise RuntimeError(f"{name} sweep of {app} ran {jobs} jobs, expected {n}")
        return elapsed, cpu


def upstream_installed() -> bool:
    try:
        import hydra_plugins.hydra_optuna_sweeper  # noqa: F401
    except ImportError:
        return False
    return True


def measure(names: list[str], app: str, small: int, large: int, repeats: int,
            startup_repeats: int = 0) -> dict[str, dict[str, float]]:
    """Per sweeper: seconds per trial ("cpu", "wall") from the fastest of the repeated small and large
    sweeps (noise on a shared machine only adds time), and, with ``startup_repeats``, start-up
    ("startup": the fastest one-trial sweep minus one trial's wall time)."""
    runs = {name: {"small": [], "large": [], "one": []} for name in names}
    for name in names:  # compiles every module into PYCACHE, so no measured run pays for it
        run_once(name, app, 1)
    for i in range(max(repeats, startup_repeats)):
        for name in names:  # interleaved, so drifting machine load hits every sweeper alike
            if i < repeats:
                runs[name]["small"].append(run_once(name, app, small))
                runs[name]["large"].append(run_once(name, app, large))
            if i < startup_repeats:
                runs[name]["one"].append(run_once(name, app, 1))
    out = {}
    for name, r in runs.items():
        out[name] = {clock: (min(t[i] for t in r["large"]) - min(t[i] for t in r["small"])) / (large - small)
                     for i, clock in enumerate(("wall", "cpu"))}
        out[name]["startup"] = min(t[0] for t in r["one"]) - out[name]["wall"] if r["one"] else float("nan")
    return out


def study_size(n: int) -> dict[str, tuple[float, float]]:
    """Per clock ("wall", "cpu"): the median seconds between consecutive job starts over trials 20-40 and
    over the last 20 of one budget sweep of ``n`` trials of the trivial app (wall from each job's
    ``budgetsweep_job.json``, the sweeper process's CPU time from ``cpu_marks.py``)."""
    with tempfile.TemporaryDirectory(prefix="overhead-size-") as tmp:
        sweep_dir, marks = Path(tmp, "sweep"), Path(tmp, "cpu_marks.txt")
        run_once("budget", "trivial", n, keep=sweep_dir, marks=marks)
        starts = {"wall": [datetime.fromisoformat(json.loads((sweep_dir / str(i) / "budgetsweep_job.json").read_text())
                                                  ["started_at"]).timestamp() for i in range(n)],
                  "cpu": [float(line) for line in marks.read_text().split()]}
    out = {}
    for clock, times in starts.items():
        if len(times) != n:
            raise RuntimeError(f"the study-size sweep left {len(times)} {clock} marks, expected {n}")
        # medians: one process runs all of it, so a burst of other work on a shared machine hits only some
        # intervals; the median of each window is what a trial costs there
        intervals = [b - a for a, b in zip(times, times[1:])]
        out[clock] = (statistics.median(intervals[20:40]), statistics.median(intervals[n - 21:n - 1]))
    return out


LABELS = {"basic": "basic (Hydra)", "optuna": "hydra-optuna-sweeper 1.3.0 (in-memory study)",
          "budget": "budget (SQLite study + ledger)",
          "budget_limit": "budget with a limit (each trial also planned)"}


def table(per_trial: dict[str, dict[str, float]]) -> list[str]:
    lines = ["| sweeper | CPU s per trial | wall s per trial | CPU vs basic | wall vs basic | start-up s |",
             "|---|---:|---:|---:|---:|---:|"]
    base = per_trial["basic"]
    for name, t in per_trial.items():
        startup = f"{t['startup']:.2f}" if t["startup"] == t["startup"] else "-"
        lines.append(f"| {LABELS[name]} | {t['cpu']:.3f} | {t['wall']:.3f} | {t['cpu'] / base['cpu']:.2f}x | "
                     f"{t['wall'] / base['wall']:.2f}x | {startup} |")
    return lines


def report(results: dict, size: dict[str, tuple[float, float]] | None, args, command: str) -> str:
    lines = [
        "# Sweeper overhead",
        "",
        f"Generated by `{command}`: every figure below comes from this one run, sweepers interleaved. Basic "
        "launcher, jobs in the sweeper's process. Per trial = (fastest large sweep - fastest small sweep) / "
        "(difference in trials), which removes process start-up and most of the noise of a shared machine "
        "(noise only adds time). Start-up = fastest of 5 one-trial sweeps - one trial's share. The budget sweeper runs "
        "with no budget settings (the one-line switch from hydra-optuna-sweeper; every job is still timed "
        "and charged, and the summary written).",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, no GPU use; load average at the end {os.getloadavg()[0]:.1f} "
        "(other work shared the machine). Modules run from compiled bytecode, as installed ones do "
        "(PYTHONPYCACHEPREFIX, warmed by one sweep of each sweeper before any measurement).",
    ]
    digits = "`budgetsweep task=digits train.epochs=null train.steps=1`"
    for app, title, small, large in (("trivial", "Trivial app (`tests/apps/trivial_app.py`)", args.small, args.large),
                                     ("digits", digits, args.digits_small, args.digits_large)):
        per = results[app]
        lines += ["", f"## {title}: sweeps of {small} and {large} trials, {args.repeats} times each", "",
                  *table(per), "",
                  f"**Per trial, budget / basic: {per['budget']['cpu'] / per['basic']['cpu']:.2f}x CPU, "
                  f"{per['budget']['wall'] / per['basic']['wall']:.2f}x wall** (target: at most 1.0). "
                  + (f"With a limit: {per['budget_limit']['cpu'] / per['basic']['cpu']:.2f}x CPU, "
                     f"{per['budget_limit']['wall'] / per['basic']['wall']:.2f}x wall. " if "budget_limit" in per else "")
                  + (f"**Start-up, budget - basic: "
                     f"{per['budget']['startup'] - per['basic']['startup']:+.2f} s** "
                     "(target: at most +0.4 s)." if per["budget"]["startup"] == per["budget"]["startup"] else
                     "Start-up: see the trivial app (here both are dominated by importing torch in the first job).")]
    if size is not None:
        (cpu_early, cpu_late), (early, late) = size["cpu"], size["wall"]
        lines += ["", f"## Per-trial cost against study size (one budget sweep of {args.study_size} trials, "
                  "trivial app)", "",
                  f"Median interval between job starts, in the sweeper process's CPU time: trials 20-40 "
                  f"{cpu_early:.4f} s, last 20 trials {cpu_late:.4f} s: **{cpu_late / cpu_early:.2f}x** (target: at "
                  f"most 1.2x). In wall time: {early:.3f} s and {late:.3f} s, {late / early:.2f}x (waiting for a CPU "
                  "included)."]
    lines += ["", "Where the time goes. Composition: Hydra's basic sweeper composes each job twice (to validate the "
              "batch, then to launch it). `budgetsweep/compose_memo.py`, installed by the `budgetsweep` script and by "
              "the budget sweeper for any app it sweeps under Hydra's basic launcher, derives a job's config from a "
              "base composed once per set of config-group choices (Hydra's own config, tested); under the basic "
              "sweeper it keeps that composition for the launcher and hands a copy to the validation. So on the "
              "trivial app the basic sweeper pays two full Hydra compositions per job and the budget sweeper one "
              "derivation; on digits both derive. Under a limit the budget sweeper plans each trial on its derived "
              "config and hands that config over to the trial's launch (one derivation per trial). What the budget "
              "sweeper adds per trial is Optuna and the database: the sampler (TPE, which brings Optuna's cache of "
              "the study up to date once per trial), Optuna's ask (one query for waiting trials; the new trial is "
              "not read back, `budgetsweep/budget/sweep_storage.py`) and tell, the trial's attributes (one upsert), "
              "the ledger's reserve and commit, and, in the job, reporting to its trial (handed over in-process by "
              "the sweeper, not read from the database); under a limit also the plan (`budgetsweep.plan.plan_run`). "
              "hydra-optuna-sweeper keeps its study in memory: it pays the sampler but no database, so the "
              "difference between its row and the budget sweeper's is the persistent study and ledger (what resume, "
              "several sweepers on one study and recovery after a crash need). Start-up: importing Optuna and "
              "SQLAlchemy (NumPy and tqdm through Optuna), creating or opening the study's database and the ledger. "
              "The cyclic garbage collector would trace those modules' objects again in each full collection; the "
              "budget sweeper pauses collection during its start-up and freezes the long-lived heap "
              "(`budgetsweep/gc_tuning.py`), again after the first batch (torch, the task's data), until the sweep "
              "ends. The interpreter's teardown at exit still frees that heap (it closes what a script left open)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=5)
    parser.add_argument("--large", type=int, default=35)
    parser.add_argument("--digits-small", type=int, default=3)
    parser.add_argument("--digits-large", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--study-size", type=int, default=500)
    parser.add_argument("--out", default=str(REPO / "analysis" / "sweeper_overhead.md"))
    args = parser.parse_args()
    names = ["basic"] + (["optuna"] if upstream_installed() else []) + ["budget"]
    results = {"trivial": measure(names, "trivial", args.small, args.large, args.repeats, startup_repeats=5),
               "digits": measure([*names, "budget_limit"], "digits", args.digits_small, args.digits_large,
                                 args.repeats)}
    size = study_size(args.study_size) if args.study_size >= 60 else None
    command = "python benchmarks/sweeper_overhead.py" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out" and v != parser.get_default(k))
    text = report(results, size, args, command)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
