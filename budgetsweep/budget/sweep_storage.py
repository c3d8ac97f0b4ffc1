"""The sweeper's view of the study's storage: Optuna's cached storage minus two reads per ask.

Optuna wraps an ``RDBStorage`` in ``_CachedStorage`` (finished trials kept in memory). Its
``Study.ask`` still reads the database twice more than the sweeper needs, every trial:

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

Everything else is ``_CachedStorage``'s own; ``get_storage`` keeps a ``BaseStorage`` as it is given.
"""
from __future__ import annotations

import copy
from typing import Any

from optuna.storages._cached_storage import _CachedStorage
from optuna.trial import FrozenTrial, TrialState


class SweepStorage(_CachedStorage):
    """``_CachedStorage`` over ``backend`` (an ``RDBStorage``), for the sweeper's own study object."""

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self._fresh: dict[int, FrozenTrial] = {}  # trial id -> the trial as this process created it

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        trial_id = super().create_new_trial(study_id, template_trial)
        if template_trial is None:  # ask's trial (enqueued ones come with a template and are read as before)
            number = self._trial_id_to_study_id_and_number[trial_id][1]
            self._fresh[trial_id] = self._studies[study_id].trials[number]
        return trial_id

    def get_trial(self, trial_id: int) -> FrozenTrial:
        fresh = self._fresh.pop(trial_id, None)  # served once: later reads see what was written since
        if fresh is not None:
            return copy.deepcopy(fresh)  # the caller (Trial) changes its copy as params are suggested
        return super().get_trial(trial_id)

    def get_all_trials(self, study_id: int, deepcopy: bool = True, states: Any = None) -> list[FrozenTrial]:
        if states is not None and tuple(states) == (TrialState.WAITING,) and not self._any_waiting(study_id):
            return []
        return super().get_all_trials(study_id, deepcopy=deepcopy, states=states)

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
