"""Run a module as ``python -m MODULE ARGS`` does and print, at exit, what the cyclic garbage collector and
the database cost it: collections per generation and their total milliseconds (``gc.callbacks``), and SQL
statements and commits per table and kind (SQLAlchemy's ``before_cursor_execute`` and ``commit`` events on
every engine). The figures in ``analysis/sweeper_overhead.md``'s hand-added notes and ``docs/sweeper.md``
come from it: run a sweep of 3 and of 43 trials, the difference over 40 is the per-trial share.

    OMP_NUM_THREADS=1 python benchmarks/gc_sql_counts.py budgetsweep.app -m task=digits train.epochs=null \\
        train.steps=1 hydra/sweeper=budget hydra.sweeper.n_trials=43 'optim.lr=tag(log, interval(1e-4, 1e-1))'

Printed to stderr by an exit hook, before the interpreter's teardown (whose collections are not counted):
``GC <n> collections <per generation> <ms> ms`` and one ``SQL <count> <kind> <table>`` line per kind of
statement. Run each sweep in a fresh folder: the default storage is ``outputs/`` under it, and a finished
study reruns nothing.
"""
from __future__ import annotations

import collections
import gc
import re
import sys
import time

from run_module import run_with_report


def main() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    collected = {"ms": 0.0, "by_generation": collections.Counter()}
    started = [0.0]

    def timing(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            collected["ms"] += 1000 * (time.perf_counter() - started[0])
            collected["by_generation"][info["generation"]] += 1

    gc.callbacks.append(timing)
    sql = collections.Counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def _statement(conn, cursor, statement, params, context, executemany):
        table = re.search(r"(?:FROM|INTO|UPDATE)\s+(\w+)", statement, re.I)
        sql[(statement.split(None, 1)[0].upper(), table.group(1) if table else "")] += 1

    @event.listens_for(Engine, "commit")
    def _commit(conn):
        sql[("COMMIT", "")] += 1

    def report():
        n = sum(collected["by_generation"].values())
        print(f"GC {n} collections {dict(sorted(collected['by_generation'].items()))} {collected['ms']:.1f} ms",
              file=sys.stderr)
        for (kind, table), count in sql.most_common():
            print(f"SQL {count} {kind} {table}", file=sys.stderr)

    run_with_report(report)


if __name__ == "__main__":
    main()
