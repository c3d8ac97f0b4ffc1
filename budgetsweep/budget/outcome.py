"""What a launched trial came to: its Optuna state, its values, and the cost to charge.

The job's ``record.json`` is the evidence. Without one (an app that writes no records, or a job
killed by SIGKILL or the OOM killer) a time unit (``gpu_hours``) is charged the job's wall time,
which the sweeper measures itself (``job_timer``); a unit only the app can count (``examples``,
``flops``), or a job that left no timing either, is charged its whole reservation, so a crash can
never make money appear. A record still saying ``running`` only shows the cost at its last write,
so it is charged at least the reservation too. ``Outcome.measured`` says whether the charge was
measured (calibration learns only from those) and ``Outcome.charge_basis`` says why it is what it is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from budgetsweep.budget.job_timer import read_timing
from budgetsweep.budget.units import Unit, cost_in_unit, device_seconds
from budgetsweep.records import RunStatus

COMPLETE, PRUNED, FAIL = "COMPLETE", "PRUNED", "FAIL"
STATE_OF_STATUS = {RunStatus.COMPLETED: COMPLETE, RunStatus.PRUNED: PRUNED, RunStatus.BUDGET_STOPPED: PRUNED,
                   RunStatus.FAILED: FAIL}


@dataclass(frozen=True)
class Outcome:
    state: str
    values: list[float] | None
    status: str  # the record's status; "no_record" or "job_failed" without one
    actual: float
    record_path: str | None = None
    config_key: str | None = None
    label: str | None = None
    work: dict[str, float] = field(default_factory=dict)  # work done, for calibration
    error: str | None = None
    direction: str | None = None  # the record's objective direction
    measured: bool = True  # False: ``actual`` is the reservation, assumed, not measured
    charge_basis: str = "its record"  # what the charge is, for the log


def job_dir_of(ret: Any, fallback: str | None = None) -> str | None:
    """The job's output directory (where its record is), from a Hydra ``JobReturn``."""
    hydra_cfg = getattr(ret, "hydra_cfg", None)
    try:
        out = hydra_cfg.hydra.runtime.output_dir if hydra_cfg is not None else None
    except Exception:
        out = None
    return str(out) if out else (fallback or getattr(ret, "working_dir", None))


def _read(job_dir: str | None):
    """(record, path) or (None, path) when there is none or it cannot be read."""
    from budgetsweep.records import RECORD_FILE, read_record

    if not job_dir:
        return None, None
    path = Path(job_dir) / RECORD_FILE
    if not path.exists():
        return None, str(path.resolve())
    try:
        return read_record(path), str(path.resolve())
    except ValueError:
        return None, str(path.resolve())


def _values(value: Any, n_objectives: int) -> tuple[list[float] | None, str | None]:
    try:
        values = [float(value)] if n_objectives == 1 else [float(v) for v in value]
    except (TypeError, ValueError):
        kind = "float-castable" if n_objectives == 1 else f"a list of {n_objectives} float-castable values"
        return None, f"return value must be {kind}; got {value!r}"
    if len(values) != n_objectives:
        return None, f"return value has {len(values)} values for {n_objectives} objectives"
    if not all(math.isfinite(v) for v in values):
        return None, f"return value is not finite: {values}"
    return values, None


def _evidence(record, unit: str, reservation: float,
              job_dir: str | None = None) -> tuple[float, dict[str, float], bool, str]:
    """(charge, work, measured, basis) from a record.

    In ``gpu_hours`` the charge is the job's whole wall time (``job_timer``, from the job's start
    to its end, so start-up and the final record write are paid for) when that is more than the
    record's. A record that metered nothing in a unit only the app can count (``examples``,
    ``flops``: the run failed with ``UnmeteredCost``, or never counted) is charged its reservation:
    a charge of 0 would let the cap leak."""
    measured = record.cost.measured
    actual = cost_in_unit(measured, unit)
    work = {"flops": float(measured.flops or 0.0), "examples": float(measured.examples or 0),
            "device_seconds": device_seconds(measured)}
    startup = (record.info or {}).get("startup_seconds")
    if isinstance(startup, (int, float)) and startup >= 0:
        work["startup_seconds"] = float(startup)
    if (record.info or {}).get("eval_flops") is not None:
        # evaluation's forward passes take device time too: the gpu_hours rate is per FLOP of both
        work["eval_flops"] = float(record.info["eval_flops"])
    if record.status == RunStatus.RUNNING and reservation > actual:
        return reservation, work, False, "its reservation (its record still says running)"
    if unit != Unit.GPU_HOURS and actual <= 0 and reservation > 0:
        return reservation, work, False, f"its reservation (its record metered no {unit})"
    wall = read_timing(job_dir) if unit == Unit.GPU_HOURS else None
    devices = max(1, int(measured.device_count or 1))
    if wall is not None and wall * devices / 3600.0 > actual:
        work["device_seconds"] = wall * devices
        return wall * devices / 3600.0, work, True, "the job's wall time (its record's devices)"
    return actual, work, True, "its record"


def _without_record(job_dir: str | None, unit: str, reservation: float) -> tuple[float, dict, bool, str]:
    """(charge, work, measured, basis) of a job that left no record: its wall time in a time unit."""
    wall = read_timing(job_dir)
    if unit == Unit.GPU_HOURS and wall is not None:
        return wall / 3600.0, {"device_seconds": wall}, True, "the job's wall time (no record)"
    if unit == Unit.GPU_HOURS:
        return reservation, {}, False, "its reservation (no record, no timing)"
    return reservation, {}, False, f"its reservation (no record; only the app can count {unit})"


def from_job(ret: Any, *, n_objectives: int, unit: str, reservation: float,
             job_dir: str | None = None) -> Outcome:
    """The outcome of a job the launcher returned (a Hydra ``JobReturn``)."""
    from hydra.core.utils import JobStatus

    record, path = _read(job_dir_of(ret, job_dir))
    failed = getattr(ret, "status", None) == JobStatus.FAILED
    error = None
    if failed:
        exc = getattr(ret, "_return_value", None)
        error = f"{type(exc).__name__}: {exc}" if exc is not None else "job failed"
    if record is None:
        actual, work, measured, basis = _without_record(job_dir_of(ret, job_dir), unit, reservation)
        common = dict(work=work, measured=measured, charge_basis=basis)
        if failed:
            return Outcome(FAIL, None, "job_failed", actual, path, error=error, **common)
        values, problem = _values(ret.return_value, n_objectives)
        if problem:
            return Outcome(FAIL, None, "no_record", actual, path, error=problem, **common)
        return Outcome(COMPLETE, values, "no_record", actual, path, **common)
    actual, work, measured, basis = _evidence(record, unit, reservation, job_dir_of(ret, job_dir))
    common = dict(record_path=path, config_key=record.config_key, label=record.reduction_label, work=work,
                  direction=record.objective.direction, measured=measured, charge_basis=basis)
    state = STATE_OF_STATUS.get(record.status, FAIL)
    if failed or state == FAIL:
        return Outcome(FAIL, None, record.status, actual, error=error or record.error
                       or f"record status '{record.status}'", **common)
    if state == PRUNED:
        return Outcome(PRUNED, None, record.status, actual, **common)
    values, problem = _values(ret.return_value, n_objectives)
    if problem:
        return Outcome(FAIL, None, record.status, actual, error=problem, **common)
    return Outcome(COMPLETE, values, record.status, actual, **common)


def from_record_only(job_dir: str | None, *, n_objectives: int, unit: str, reservation: float) -> Outcome:
    """The outcome of a trial whose sweeper died while it ran (no ``JobReturn``): a completed record
    with its objective keeps its result; anything else fails. Charged what the record shows."""
    record, path = _read(job_dir)
    if record is None:
        actual, work, measured, basis = _without_record(job_dir, unit, reservation)
        return Outcome(FAIL, None, "no_record", actual, path, error="the sweeper died while the job ran; no record",
                       work=work, measured=measured, charge_basis=basis)
    actual, work, measured, basis = _evidence(record, unit, reservation, job_dir)
    common = dict(record_path=path, config_key=record.config_key, label=record.reduction_label, work=work,
                  direction=record.objective.direction, measured=measured, charge_basis=basis)
    value = record.objective.value
    if record.status == RunStatus.COMPLETED and n_objectives == 1 and value is not None and math.isfinite(value):
        return Outcome(COMPLETE, [float(value)], record.status, actual, **common)
    # a record left "running" by a job that died with its sweeper: the run failed, it is not running
    status = RunStatus.FAILED if record.status == RunStatus.RUNNING else record.status
    return Outcome(FAIL, None, status, actual, error=f"the sweeper died while the job ran; record status "
                   f"'{record.status}'", **common)


def close_running_record(record_path: str | None, error: str) -> None:
    """A record its job left ``running`` (the job died with its sweeper) says ``failed`` after
    recovery, with ``error`` and the metrics it had: no run stays ``running`` for ever."""
    import dataclasses
    from datetime import datetime, timezone

    from budgetsweep.records import read_record, write_record

    if not record_path or not Path(record_path).is_file():
        return
    try:
        record = read_record(record_path)
    except ValueError:
        return
    if record.status != RunStatus.RUNNING:
        return
    closed = dataclasses.replace(record, status=RunStatus.FAILED, error=record.error or error,
                                 ended_at=record.ended_at or datetime.now(timezone.utc).isoformat())
    write_record(Path(record_path).parent, closed)
