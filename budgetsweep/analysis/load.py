"""Load run records (``record.json`` under job directories) into the tidy run frame.

Reading is per file by nature (each decoded by msgspec into the fields analysis reads, or by
json.loads when msgspec cannot decode it exactly; a config text is decoded once for all the
records that share it); everything after it is one ``pd.DataFrame`` built from a tuple per record.
Many files are read by forked processes; threads only when reads wait for a device. Unreadable
records are skipped with a warning naming the file, and counted in ``df.attrs["skipped"]`` (the files in ``df.attrs["skipped_files"]``).
"""
from __future__ import annotations

import concurrent.futures
import itertools
import json
import os
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Union

import pandas as pd

from budgetsweep.records import DIRECTIONS, RECORD_FILE, SCHEMA_VERSION, STATUSES, read_metrics

from . import forked
from .schema import CONFIG_PREFIX, METRIC_PREFIX, normalize_runs

PathLike = Union[str, os.PathLike]


class RecordWarning(UserWarning):
    """A record.json that analysis could not read and skipped."""


def _as_paths(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def _job_records(root: Path) -> list[str]:
    """record.json files under ``root`` (a resolved directory).

    A directory holding a record.json is a job: it is not searched further (its subfolders are
    Hydra's bookkeeping, checkpoints, logs). Other directories are listed with ``os.scandir``, and
    each subdirectory costs one ``stat`` of its record.json, not a listing: 100k job folders are
    100k stats.
    """
    own = os.path.join(root, RECORD_FILE)
    if os.path.isfile(own):
        return [own]
    found: list[str] = []
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name == ".hydra" or not entry.is_dir():
                continue
            record = os.path.join(entry.path, RECORD_FILE)
            if os.path.isfile(record):
                found.append(record)
            else:
                stack.append(entry.path)
    return found


def find_records(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    """Every record.json under the given directories (any depth), or the given files; no duplicates.

    Sorted by path within each given directory. Raises FileNotFoundError for a path that does not exist.
    """
    found: dict[str, None] = {}
    for path in _as_paths(paths):
        if not path.exists():
            raise FileNotFoundError(f"run path {str(path)!r} does not exist; give a job, sweep or multirun directory")
        if path.is_file():
            found[str(path.resolve())] = None
            continue
        for record in sorted(_job_records(path.resolve())):
            found[record] = None
    return [Path(p) for p in found]


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to one level with dotted keys ({"optim": {"lr": 1}} -> {"optim.lr": 1})."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        # JSON scalars first: isinstance against the Mapping ABC is slow, and this runs per record
        if not isinstance(value, _SCALARS) and isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


_SCALARS = (str, int, float, list, type(None))


def _folder(path: str) -> str:
    """os.path.dirname of an absolute file path, without its generality (100k calls)."""
    cut = path.rfind(os.sep)
    return path[:cut] if cut > 0 else os.path.dirname(path)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


# The fixed columns of a record's row, in order (``record_row``); config.* and metric.* follow.
ROW_FIELDS = ("config_key", "reduction_label", "seed", "status", "objective_name", "objective_direction",
              "objective_value", "predicted_factor", "predicted_unit", "predicted_cost", "wall_seconds", "examples",
              "flops", "peak_memory_mb", "device_kind", "device_count", "started_at", "ended_at", "error",
              "trial_number", "study_name", "source", "path", "record_path", "learned")


# The parts of a record's row: (values of ROW_FIELDS, {config.<name>: value}, {metric name: value}).
# Records of one configuration share their config text, so the config columns are one dict per
# distinct text (decoded and flattened once), shared by those records' parts.
Parts = tuple[tuple, dict[str, Any], dict[str, Any]]


def _metric_values(metrics: Any) -> dict[str, Any]:
    return dict((metrics or {}).items())  # AttributeError for a metrics field that is not an object


def _record_parts(data: Any, record_path: str | None, source: str = "records") -> Parts:
    """(values of ROW_FIELDS, config.* columns, metrics) of one record dict; ValueError names
    what is wrong. Checks only what analysis reads, so a record with extra fields still loads."""
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
    fixed = (key, label, data.get("seed"), status, objective.get("name"), objective["direction"],
             objective.get("value"), cost.get("predicted_factor"), predicted.get("unit"), predicted.get("value"),
             measured.get("wall_seconds"), measured.get("examples"), measured.get("flops"),
             measured.get("peak_memory_mb"), measured.get("device_kind"), measured.get("device_count"),
             data.get("started_at"), data.get("ended_at"), data.get("error"), trial.get("number"),
             trial.get("study_name"), source,
             # os.path, not pathlib: this runs once per record file, 100k times in a large report
             os.path.dirname(record_path) if record_path is not None else None, record_path,
             # did the run beat its task's trivial baseline (learned / not_learned / unknown; None in older records)
             learned.get("verdict") if isinstance(learned := data.get("learned"), Mapping) else None)
    return fixed, flatten(data.get("config") or {}, CONFIG_PREFIX), _metric_values(data.get("metrics"))


def record_row(data: Any, record_path: PathLike | None = None, source: str = "records") -> dict[str, Any]:
    """One record dict (``RunRecord.to_dict()``) as a flat row; ValueError names what is wrong.

    Checks only what analysis reads, so a record with extra fields still loads.
    """
    fixed, config, metrics = _record_parts(data, os.fspath(record_path) if record_path is not None else None,
                                           source)
    return {**dict(zip(ROW_FIELDS, fixed)), **config, **{f"{METRIC_PREFIX}{k}": v for k, v in metrics.items()}}


# Decoding. json.loads builds every field of a ~4 KB record, most of which analysis never reads
# (recipe, full_recipe, reductions, versions, info): 100k records cost ~8 CPU seconds in it alone.
# msgspec (a real JSON parser) decodes into the few fields read and skips the others while still
# checking the whole text, ~8x faster. Whatever it does not decode exactly as json.loads would
# (NaN, which records may hold; a BOM; a lone surrogate; numbers out of float range; a field of an
# unexpected type) raises, and the record is then parsed by json.loads: one result for any layout,
# key order or writer. Without msgspec installed every record goes through json.loads.
try:
    import msgspec
except ImportError:  # pragma: no cover - msgspec is a dependency; json.loads is the fallback
    msgspec = None  # type: ignore[assignment]

if msgspec is not None:
    class _Objective(msgspec.Struct):
        name: Any = None
        direction: Any = None
        value: Any = None

    class _Predicted(msgspec.Struct):
        unit: Any = None
        value: Any = None

    class _Measured(msgspec.Struct):
        wall_seconds: Any = None
        examples: Any = None
        flops: Any = None
        peak_memory_mb: Any = None
        device_kind: Any = None
        device_count: Any = None

    class _Cost(msgspec.Struct):
        predicted_factor: Any = None
        predicted: Union[_Predicted, None] = None
        measured: Union[_Measured, None] = None

    class _Trial(msgspec.Struct):
        number: Any = None
        study_name: Any = None

    class _Learned(msgspec.Struct):
        verdict: Any = None

    class _Record(msgspec.Struct):
        """The fields of a record analysis reads; the others are checked as JSON and skipped."""
        schema_version: Any = None
        status: Any = None
        config_key: Any = None
        reduction_label: Any = None
        seed: Any = None
        objective: Union[_Objective, None] = None
        cost: Union[_Cost, None] = None
        # the text, checked as JSON: decoded and flattened once per distinct text (_config_columns)
        config: msgspec.Raw = msgspec.Raw(b"null")
        metrics: Union[dict, None] = None
        started_at: Any = None
        ended_at: Any = None
        error: Any = None
        trial: Union[_Trial, None] = None
        learned: Union[_Learned, None] = None

    _DECODER = msgspec.json.Decoder(_Record)
    _NO_COST, _NO_PREDICTED, _NO_MEASURED, _NO_TRIAL = _Cost(), _Predicted(), _Measured(), _Trial()


_CONFIGS: dict[bytes, dict[str, Any] | None] = {}  # config text -> its config.* columns (None: not msgspec's)
_MAX_CONFIGS = 100_000


def _config_columns(raw: Any) -> dict[str, Any] | None:
    """The config.* columns of a record's config text, decoded once per distinct text (the dict is
    shared by every record with that text); None when msgspec does not decode it exactly as
    json.loads would (NaN) or it is neither an object nor null."""
    text = bytes(raw)
    try:
        return _CONFIGS[text]
    except KeyError:
        pass
    try:
        config = msgspec.json.decode(text)
        columns = flatten(config or {}, CONFIG_PREFIX) if config is None or isinstance(config, dict) else None
    except msgspec.DecodeError:
        columns = None
    if len(_CONFIGS) >= _MAX_CONFIGS:
        _CONFIGS.clear()
    _CONFIGS[text] = columns
    return columns


def _decoded_parts(data: bytes, path: str) -> Parts | None:
    """The row parts by msgspec; None when it cannot decode the record or the record is invalid
    (json.loads and ``_record_parts`` then give the result, or the message naming the fault)."""
    if msgspec is None:
        return None
    try:
        r = _DECODER.decode(data)
    except msgspec.DecodeError:  # ValidationError included
        return None
    key, label, objective = r.config_key, r.reduction_label, r.objective
    # the checks of _record_parts; a record failing any of them takes the slow path for its message
    if not (r.schema_version == SCHEMA_VERSION and r.status in STATUSES and isinstance(key, str) and key != ""
            and isinstance(label, str) and label != "" and objective is not None
            and objective.direction in DIRECTIONS):
        return None
    cost = r.cost if r.cost is not None else _NO_COST
    measured = cost.measured if cost.measured is not None else _NO_MEASURED
    predicted = cost.predicted if cost.predicted is not None else _NO_PREDICTED
    trial = r.trial if r.trial is not None else _NO_TRIAL
    fixed = (key, label, r.seed, r.status, objective.name, objective.direction, objective.value,
             cost.predicted_factor, predicted.unit, predicted.value, measured.wall_seconds, measured.examples,
             measured.flops, measured.peak_memory_mb, measured.device_kind, measured.device_count, r.started_at,
             r.ended_at, r.error, trial.number, trial.study_name, "records", _folder(path), path,
             r.learned.verdict if r.learned is not None else None)
    config = _config_columns(r.config)
    if config is None:
        return None
    return fixed, config, r.metrics if r.metrics is not None else {}


def parse_record(data: bytes) -> Any:
    """The record's JSON text as Python objects (``json.loads``): the reference every faster path
    must agree with."""
    return json.loads(data)


_BLOCK = 1 << 16


def _read_bytes(path: str) -> bytes | OSError:
    """The file's bytes through os.open/os.read: no buffered file object per record (half the
    time of ``open().read()`` on cached files). An OSError is returned, not raised: the caller
    names the file."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            chunks = []
            while True:
                block = os.read(fd, _BLOCK)
                chunks.append(block)
                if len(block) < _BLOCK:  # a short read of a regular file is its end
                    return b"".join(chunks)
        finally:
            os.close(fd)
    except OSError as exc:
        return exc


def _parts_from_bytes(path: str, data: bytes | OSError) -> Parts:
    try:
        if isinstance(data, OSError):
            raise data
        parts = _decoded_parts(data, path)
        return parts if parts is not None else _record_parts(parse_record(data), path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"unreadable run record {path}: {exc}") from exc


def read_record_row(path: PathLike) -> dict[str, Any]:
    """The flat row of one record.json; ValueError (naming the file) when unreadable or invalid."""
    path = os.fspath(path)
    fixed, config, metrics = _parts_from_bytes(path, _read_bytes(path))
    return {**dict(zip(ROW_FIELDS, fixed)), **config, **{f"{METRIC_PREFIX}{k}": v for k, v in metrics.items()}}


def _rows_frame(fixed: list[tuple], configs: list[dict[str, Any]], metrics: list[dict[str, Any]]) -> pd.DataFrame:
    """One DataFrame from row parts: the fixed columns from tuples (no dict per row), the
    config.* columns from the (shared) config dicts, the metric.* columns from the metrics dicts."""
    frame = pd.DataFrame.from_records(fixed, columns=list(ROW_FIELDS)) if fixed else pd.DataFrame()
    # records of one sweep share their keys: one column per key, not a dict per row for pandas;
    # config dicts are shared per distinct config, so their keys come from the distinct ones
    config_keys = list(dict.fromkeys(k for c in {id(c): c for c in configs}.values() for k in c))
    metric_keys = list(dict.fromkeys(k for m in metrics for k in m))
    if config_keys or metric_keys:
        nan = float("nan")  # a key a record lacks: NaN, as pandas fills a list of dicts
        columns = {k: [c.get(k, nan) for c in configs] for k in config_keys}
        columns.update({f"{METRIC_PREFIX}{k}": [m.get(k, nan) for m in metrics] for k in metric_keys})
        frame = pd.concat([frame, pd.DataFrame(columns)], axis=1)
    return frame


IO_THREADS = 4  # reads in flight when files come from the disk rather than the page cache
PROBE = 256  # files read one by one first, to tell cached files from a slow disk or network file system
SLOW_READ = 50e-6  # seconds per file above which reading, not parsing, is the cost: use the threads
WAITS_PER_FILE = 0.25  # voluntary context switches per file read above which reads wait for a device


def _voluntary_switches() -> int | None:
    """Times this thread (this process where the OS has no per-thread count) gave up the CPU
    waiting, e.g. for a disk or a network file system; None where the OS does not say."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return None
    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    return resource.getrusage(who).ru_nvcsw


def _reads_wait(seconds_per_file: float, switches_per_file: float | None) -> bool:
    """Whether the probed reads waited for a device (use threads) rather than ran from the page cache.

    Slow wall time alone does not say so: on a machine busy with other work, cached reads are
    slow too because the process waits for a CPU, and threads then only add GIL hand-offs
    (measured 2.3x the CPU time at load 7 on 2 cores). A read that waits for a device sleeps
    (a voluntary context switch); one that waits for a CPU is preempted (an involuntary one).
    """
    if switches_per_file is None:
        return seconds_per_file > SLOW_READ
    return seconds_per_file > SLOW_READ and switches_per_file > WAITS_PER_FILE


_NOT_A_FILE = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


def _absent(path: str, data: bytes | OSError) -> bool:
    """The read found no record file there (nothing, or a folder), rather than an unreadable one."""
    if isinstance(data, _NOT_A_FILE):
        return True
    # a folder that may not be searched: no record file to speak of (find_records skips it alike)
    return isinstance(data, PermissionError) and not os.path.isfile(path)


def _read_rows(paths: list[str]) -> tuple[pd.DataFrame, list[tuple[str, str]], list[str]]:
    """(frame of the readable records, [(file, error)] of the unreadable ones, [files that do not
    exist]): the work of one process.

    The first PROBE files are read one by one. When those reads waited for a device
    (``_reads_wait``: files not in the page cache, a network file system), the rest are read by a
    few threads (a read releases the GIL, so files are fetched while earlier ones are parsed);
    otherwise threads would only add GIL hand-offs (measured 2x slower on cached files), and
    reading stays sequential.
    """
    fixed: list[tuple] = []
    configs: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    errors: list[tuple[str, str]] = []
    absent: list[str] = []
    start, switches = time.perf_counter(), _voluntary_switches()
    head = [_read_bytes(p) for p in paths[:PROBE]]
    after = _voluntary_switches()
    n_head = max(1, len(head))
    slow = _reads_wait((time.perf_counter() - start) / n_head,
                       None if switches is None or after is None else (after - switches) / n_head)
    pool = concurrent.futures.ThreadPoolExecutor(IO_THREADS) if slow and len(paths) > PROBE else None
    rest: Iterable[bytes | OSError] = (pool.map(_read_bytes, paths[PROBE:], chunksize=64) if pool is not None
                                       else map(_read_bytes, paths[PROBE:]))
    try:
        for record, data in zip(paths, itertools.chain(head, rest)):
            if isinstance(data, OSError) and _absent(record, data):
                absent.append(record)
                continue
            try:
                row, config, values = _parts_from_bytes(record, data)
            except ValueError as exc:
                errors.append((record, str(exc)))
                continue
            fixed.append(row)
            configs.append(config)
            metrics.append(values)
    finally:
        if pool is not None:
            pool.shutdown()
    return _rows_frame(fixed, configs, metrics), errors, absent


PARALLEL_FROM = 5000  # files; below this a second process costs more than it saves


def _read_all(paths: list[str], folders: list[str] | None = None
              ) -> tuple[list[pd.DataFrame], list[tuple[str, str]], list[str]]:
    """Read the records, in several forked processes when there are many files and CPUs.

    Parsing JSON is CPU-bound and holds the GIL, so threads would not help; each process returns
    one DataFrame (cheap to send back) in the order of ``paths``. ``folders``: the folder of each
    path (``os.path.dirname``), when the caller has them.
    """
    workers = min(forked.cpus(), 8)
    if workers < 2 or len(paths) < PARALLEL_FROM or not forked.can_fork():
        frame, errors, absent = _read_rows(paths)
        return [frame], errors, absent
    chunks = [paths[i::workers] for i in range(workers)]
    folder_chunks = [folders[i::workers] if folders is not None else [_folder(p) for p in chunk]
                     for i, chunk in enumerate(chunks)]
    with forked.pool(workers) as pool:
        pending = pool.map(_read_rows_to_send, chunks)  # the readers are forked and at work
        _import_analysis()
        results = list(pending)
    frames = [_received(f, chunk, where, errs, missing)
              for chunk, where, (f, errs, missing) in zip(chunks, folder_chunks, results)]
    errors = [e for _, errs, _ in results for e in errs]
    absent = [p for _, _, missing in results for p in missing]
    return frames, errors, absent


def _import_analysis() -> None:
    """Import what the analysis after reading needs, while forked readers work: scipy.stats
    (about 1 CPU second, imported lazily, ``ranks.stats``) would otherwise be imported alone
    after the records are read, with the other CPUs idle."""
    import scipy.stats  # noqa: F401


_PATH_COLUMNS = ("path", "record_path")


def _read_rows_to_send(paths: list[str]) -> tuple[pd.DataFrame, list[tuple[str, str]], list[str]]:
    """``_read_rows`` in a worker process, its frame made cheap to send back (pickled): without the
    path columns (the parent has the paths: ``_received``), and text columns that repeat (labels,
    statuses, config keys, timestamps) as categoricals, a code per row instead of a string."""
    frame, errors, absent = _read_rows(paths)
    if len(frame):
        frame = frame.drop(columns=list(_PATH_COLUMNS))
        for col in frame.columns:
            dtype = frame[col].dtype
            if pd.api.types.is_string_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype) \
                    and dtype != object and frame[col].nunique(dropna=False) * 2 < len(frame):
                frame[col] = frame[col].astype(pd.CategoricalDtype())
                frame.attrs.setdefault("categorical", {})[col] = str(frame[col].cat.categories.dtype)
    return frame, errors, absent


def _received(frame: pd.DataFrame, paths: list[str], folders: list[str], errors: list[tuple[str, str]],
              absent: list[str]) -> pd.DataFrame:
    """The frame ``_read_rows`` would have returned, from ``_read_rows_to_send``'s: text columns
    back to their dtype, the path columns from the files read (``paths`` and their ``folders``,
    less the failed ones)."""
    if not len(frame):
        return frame
    failed = {p for p, _ in errors}.union(absent)
    if failed:
        kept = [(p, f) for p, f in zip(paths, folders) if p not in failed]
        paths, folders = [p for p, _ in kept], [f for _, f in kept]
    for col, dtype in frame.attrs.pop("categorical", {}).items():
        frame[col] = frame[col].astype(dtype)
    frame.insert(ROW_FIELDS.index("path"), "path", folders)
    frame.insert(ROW_FIELDS.index("record_path"), "record_path", paths)
    return frame


_IN_FOLDER = os.sep + RECORD_FILE


def _subfolders(folder: str) -> list[str]:
    """Sub-directories of ``folder`` but Hydra's ``.hydra``, in listing order (load_runs sorts the
    rows once at the end); none when it cannot be listed."""
    try:
        with os.scandir(folder) as entries:
            return [e.path for e in entries if e.name != ".hydra" and e.is_dir()]
    except OSError:
        return []


def _find_and_read(paths: PathLike | Iterable[PathLike]) -> tuple[list[pd.DataFrame], list[tuple[str, str]],
                                                                  list[str]]:
    """The records under ``paths`` as ``find_records`` finds them, read as they are found: each
    sub-folder's record.json is opened directly (by the reading processes), without a stat first;
    a folder without one is listed and its sub-folders tried next, level by level. 100k job
    folders cost 100k opens, not 100k stats and then 100k opens.

    Returns (frames, [(file, error)], the given paths resolved).
    """
    root_of: dict[str, int] = {}  # every file tried: read once, whichever given paths lead to it
    resolved_roots: list[str] = []
    files: list[str] = []  # named or found for sure: a failed read is an error
    tries: list[str] = []  # a sub-folder's record.json that may not exist
    folders: list[str] = []  # the folder of each of tries
    for i, path in enumerate(_as_paths(paths)):
        if not path.exists():
            raise FileNotFoundError(f"run path {str(path)!r} does not exist; give a job, sweep or multirun directory")
        resolved = str(path.resolve())
        resolved_roots.append(resolved)
        own = os.path.join(resolved, RECORD_FILE)
        if path.is_file() or os.path.isfile(own):
            record = resolved if path.is_file() else own
            if record not in root_of:
                root_of[record] = i
                files.append(record)
            continue
        for folder in _subfolders(resolved):
            record = folder + _IN_FOLDER  # not os.path.join: 100k joins cost half a second
            if record not in root_of:
                root_of[record] = i
                tries.append(record)
                folders.append(folder)
    frames, errors, absent = _read_all(files + tries, [os.path.dirname(f) for f in files] + folders)
    named = set(files)
    errors += [(p, f"unreadable run record {p}: no such file") for p in absent if p in named]
    pending = [p for p in absent if p not in named]
    while pending:  # folders without a record: their sub-folders, one level further down
        tries, folders = [], []
        for record in pending:
            for folder in _subfolders(os.path.dirname(record)):
                found = folder + _IN_FOLDER
                if found not in root_of:
                    root_of[found] = root_of[record]
                    tries.append(found)
                    folders.append(folder)
        more, more_errors, pending = _read_all(tries, folders) if tries else ([], [], [])
        frames += more
        errors += more_errors
    return frames, errors, resolved_roots


def _find_order(files: list[str], roots: list[str]) -> list[int]:
    """Row order of find_records: by the first given path (resolved) holding the file, then by file."""
    prefixes = [(root.rstrip(os.sep) + os.sep, root) for root in roots]

    def root_of(path: str) -> int:
        for i, (prefix, root) in enumerate(prefixes):
            if path.startswith(prefix) or path == root:
                return i
        return len(prefixes)

    if len(prefixes) == 1:
        return sorted(range(len(files)), key=files.__getitem__)
    keys = [(root_of(f), f) for f in files]
    return sorted(range(len(files)), key=keys.__getitem__)


def load_runs(paths: PathLike | Iterable[PathLike]) -> pd.DataFrame:
    """All runs under ``paths`` (job, sweep or multirun directories, or record.json files).

    One row per run; unreadable records are skipped with a ``RecordWarning`` naming the file.
    Raises FileNotFoundError for a path that does not exist.
    """
    frames, errors, roots = _find_and_read(paths)
    for _, message in sorted(errors):
        warnings.warn(f"skipped: {message}", RecordWarning, stacklevel=2)
    frames = [f for f in frames if len(f)]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(df):  # the order of find_records: by given path, then by file (processes read interleaved slices)
        df = df.iloc[_find_order(df["record_path"].tolist(), roots)].reset_index(drop=True)
    df = normalize_runs(df)
    skipped = sorted(p for p, _ in errors)
    df.attrs["skipped"] = len(skipped)
    df.attrs["skipped_files"] = skipped
    return df


def load_curves(runs: pd.DataFrame) -> pd.DataFrame:
    """The metrics.jsonl histories of the given runs, long format (one row per evaluation).

    Adds the run's config_key, reduction_label, seed and path to every row; runs without a
    history (e.g. rows built from an Optuna trial) contribute nothing.
    """
    ids = ["config_key", "reduction_label", "seed", "path"]
    rows: list[dict[str, Any]] = []
    for path in runs["path"].dropna().unique():
        # read_metrics returns [] for a missing file; one DataFrame for all rows, not one per run
        rows.extend({**row, "path": path} for row in read_metrics(path))
    if not rows:
        return pd.DataFrame(columns=ids)
    curves = pd.DataFrame(rows)
    return curves.merge(runs[ids].drop_duplicates("path"), on="path", how="left")
