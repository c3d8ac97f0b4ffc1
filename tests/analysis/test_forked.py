"""The forked worker pools of a large report (analysis/forked.py): real processes."""
from __future__ import annotations

import gc
import threading

from budgetsweep.analysis import forked


def _frozen_in_worker(_: int) -> int:
    return gc.get_freeze_count()


def test_workers_freeze_what_they_inherit_and_the_parent_stays_as_it_was():
    before = gc.get_freeze_count()
    with forked.pool(2) as pool:
        counts = list(pool.map(_frozen_in_worker, range(4)))
    # every object the parent held is frozen in the worker: its collections never walk them
    assert all(c > len(gc.get_objects()) // 2 for c in counts), counts
    assert gc.get_freeze_count() == before


def test_no_fork_while_another_thread_runs():
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not forked.can_fork()
    finally:
        release.set()
        other.join()


def test_cpus_counts_the_cpus_this_process_may_use():
    assert 1 <= forked.cpus()
