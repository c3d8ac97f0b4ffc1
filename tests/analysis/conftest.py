"""Fixtures that write synthetic run records (record.json + metrics.jsonl) the way jobs do."""
from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from budgetsweep.analysis.load import record_row
from budgetsweep.analysis.schema import normalize_runs

PROXY = "data_subset(fraction=0.1)"


def make_record(
    config_key: str = "c0",
    label: str = "full",
    seed: int = 0,
    value: float | None = 1.0,
    *,
    direction: str = "minimize",
    name: str = "val_loss",
    status: str = "completed",
    examples: float = 1000.0,
    wall: float = 10.0,
    flops: float = 1e9,
    factor: float = 1.0,
    config: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
) -> dict[str, Any]:
    """A record dict as ``RunRecord.to_dict()`` writes it."""
    reductions = [{"name": "full", "target": "budgetsweep.reductions.full.Full", "params": {},
                   "predicted_cost_factor": 1.0}] if label == "full" else [
        {"name": "data_subset", "target": "budgetsweep.reductions.data_subset.DataSubset",
         "params": {"fraction": factor}, "predicted_cost_factor": factor}]
    return {
        "status": status,
        "config_key": config_key,
        "config": config if config is not None else {"optim.lr": 0.01, "model.hidden": 64},
        "overrides": [f"seed={seed}"],
        "recipe": {},
        "full_recipe": {},
        "reductions": reductions,
        "reduction_label": label,
        "seed": seed,
        "objective": {"name": name, "direction": direction, "value": value},
        "metrics": metrics if metrics is not None else ({name: value} if value is not None else {}),
        "cost": {"predicted_factor": factor, "predicted": None,
                 "measured": {"wall_seconds": wall, "examples": examples, "flops": flops, "peak_memory_mb": None,
                              "peak_memory_source": None, "device_kind": "cpu", "device_count": 1}},
        "versions": {"budgetsweep": "0.1.0", "python": "3.11"},
        "started_at": "2026-01-01T00:00:00+00:00",
        "ended_at": "2026-01-01T00:01:00+00:00",
        "error": None,
        "trial": None,
        "artifacts": {},
        "schema_version": 1,
    }


def history(value: float, steps: int = 4, name: str = "val_loss", examples_per_step: int = 100) -> list[dict]:
    """A metrics.jsonl history that ends at ``value``."""
    return [{"step": s, "examples": s * examples_per_step, "epoch": s, "lr": 0.01, "train_loss": value + 1.0 / s,
             name: value + 0.5 / s, "wall_seconds": float(s)} for s in range(1, steps + 1)]


N_CONFIGS = 12  # configurations of study_dirs: enough for a confident verdict (MIN_CONFIGS_VERDICT)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def fast_figures(monkeypatch):
    """Figures are drawn but not rasterised (a stub PNG): for tests about everything but the images."""
    import budgetsweep.analysis.report as report

    monkeypatch.setattr(report, "png_bytes", lambda fig: PNG_MAGIC)


@pytest.fixture(name="make_record")
def make_record_fixture():
    """make_record(config_key, label, seed, value, **kw) -> a record dict."""
    return make_record


@pytest.fixture(name="history")
def history_fixture():
    """history(value, steps=4) -> metrics.jsonl rows ending at value."""
    return history


_counter = itertools.count()


def write_job(root: Path, record: dict[str, Any], metrics: list[dict] | None = None, name: str | None = None) -> Path:
    """Write record.json (and metrics.jsonl) into root/<name or a fresh number>; returns the job directory."""
    job = Path(root) / (name or str(next(_counter)))
    job.mkdir(parents=True, exist_ok=True)
    (job / "record.json").write_text(json.dumps(record, indent=2))
    if metrics is not None:
        (job / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    return job


@pytest.fixture
def write_run():
    """write_run(root, record, history=None, name=None) -> the job directory holding record.json."""
    return write_job


def runs_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Records straight to a run frame (the loader's row builder, no files)."""
    return normalize_runs(pd.DataFrame([record_row(r) for r in records]))


@pytest.fixture
def runs():
    """runs(records) -> run frame."""
    return runs_frame


def table_runs(full: dict[str, list[float]], proxy: dict[str, list[float]], *, direction: str = "minimize",
               label: str = PROXY, full_cost: tuple[float, float, float] = (1000.0, 10.0, 1e9),
               proxy_cost: tuple[float, float, float] = (100.0, 2.0, 1e8)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(proxy, full) frames from {config_key: [value per seed]}; costs are (examples, wall, flops)."""
    def build(values: dict[str, list[float]], lab: str, cost: tuple[float, float, float], factor: float) -> list:
        return [make_record(key, lab, seed, v, direction=direction, examples=cost[0], wall=cost[1], flops=cost[2],
                            factor=factor) for key, vs in values.items() for seed, v in enumerate(vs)]

    return (runs_frame(build(proxy, label, proxy_cost, 0.1)), runs_frame(build(full, "full", full_cost, 1.0)))


@pytest.fixture
def tables():
    return table_runs


@pytest.fixture
def study_dirs(tmp_path, write_run):
    """A proxy sweep and a full sweep on disk (two strategies, N_CONFIGS configs, 3 full seeds, histories).

    Returns (proxy_dir, full_dir, expected) where expected maps config_key -> full mean.
    """
    return write_study_dirs(tmp_path, write_run)


def write_study_dirs(root: Path, write_run) -> tuple[Path, Path, dict[str, float]]:
    proxy_dir, full_dir = root / "proxy_sweep", root / "full_sweep"
    expected = {}
    for i in range(N_CONFIGS):
        key = f"cfg{i:02d}"
        base = 1.0 + 0.1 * i
        fulls = [base + d for d in (-0.01, 0.0, 0.012)]
        expected[key] = sum(fulls) / 3
        for seed, v in enumerate(fulls):
            write_run(full_dir, make_record(key, "full", seed, v, config={"optim.lr": 0.001 * (i + 1)}),
                      history(v), name=f"{key}_s{seed}")
        # a faithful proxy (same order) and a poor one (order reversed in the middle)
        good = base * 1.5
        poor = 2.0 + 0.05 * ((i * 5) % N_CONFIGS)
        for seed in range(2):
            write_run(proxy_dir / "multirun" / "0", make_record(key, PROXY, seed, good + 0.001 * seed, factor=0.1,
                                                                examples=100, wall=1.0, flops=1e8,
                                                                config={"optim.lr": 0.001 * (i + 1)}),
                      history(good), name=f"{key}_good_s{seed}")
            write_run(proxy_dir / "multirun" / "1", make_record(key, "short_schedule(fraction=0.05)", seed, poor,
                                                                factor=0.05, examples=50, wall=0.5, flops=5e7,
                                                                config={"optim.lr": 0.001 * (i + 1)}),
                      history(poor), name=f"{key}_poor_s{seed}")
    (proxy_dir / "multirun" / ".hydra").mkdir(parents=True, exist_ok=True)
    (proxy_dir / "multirun" / ".hydra" / "config.yaml").write_text("a: 1\n")
    return proxy_dir, full_dir, expected
