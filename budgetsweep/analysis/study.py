"""Load the runs of an Optuna study (the budget sweeper's storage) into the tidy run frame.

A trial whose user attribute ``record_path`` points at a readable record.json contributes
that record; any other trial contributes what the trial itself knows (params as config,
its value, its state as status). Optuna is imported here only, and lazily.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from budgetsweep import storage_url
from budgetsweep.budget import trial_attrs
from budgetsweep.records import STATUSES

from .load import RecordWarning, flatten, read_record_row
from .schema import CONFIG_PREFIX, METRIC_PREFIX, normalize_runs

# Optuna trial state -> record status
TRIAL_STATUS = {
    "COMPLETE": "completed",
    "PRUNED": "pruned",
    "FAIL": "failed",
    "RUNNING": "running",
}


def mask_url(url: str) -> str:
    """The storage URL with its password hidden, for messages and reports; an URL SQLAlchemy cannot
    parse is shown as ``<unparsable storage URL>`` (it may hold a password in any shape)."""
    return storage_url.mask_url(url, unparsable="<unparsable storage URL>")


def _check_sqlite_exists(url: str) -> None:
    # Opening a missing SQLite file would silently create an empty database; a report must not.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        if Path(url).is_file():  # a path to the database file: no secret in it, and the fix is one prefix
            raise ValueError(f"storage={url!r} is a file path, not a database URL: for an SQLite file write "
                             f"sqlite:///{url}") from exc
        raise ValueError(f"storage={mask_url(url)!r} is not a database URL (e.g. sqlite:///outputs/study.db)") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).exists():
            raise FileNotFoundError(f"storage={mask_url(url)!r}: the SQLite file {parsed.database!r} does not exist")


def _params_key(params: dict[str, Any]) -> str:
    # Only for trials that carry no config_key: a stable 12-hex digest of their params.
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:12]


def _cost_fields(cost: Any) -> dict[str, Any]:
    """The cost columns from a trial's ``cost`` attribute.

    Accepts the record's layout ({predicted_factor, predicted: {unit, value}, measured: {...}}) and
    the budget sweeper's flat one ({unit, predicted: number, actual, examples, flops, ...}).
    """
    if not isinstance(cost, dict):
        return {}
    measured = cost["measured"] if isinstance(cost.get("measured"), dict) else cost
    predicted = cost.get("predicted")
    if isinstance(predicted, dict):
        unit, value = predicted.get("unit"), predicted.get("value")
    else:
        unit, value = cost.get("unit"), predicted
    return {
        "predicted_factor": cost.get("predicted_factor"),
        "predicted_unit": unit,
        "predicted_cost": value,
        "wall_seconds": measured.get("wall_seconds"),
        "examples": measured.get("examples"),
        "flops": measured.get("flops"),
        "peak_memory_mb": measured.get("peak_memory_mb"),
        "device_kind": measured.get("device_kind"),
        "device_count": measured.get("device_count"),
    }


def _status(trial: Any) -> str:
    """The run status of a trial: the sweeper's ``status`` attribute when it is a record status
    (it tells budget_stopped from pruned), else the trial state's."""
    status = trial_attrs.status(trial)
    if status in STATUSES and status != "running" and trial.state.is_finished():
        return str(status)
    return TRIAL_STATUS.get(trial.state.name, "failed")


def trial_row(trial: Any, study_name: str, direction: str, objective_name: str) -> dict[str, Any]:
    """The flat row of a trial that has no readable record."""
    attrs = trial_attrs.run_fields(trial, objective_name)
    values = trial.values or [None]
    row: dict[str, Any] = {
        "config_key": attrs["config_key"] or _params_key(trial.params),
        "reduction_label": attrs["reduction_label"] or "unknown",
        "seed": attrs["seed"],
        "status": _status(trial),
        "objective_name": attrs["objective_name"],
        "objective_direction": direction,
        "objective_value": values[0],  # multi-objective studies: the first objective
        "started_at": trial.datetime_start.isoformat() if trial.datetime_start else None,
        "ended_at": trial.datetime_complete.isoformat() if trial.datetime_complete else None,
        "error": attrs["error"],
        "trial_number": trial.number,
        "study_name": study_name,
        "source": "study",
    }
    row.update(_cost_fields(attrs["cost"]))
    row.update(flatten(trial.params, CONFIG_PREFIX))
    metrics = attrs["metrics"]
    if isinstance(metrics, dict):
        row.update({f"{METRIC_PREFIX}{k}": v for k, v in metrics.items()})
    return row


def load_study_runs(storage: str, study_name: str) -> pd.DataFrame:
    """All trials of one study as runs; a trial with a readable ``record_path`` uses its record.

    WAITING trials (queued, or asked by the budget sweeper and put back because they did not fit)
    never ran and are left out.

    Raises FileNotFoundError for a missing SQLite file and ValueError for an unknown study
    (the message lists the studies the storage holds). The URL is shown password-masked.
    """
    if not isinstance(storage, str) or not storage:
        raise ValueError(f"storage={storage!r}; must be a database URL such as sqlite:///outputs/study.db")
    if not isinstance(study_name, str) or not study_name:
        raise ValueError(f"study={study_name!r}; must be the name of a study in {mask_url(storage)}")
    _check_sqlite_exists(storage)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError as exc:
        names = optuna.get_all_study_names(storage)
        raise ValueError(f"study={study_name!r} is not in storage {mask_url(storage)}; it holds {names}") from exc
    except Exception as exc:  # no server, no driver, bad credentials: one line, password masked
        first = (str(exc).strip().splitlines() or [""])[0].replace(storage, mask_url(storage))
        raise ValueError(f"cannot open storage {mask_url(storage)}: {type(exc).__name__}: {first}") from exc
    direction = study.directions[0].name.lower()
    objective_name = (study.metric_names or ["value"])[0]
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state.name == "WAITING":  # asked but never launched (or queued): not a run
            continue
        record_path = trial_attrs.record_path(trial)
        if record_path and Path(record_path).is_file():
            try:
                row = read_record_row(record_path)
            except ValueError as exc:
                warnings.warn(f"skipped record of trial {trial.number}, using the trial: {exc}", RecordWarning,
                              stacklevel=2)
                skipped.append(str(record_path))
            else:
                # a job killed mid-run leaves a "running" record; the finished trial knows better
                if row["status"] == "running" and trial.state.is_finished():
                    row["status"] = _status(trial)
                row.update(source="study", trial_number=trial.number, study_name=study_name)
                rows.append(row)
                continue
        rows.append(trial_row(trial, study_name, direction, objective_name))
    df = normalize_runs(pd.DataFrame(rows))
    df.attrs["skipped"] = len(skipped)
    df.attrs["skipped_files"] = skipped
    return df
