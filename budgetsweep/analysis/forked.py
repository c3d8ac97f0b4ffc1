"""Forked worker processes for the CPU-bound parts of a large report: reading record files
(``load``), bootstraps (``fidelity``) and figures (``report``).

Fork, not spawn: a child inherits the imported modules and the data it works on instead of
importing and receiving them again. Each child freezes the garbage collector's view of what it
inherited (``gc.freeze``): otherwise its first full collections walk every object of the parent
(pandas, scipy, matplotlib, the run frames), writing to their headers and so copying the pages
that hold them; measured on 100k records, 15% of the readers' CPU time.
"""
from __future__ import annotations

import concurrent.futures
import gc
import multiprocessing as mp
import os
import threading


def cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def can_fork() -> bool:
    """Whether work may go to forked processes: the platform forks, and this process runs one
    thread (forking a process with other threads, such as a notebook kernel or a web server, can
    deadlock the child on a lock one of them held)."""
    return "fork" in mp.get_all_start_methods() and threading.active_count() == 1


def pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    """A pool of ``workers`` forked processes, each with the inherited objects frozen (see above)."""
    return concurrent.futures.ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"),
                                                  initializer=gc.freeze)
