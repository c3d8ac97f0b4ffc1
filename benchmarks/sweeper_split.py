"""Where a budget sweep's time goes, step by step: run a module as ``python -m MODULE ARGS`` does, with a
wall-clock total on each step of the sweeper's loop (ask, reserve, launch, settle, progress) and on the job's
side (Hydra's ``run_job``, budgetsweep's per-job compose, the job's reports to its trial); print the totals
at exit. Run a sweep of 3 and of 43 trials, each in a fresh folder: the difference over 40 is the per-trial
share, free of start-up.

    OMP_NUM_THREADS=1 python benchmarks/sweeper_split.py budgetsweep.app -m task=digits train.epochs=null \\
        train.steps=1 hydra/sweeper=budget hydra.sweeper.n_trials=43 'optim.lr=tag(log, interval(1e-4, 1e-1))'

Printed to stderr: one ``STEP <name> <calls> <ms>`` line per step. Steps nest: ``Reservations.fill`` holds
``_Run._ask`` (it asks, then reserves), ``_Run._launch`` holds ``run_job``, the compose and the settling.
"""
from __future__ import annotations

import collections
import functools
import importlib
import sys
import time

from run_module import run_with_report

STEPS = (  # (module, class or None, function)
    ("hydra_plugins.budgetsweep_sweeper._impl", "_Run", "_ask"),
    ("hydra_plugins.budgetsweep_sweeper._impl", "_Run", "_launch"),
    ("hydra_plugins.budgetsweep_sweeper._impl", "_Run", "_log_progress"),
    ("budgetsweep.budget.reservations", "Reservations", "fill"),
    ("budgetsweep.budget.reservations", "Reservations", "reserve"),
    ("budgetsweep.budget.settle", "TrialSettler", "settle"),
    ("budgetsweep.compose_memo", "ComposeMemo", "load_sweep_config"),
    ("budgetsweep.run_context", "RunContext", "report"),
    ("hydra.core.utils", None, "run_job"),
)


def main() -> None:
    total: dict[str, float] = collections.defaultdict(float)
    calls: collections.Counter = collections.Counter()

    def timed(owner, name: str, step: str) -> None:
        plain = getattr(owner, name)

        @functools.wraps(plain)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return plain(*args, **kwargs)
            finally:
                total[step] += time.perf_counter() - start
                calls[step] += 1

        setattr(owner, name, wrapper)

    for module, cls, name in STEPS:
        found = importlib.import_module(module)
        timed(getattr(found, cls) if cls else found, name, f"{cls or module}.{name}")

    def report() -> None:
        for step in sorted(total, key=total.get, reverse=True):
            print(f"STEP {step} {calls[step]} {1000 * total[step]:.1f}", file=sys.stderr)

    run_with_report(report)


if __name__ == "__main__":
    main()
