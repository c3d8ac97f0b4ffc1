"""Run a module as ``python -m MODULE ARGS`` does, writing this process's CPU time (user + system) at the
start of every job the budget sweeper launches, one line each, to the file named by ``$CPU_MARKS``.

``sweeper_overhead.py`` uses it for its study-size figure: CPU seconds between job starts are a trial's
cost free of the waiting that a shared machine adds to wall time. Hooks ``TimedTask`` (the wrapper the
budget sweeper gives its launcher for every job) and nothing else.

    CPU_MARKS=marks.txt python benchmarks/cpu_marks.py tests.apps.trivial_app -m hydra/sweeper=budget ...
"""
from __future__ import annotations

import os
import runpy
import sys
import time

from budgetsweep.budget import job_timer


def main() -> None:
    out = open(os.environ["CPU_MARKS"], "a", buffering=1)  # a line per job, flushed as written
    timed = job_timer.TimedTask.__call__

    def marked(self, *args, **kwargs):
        out.write(f"{time.process_time()!r}\n")
        return timed(self, *args, **kwargs)

    job_timer.TimedTask.__call__ = marked
    module, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
