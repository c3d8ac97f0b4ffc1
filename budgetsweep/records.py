"""RunRecord: the one contract between jobs, the sweeper and analysis.

A record is plain JSON (``record.json`` in the job directory), versioned by
``schema_version`` and written atomically so a reader never sees half a file.
"""
from __future__ import annotations

import enum
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"
METRICS_FILE = "metrics.jsonl"



class RunStatus(enum.StrEnum):
    """A run's status: the one vocabulary of records, the sweeper and analysis.

    A ``StrEnum``, so a member equals its string (``RunStatus.FAILED == "failed"``) and JSON holds
    the plain string. ``RUNNING`` is written when a run starts: a record left ``running`` tells a
    reader the job died without finalising it (SIGKILL, a power cut).
    """

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # an exception, a NaN loss, a bad config, SIGTERM/SIGINT (the error names it)
    PRUNED = "pruned"  # the sweeper's pruner stopped it
    BUDGET_STOPPED = "budget_stopped"  # its measured cost passed its reservation

    @classmethod
    def parse(cls, value, key: str = "status") -> "RunStatus":
        """``value`` as a RunStatus; ValueError naming ``key``, the value and the allowed ones."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"{key}={value!r} is not a run status; allowed: {STATUSES}") from None


STATUSES = tuple(s.value for s in RunStatus)  # plain strings, for messages and pandas columns
DIRECTIONS = ("minimize", "maximize")


@dataclass
class Objective:
    name: str
    direction: str
    value: float | None = None

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(
                f"objective direction={self.direction!r} for metric {self.name!r}; allowed: {DIRECTIONS}"
            )


@dataclass
class MeasuredCost:
    wall_seconds: float = 0.0
    examples: int = 0
    flops: float = 0.0
    peak_memory_mb: float | None = None
    peak_memory_source: str | None = None
    device_kind: str = "cpu"
    device_count: int = 1


@dataclass
class Cost:
    predicted_factor: float = 1.0
    predicted: dict[str, float] | None = None  # sweeper's prediction in its unit, when run by it
    measured: MeasuredCost = field(default_factory=MeasuredCost)


@dataclass
class RunRecord:
    status: RunStatus
    config_key: str
    config: dict[str, Any]
    overrides: list[str]
    recipe: dict[str, Any]
    full_recipe: dict[str, Any]
    reductions: list[dict[str, Any]]
    reduction_label: str
    seed: int
    objective: Objective
    metrics: dict[str, float] = field(default_factory=dict)
    cost: Cost = field(default_factory=Cost)
    versions: dict[str, str] = field(default_factory=dict)
    started_at: str | None = None
    ended_at: str | None = None
    error: str | None = None
    trial: dict[str, Any] | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # task facts: split sizes, known optimum, ...
    # why this run may mislead (budgetsweep.guards), one sentence each; absent in older records: []
    warnings: list[str] = field(default_factory=list)
    # the objective against the task's trivial baseline: {verdict: learned|not_learned|unknown, value,
    # baseline, margin, threshold, source} (budgetsweep.guards.learned_verdict); absent in older records: None
    learned: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self.status = RunStatus.parse(self.status, "record status")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunRecord":
        data = dict(data)
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"record schema_version={version!r}; this budgetsweep reads {SCHEMA_VERSION}")
        data["objective"] = Objective(**data["objective"])
        cost = dict(data.get("cost") or {})
        cost["measured"] = MeasuredCost(**(cost.get("measured") or {}))
        data["cost"] = Cost(**cost)
        return cls(**data)


def temp_file_beside(path: Path) -> tuple[int, str]:
    """Create a new temp file in ``path``'s folder for an atomic write; returns (fd, its path).

    Mode 0666 minus the process umask, like any file ``open()`` creates (``tempfile.mkstemp`` makes
    it 0600, so a colleague's report on a shared folder could not read the renamed record).
    """
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), str(tmp)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file and rename, so readers never see a partial
    file. The file's mode honours the umask, as any other output's."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """``write_text_atomic`` of ``data`` as indented JSON (NaN kept, other objects as text)."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, allow_nan=True, default=str))


def write_record(run_dir: str | os.PathLike, record: RunRecord) -> Path:
    path = Path(run_dir) / RECORD_FILE
    write_json_atomic(path, record.to_dict())
    return path


def read_record(path: str | os.PathLike) -> RunRecord:
    """Read a record.json (or the record in a job directory); raises ValueError when unreadable."""
    path = Path(path)
    if path.is_dir():
        path = path / RECORD_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return RunRecord.from_dict(data)
    except (OSError, json.JSONDecodeError, TypeError, KeyError) as exc:
        raise ValueError(f"unreadable run record {path}: {exc}") from exc


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The per-evaluation history of a run; a truncated last line (crash mid-write) is dropped."""
    path = Path(run_dir) / METRICS_FILE
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
