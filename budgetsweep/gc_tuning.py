"""The cyclic garbage collector's work in a sweeper's process: full passes over the long-lived heap, skipped.

A full collection (CPython's oldest generation) traces every object alive. In a sweep the bulk of them
live as long as the process: the modules (Optuna, SQLAlchemy's ORM, NumPy for the sweeper; torch and
scikit-learn once the first job has run), Hydra's state, a task's cached data. Measured on this project's
2-core machine (``gc.callbacks`` timing): a one-trial budget sweep of the trivial app spent 120-155 ms in
collections against 13 ms for Hydra's basic sweeper, and a 43-trial digits sweep 8.5-11 ms per trial,
most of it tracing torch's objects again in each full pass.

``FrozenHeap`` (one per sweep, a context manager) pauses automatic collection during the sweeper's
start-up (its imports, opening the study), then moves what is alive to the permanent generation
(``gc.freeze``, the technique CPython's ``gc`` documentation gives for long-lived objects), and again after
its first batch of jobs (after a ``gc.collect()``, so no garbage is kept); it gives all of it back
(``gc.unfreeze``) when the sweep ends, so the process collects as before afterwards (a notebook, a test
run, and the interpreter's own teardown, which closes and flushes what a script left open).

What changes during the sweep: objects frozen are still freed by reference counting, but a reference
cycle among them that becomes garbage (an object a job kept in a global from the first batch and
replaced later) waits for the end of the sweep. A heap someone else froze (``gc.get_freeze_count() > 0``
at the start) is left as it is; a ``gc.freeze()`` a job makes during the sweep is undone with the
sweep's at its end (``gc.unfreeze`` cannot tell them apart).

Not done at exit: freezing the heap there would make teardown fast (0.15-0.3 s less after a budget
sweep) but a file a script keeps in a module global sits in a reference cycle (``__main__``'s dict and its
functions): only teardown's collection closes it, so its buffered output would be lost.
"""
from __future__ import annotations

import gc


class FrozenHeap:
    """A sweep's scope (``with``). On entry the heap is frozen and automatic collection paused: what the
    sweeper's start-up allocates (its imports, the study) is long-lived too. ``settle()`` (start-up done)
    freezes that and resumes collection; ``warm_up()`` (after each batch; acts once) collects, then freezes
    what the first jobs loaded. On exit the heap is unfrozen and collection is as it was on entry. Does
    nothing when the heap was already frozen on entry. ``frozen``: whether this scope froze anything."""

    def __init__(self) -> None:
        self.frozen = False
        self._was_enabled = True
        self._settled = False
        self._warmed = False

    def __enter__(self) -> "FrozenHeap":
        if gc.get_freeze_count() == 0:
            self.frozen = True
            self._was_enabled = gc.isenabled()
            gc.disable()
            gc.freeze()
        return self

    def settle(self) -> None:
        """Start-up is over: freeze what it allocated, resume automatic collection."""
        if self.frozen and not self._settled:
            self._settled = True
            gc.freeze()
            if self._was_enabled:
                gc.enable()

    def warm_up(self) -> None:
        """Call after each batch of jobs; acts after the first: what the first jobs loaded (torch, a task's
        data) is long-lived too. Collects first, so none of their garbage is kept until the end."""
        if self._settled and not self._warmed:
            self._warmed = True
            gc.collect()
            gc.freeze()

    def __exit__(self, *exc) -> None:
        if self.frozen:
            if not self._settled and self._was_enabled:
                gc.enable()
            gc.unfreeze()
            self.frozen = False
