"""The sweeper's view of the study's storage: Optuna's cached storage, with three reads fewer per trial.

Optuna wraps an ``RDBStorage`` in ``_CachedStorage`` (finished trials kept in memory). ``Study.ask``
and the sampler still read the database more often than the sweeper needs, every trial:

1. ``_pop_waiting_trial_id`` asks for the study's WAITING trials with ``get_all_trials``, which first
   brings the cache up to date (the unfinished trials and any new ones, with their params and
   attributes: six queries). Here one query looks whether any trial is WAITING; only then does the
   cached storage answer (and sync). With none waiting the answer is the same empty list; the sync
   is left to the next read that needs it (the cache catches up on whatever it skipped, since it
   reads by trial id and unfinished state, not by what changed since the last call).
2. ``Trial.__init__`` reads the trial it was given back from the database (unfinished trials are never
   served from the cache: six queries). A trial this process has just created is known exactly (the
   row ``create_new_trial`` inserted, returned by Optuna's RDB storage and kept in the cache), and no
   other process writes to a new RUNNING trial, so its first read is served from that copy.
3. TPE with ``constant_liar`` (the sweeper's default) brings the cache up to date twice while it samples
   a new trial, a millisecond apart: to infer the search space, then again to see the running trials.
   The second read reuses the first's view when it follows it directly: the first two reads after
   this process created a trial, with no write between them and at most ``REUSE_S`` apart. A trial
   another process creates in that moment is seen at the next ask, as if created a moment later.
   Any other read brings the cache up to date as ``_CachedStorage`` does.

Everything else is ``_CachedStorage``'s own; ``get_storage`` keeps a ``BaseStorage`` as it is given.
"""
from __future__ import annotations

import copy
import time
from typing import Any

from optuna.storages._cached_storage import _CachedStorage
from optuna.trial import FrozenTrial, TrialState


REUSE_S = 0.5  # the most a reused view may be older than the read it answers


class SweepStorage(_CachedStorage):
    """``_CachedStorage`` over ``backend`` (an ``RDBStorage``), for the sweeper's own study object."""

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self._fresh: dict[int, FrozenTrial] = {}  # trial id -> the trial as this process created it
        self._new: set[int] = set()  # studies with a trial just created here, not read for since
        self._view: dict[int, float] = {}  # study -> when its first read after that creation synced it

    def _wrote(self) -> None:
        self._new.clear()
        self._view.clear()

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        trial_id = super().create_new_trial(study_id, template_trial)
        self._wrote()
        if template_trial is None:  # ask's trial (enqueued ones come with a template and are read as before)
            number = self._trial_id_to_study_id_and_number[trial_id][1]
            self._fresh[trial_id] = self._studies[study_id].trials[number]
            self._new.add(study_id)
        return trial_id

    def get_trial(self, trial_id: int) -> FrozenTrial:
        fresh = self._fresh.pop(trial_id, None)  # served once: later reads see what was written since
        if fresh is not None:
            return copy.deepcopy(fresh)  # the caller (Trial) changes its copy as params are suggested
        return super().get_trial(trial_id)

    def get_all_trials(self, study_id: int, deepcopy: bool = True, states: Any = None) -> list[FrozenTrial]:
        if states is not None and tuple(states) == (TrialState.WAITING,) and not self._any_waiting(study_id):
            return []
        synced = self._view.pop(study_id, None)
        if synced is not None and time.monotonic() - synced <= REUSE_S:  # the second read: the first's view
            with self._lock:
                trials = sorted((t for t in self._studies[study_id].trials.values()
                                 if states is None or t.state in states), key=lambda t: t.number)
            return copy.deepcopy(trials) if deepcopy else trials
        trials = super().get_all_trials(study_id, deepcopy=deepcopy, states=states)
        if study_id in self._new:  # the first read after creating a trial: the next may reuse it
            self._new.discard(study_id)
            self._view[study_id] = time.monotonic()
        return trials

    # every write ends a reusable view
    def set_trial_param(self, *args: Any, **kwargs: Any) -> None:
        self._wrote()
        super().set_trial_param(*args, **kwargs)

    def set_trial_state_values(self, *args: Any, **kwargs: Any) -> bool:
        self._wrote()
        return super().set_trial_state_values(*args, **kwargs)

    def set_trial_intermediate_value(self, *args: Any, **kwargs: Any) -> None:
        self._wrote()
        super().set_trial_intermediate_value(*args, **kwargs)

    def set_trial_user_attr(self, *args: Any, **kwargs: Any) -> None:
        self._wrote()
        super().set_trial_user_attr(*args, **kwargs)

    def set_trial_system_attr(self, *args: Any, **kwargs: Any) -> None:
        self._wrote()
        super().set_trial_system_attr(*args, **kwargs)

    def set_study_user_attr(self, *args: Any, **kwargs: Any) -> None:
        self._wrote()
        super().set_study_user_attr(*args, **kwargs)

    def set_study_system_attr(self, *args: Any, **kwargs: Any) -> None:
        self._wrote()
        super().set_study_system_attr(*args, **kwargs)

    def _any_waiting(self, study_id: int) -> bool:
        """Whether the study has a WAITING trial (one query); True when that cannot be asked."""
        try:
            from optuna.storages._rdb import models
            from optuna.storages._rdb.storage import _create_scoped_session
            from sqlalchemy import select

            with _create_scoped_session(self._backend.scoped_session) as session:
                row = session.execute(select(models.TrialModel.trial_id).where(
                    models.TrialModel.study_id == study_id,
                    models.TrialModel.state == TrialState.WAITING).limit(1)).first()
            return row is not None
        except Exception:  # not Optuna's RDB layout: let the cached storage answer
            return True
