"""Load run records (``record.json`` under job directories) into the tidy run frame.

Reading is per file by nature; everything after it is one ``pd.DataFrame`` built from a list of
flat dicts. Unreadable records are skipped with a warning naming the file, and counted in
``df.attrs["skipped"]`` (the files in ``df.attrs["skipped_files"]``).
"""
from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Union

import pandas as pd

from budgetsweep.records import DIRECTIONS, METRICS_FILE, RECORD_FILE, SCHEMA_VERSION, STATUSES, read_metrics

from .schema import CONFIG_PREFIX, METRIC_PREFIX, normalize_runs

PathLike = Union[str, os.PathLike]


class RecordWarning(UserWarning):
    """A record.json that analysis could not read and skipped."""


def _as_paths(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def find_records(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    """Every record.json under the given directories (any depth), or the given files; no duplicates."""
    found: dict[Path, None] = {}
    for path in _as_paths(paths):
        if not path.exists():
            raise FileNotFoundError(f"run path {str(path)!r} does not exist; give a job, sweep or multirun directory")
        if path.is_file():
            found[path.resolve()] = None
            continue
        for rec in sorted(path.rglob(RECORD_FILE)):
            if ".hydra" not in rec.parts:  # Hydra's own bookkeeping, never a run
                found[rec.resolve()] = None
    return list(found)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to one level with dotted keys ({"optim": {"lr": 1}} -> {"optim.lr": 1})."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def record_row(data: Any, record_path: PathLike | None = None, source: str = "records") -> dict[str, Any]:
    """One record dict (``RunRecord.to_dict()``) as a flat row; ValueError names what is wrong.

    Checks only what analysis reads, so a record with extra fields still loads.
    """
    _require(isinstance(data, Mapping), f"record is a {type(data).__name__}, not a JSON object")
    version = data.get("schema_version")
    _require(version == SCHEMA_VERSION, f"schema_version={version!r}; this budgetsweep reads {SCHEMA_VERSION}")
    status = data.get("status")
    _require(status in STATUSES, f"status={status!r}; allowed: {STATUSES}")
    key = data.get("config_key")
    _require(isinstance(key, str) and key != "", f"config_key={key!r}; must be a non-empty string")
    label = data.get("reduction_label")
    _require(isinstance(label, str) and label != "", f"reduction_label={label!r}; must be a non-empty string")
    objective = data.get("objective")
    _require(isinstance(objective, Mapping), f"objective={objective!r}; must be an object with name and direction")
    _require(objective.get("direction") in DIRECTIONS,
             f"objective.direction={objective.get('direction')!r}; allowed: {DIRECTIONS}")
    cost = data.get("cost") or {}
    measured = cost.get("measured") or {}
    predicted = cost.get("predicted") or {}
    trial = data.get("trial") or {}
    row = {
        "config_key": key,
        "reduction_label": label,
        "seed": data.get("seed"),
        "status": status,
        "objective_name": objective.get("name"),
        "objective_direction": objective["direction"],
        "objective_value": objective.get("value"),
        "predicted_factor": cost.get("predicted_factor"),
        "predicted_unit": predicted.get("unit"),
        "predicted_cost": predicted.get("value"),
        "wall_seconds": measured.get("wall_seconds"),
        "examples": measured.get("examples"),
        "flops": measured.get("flops"),
        "peak_memory_mb": measured.get("peak_memory_mb"),
        "device_kind": measured.get("device_kind"),
        "device_count": measured.get("device_count"),
        "started_at": data.get("started_at"),
        "ended_at": data.get("ended_at"),
        "error": data.get("error"),
        "trial_number": trial.get("number"),
        "study_name": trial.get("study_name"),
        "source": source,
        "path": str(Path(record_path).parent) if record_path is not None else None,
        "record_path": str(record_path) if record_path is not None else None,
    }
    row.update(flatten(data.get("config") or {}, CONFIG_PREFIX))
    row.update({f"{METRIC_PREFIX}{k}": v for k, v in (data.get("metrics") or {}).items()})
    return row


def read_record_row(path: PathLike) -> dict[str, Any]:
    """The flat row of one record.json; ValueError (naming the file) when unreadable or invalid."""
    path = Path(path)
    try:
        return record_row(json.loads(path.read_text(encoding="utf-8")), path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"unreadable run record {path}: {exc}") from exc


def load_runs(paths: PathLike | Iterable[PathLike]) -> pd.DataFrame:
    """All runs under ``paths`` (job, sweep or multirun directories, or record.json files).

    One row per run; unreadable records are skipped with a ``RecordWarning`` naming the file.
    Raises FileNotFoundError for a path that does not exist.
    """
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for record in find_records(paths):
        try:
            rows.append(read_record_row(record))
        except ValueError as exc:
            warnings.warn(f"skipped: {exc}", RecordWarning, stacklevel=2)
            skipped.append(str(record))
    df = normalize_runs(pd.DataFrame(rows))
    df.attrs["skipped"] = len(skipped)
    df.attrs["skipped_files"] = skipped
    return df


def load_curves(runs: pd.DataFrame) -> pd.DataFrame:
    """The metrics.jsonl histories of the given runs, long format (one row per evaluation).

    Adds the run's config_key, reduction_label, seed and path to every row; runs without a
    history (e.g. rows built from an Optuna trial) contribute nothing.
    """
    ids = ["config_key", "reduction_label", "seed", "path"]
    frames = []
    for path in runs["path"].dropna().unique():
        if not (Path(path) / METRICS_FILE).exists():
            continue
        history = read_metrics(path)
        if history:
            frames.append(pd.DataFrame(history).assign(path=path))
    if not frames:
        return pd.DataFrame(columns=ids)
    curves = pd.concat(frames, ignore_index=True)
    return curves.merge(runs[ids].drop_duplicates("path"), on="path", how="left")
