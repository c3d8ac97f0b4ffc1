"""Every attribute the budget sweeper keeps on Optuna trials and studies: written and read here only.

Trial user attributes (what optuna-dashboard shows; flat ones sort):

| key | value |
|---|---|
| ``status`` | the record's status (completed, pruned, budget_stopped, failed), or no_record, |
|            | job_failed, not_launched, invalid_config |
| ``cost_actual``, ``cost_predicted``, ``cost_unit`` | charged, reserved (null without a limit), unit |
| ``cost`` | the same and more: basis of the prediction, whether the charge was measured, work done |
| ``record_path``, ``config_key``, ``reduction_label`` | where the job's record is, and what it ran |
| ``note``, ``error`` | why a trial ended as it did |
| ``budgetsweep:owner`` | the sweeper holding a trial that waits unreserved |

Study user attributes: ``budget_unit``, ``budget_limit`` (null: no cap), ``budget_spent``,
``budgetsweep:identity`` (see ``study_identity``) and ``budgetsweep:pruner`` (``optuna_objects``).
Trial system attribute ``grid_id``: Optuna's GridSampler's point, reassigned by ``TrialBook``
when several sweepers share a grid.

``TrialBook`` is the sweeper's writer (bound to one study and its storage); the module functions
read a ``FrozenTrial`` for the sweeper's calibration and summary and for ``analysis.study``.
"""
from __future__ import annotations

from typing import Any

from budgetsweep.budget.cost_model import Observation
from budgetsweep.records import RunStatus

OWNER = "budgetsweep:owner"
GRID_ID = "grid_id"  # Optuna's GridSampler's system attribute
NOT_LAUNCHED = "not_launched"  # asked, never ran: the trial waits (Optuna state WAITING)
INVALID_CONFIG = "invalid_config"
NO_RECORD = "no_record"  # the job wrote no record.json (outcome.py)
STATUS, NOTE, ERROR = "status", "note", "error"


def _rdb(storage):
    """The RDBStorage under Optuna's cache, or None for another storage."""
    from optuna.storages import RDBStorage

    backend = getattr(storage, "_backend", storage)
    return backend if isinstance(backend, RDBStorage) else None


def _upsert(session, engine_name: str, model_cls, owner: dict[str, int], values: dict[str, Any]) -> bool:
    """Every key of ``values`` as a row of ``model_cls`` (owner: its ``trial_id`` or ``study_id``), in one
    multi-row INSERT ... ON CONFLICT UPDATE on SQLite and PostgreSQL (the statement Optuna runs per key);
    False on another dialect (nothing done)."""
    import json

    import sqlite3

    if engine_name == "sqlite" and sqlite3.sqlite_version_info >= (3, 24, 0):  # its first with upserts
        from sqlalchemy.dialects.sqlite import insert
    elif engine_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        return False
    (column,) = owner
    stmt = insert(model_cls).values([{**owner, "key": key, "value_json": json.dumps(value)}
                                     for key, value in values.items()])
    session.execute(stmt.on_conflict_do_update(index_elements=[getattr(model_cls, column), model_cls.key],
                                               set_={"value_json": stmt.excluded.value_json}))
    return True


def _write_all(storage, values: dict[str, Any], *, one, check, model, owner: dict[str, int], in_session) -> None:
    """``values`` as attributes of one trial or study (``owner``: ``{"trial_id": id}`` or ``{"study_id": id}``),
    in one transaction: on an RDB storage ``check(rdb, session)`` (that the owner exists and may be updated, as
    Optuna checks) and one upsert of every key into ``model``, or ``in_session(rdb, session, key, value)`` key by
    key on another dialect (Optuna checks and writes key by key: two statements each); on any other storage
    key by key through its public API, ``one(key, value)``."""
    rdb = _rdb(storage)
    if rdb is None:
        for key, value in values.items():
            one(key, value)
        return
    from optuna.storages._rdb.storage import _create_scoped_session

    from budgetsweep.budget.storage_retry import call_retrying

    def write() -> None:
        with _create_scoped_session(rdb.scoped_session, True) as session:
            found = check(rdb, session)
            if not _upsert(session, rdb.engine.name, model, owner, values):
                for key, value in values.items():
                    in_session(rdb, session, found, key, value)

    call_retrying(write, what="the study's storage (attributes)")  # one transaction: a failed try wrote nothing


def _set(storage, trial_id: int, values: dict[str, Any]) -> None:
    """Trial user attributes, in one transaction."""
    from optuna.storages._rdb import models

    def check(rdb, session):
        trial = models.TrialModel.find_or_raise_by_id(trial_id, session)
        rdb.check_trial_is_updatable(trial_id, trial.state)
        return trial

    _write_all(storage, values, one=lambda key, value: storage.set_trial_user_attr(trial_id, key, value),
               check=check, model=models.TrialUserAttributeModel, owner={"trial_id": trial_id},
               in_session=lambda rdb, session, _trial, key, value: rdb._set_trial_attr_without_commit(
                   session, models.TrialUserAttributeModel, trial_id, key, value))


def write_result(storage, trial_id: int, *, status: str, unit: str, predicted: float | None, actual: float,
                 basis: str | None, measured: bool, charge: str, work: dict[str, float],
                 record_path: str | None, config_key: str | None, label: str, note: str | None = None,
                 error: str | None = None) -> None:
    """A finished trial's result and cost."""
    cost = {"unit": unit, "predicted": predicted, "actual": actual, "basis": basis, "measured": measured,
            "charge": charge, **work}
    values = {"record_path": record_path, "config_key": config_key, "reduction_label": label, "cost": cost,
              "cost_actual": actual, "cost_predicted": predicted, "cost_unit": unit, STATUS: status}
    if note:
        values[NOTE] = note
    if error:
        values[ERROR] = error[:2000]
    _set(storage, trial_id, values)


def write_status(storage, trial_id: int, status: str, *, note: str | None = None, error: str | None = None) -> None:
    values: dict[str, Any] = {STATUS: status}
    if note:
        values[NOTE] = note
    if error:
        values[ERROR] = error[:2000]
    _set(storage, trial_id, values)


def write_owner(storage, trial_id: int, owner: str) -> None:
    storage.set_trial_user_attr(trial_id, OWNER, owner)


def owner(trial) -> str | None:
    return trial.user_attrs.get(OWNER)


def status(trial) -> str | None:
    return trial.user_attrs.get(STATUS)


def observation(trial, unit: str) -> Observation | None:
    """What the cost model learns from a finished trial (a FrozenTrial), or None."""
    cost = trial.user_attrs.get("cost")
    if not isinstance(cost, dict) or cost.get("actual") is None or cost.get("unit") != unit:
        return None
    state = trial.state.name
    st = status(trial)
    return Observation(
        label=str(trial.user_attrs.get("reduction_label") or "default"), cost=float(cost["actual"]),
        completed=st in (RunStatus.COMPLETED, NO_RECORD) and state == "COMPLETE",
        flops=float(cost.get("flops") or 0.0) + float(cost.get("eval_flops") or 0.0),
        device_seconds=float(cost.get("device_seconds") or 0.0),
        measured=bool(cost.get("measured", True)), censored=st == RunStatus.BUDGET_STOPPED,
        startup_seconds=float(cost.get("startup_seconds") or 0.0))


def summary_info(trial) -> dict[str, Any]:
    """number -> this, for budgetsweep.budget.summary.build_summary."""
    cost = trial.user_attrs.get("cost") or {}
    return {"state": trial.state.name, "status": status(trial), "label": trial.user_attrs.get("reduction_label"),
            "basis": cost.get("basis"), "predicted": cost.get("predicted"), "measured": cost.get("measured")}


def _write_study_budget(storage, study_id: int, *, unit: str, limit: float | None, spent: float) -> None:
    """Study user attributes ``budget_*``, in one transaction."""
    import json

    from optuna.storages._rdb import models

    def in_session(rdb, session, study, key, value) -> None:
        row = models.StudyUserAttributeModel.find_by_study_and_key(study, key, session)
        if row is None:
            session.add(models.StudyUserAttributeModel(study_id=study_id, key=key, value_json=json.dumps(value)))
        else:
            row.value_json = json.dumps(value)

    _write_all(storage, {"budget_unit": unit, "budget_limit": limit, "budget_spent": spent},
               one=lambda key, value: storage.set_study_user_attr(study_id, key, value),
               check=lambda rdb, session: models.StudyModel.find_or_raise_by_id(study_id, session),
               model=models.StudyUserAttributeModel, owner={"study_id": study_id}, in_session=in_session)


# -- what analysis reads ------------------------------------------------------------------------
def record_path(trial) -> str | None:
    return trial.user_attrs.get("record_path")


def run_fields(trial, objective_name: str | None = None) -> dict[str, Any]:
    """What a trial without a readable record tells about its run: config_key, reduction_label,
    seed, objective_name, error, cost (the flat dict of ``write_result``), metrics, status
    (None where absent; seed falls back to a ``seed`` parameter, objective_name to the given one)."""
    attrs = trial.user_attrs
    return {"config_key": attrs.get("config_key"), "reduction_label": attrs.get("reduction_label"),
            "seed": attrs.get("seed", trial.params.get("seed")), "objective_name": attrs.get("objective_name", objective_name),
            "error": attrs.get(ERROR), "cost": attrs.get("cost"), "metrics": attrs.get("metrics"),
            "status": status(trial)}


# -- the sweeper's writer -----------------------------------------------------------------------
class TrialBook:
    """Every write of the budget sweeper's trial and study attributes, for one study.

    ``trial`` arguments are a trial number or an Optuna ``Trial``/``FrozenTrial``; ids are looked
    up once per number through the storage's public API and kept.
    """

    def __init__(self, storage, study_name: str) -> None:
        self.storage = storage
        self.study_id = storage.get_study_id_from_name(study_name)
        self._ids: dict[int, int] = {}

    def trial_id(self, trial) -> int:
        number = trial if isinstance(trial, int) else trial.number
        if number not in self._ids:
            known = getattr(trial, "_trial_id", None)  # an Optuna Trial/FrozenTrial knows it: no query
            self._ids[number] = known if isinstance(known, int) else \
                self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)
        return self._ids[number]

    def write_user_attrs(self, trial, values: dict[str, Any]) -> None:
        """User attributes of an asked trial (a sweep's fixed parameters), in one transaction."""
        if values:
            _set(self.storage, self.trial_id(trial), values)

    def write_result(self, trial, **fields: Any) -> None:
        """A finished trial's result and cost; ``fields`` as ``write_result``'s."""
        write_result(self.storage, self.trial_id(trial), **fields)

    def write_status(self, trial, status: str, *, note: str | None = None, error: str | None = None) -> None:
        write_status(self.storage, self.trial_id(trial), status, note=note, error=error)

    def write_owner(self, trial, owner: str) -> None:
        write_owner(self.storage, self.trial_id(trial), owner)

    def take_over(self, trial, owner: str) -> None:
        """A trial popped from the queue that another sweeper had named: it is ``owner``'s now."""
        # the attributes as asked (Optuna's Trial keeps them): Trial.user_attrs would read the trial again
        known = getattr(trial, "_cached_frozen_trial", trial).user_attrs.get(OWNER)
        if known is not None and known != owner:
            self.write_owner(trial, owner)

    def wait(self, trial, why: str) -> None:
        """The trial never ran: status ``not_launched`` and back to Optuna's queue (WAITING)."""
        from optuna.trial import TrialState

        trial_id = self.trial_id(trial)
        write_status(self.storage, trial_id, NOT_LAUNCHED, note=why)
        self.storage.set_trial_state_values(trial_id, TrialState.WAITING)

    def grid_id(self, trial) -> int | None:
        return self.storage.get_trial_system_attrs(self.trial_id(trial)).get(GRID_ID)

    def set_grid_id(self, trial, grid_id: int) -> None:
        self.storage.set_trial_system_attr(self.trial_id(trial), GRID_ID, grid_id)

    def write_study_budget(self, *, unit: str, limit: float | None, spent: float) -> None:
        _write_study_budget(self.storage, self.study_id, unit=unit, limit=limit, spent=spent)
