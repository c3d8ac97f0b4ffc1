"""benchmarks/analysis_scale.py still runs (tiny sizes; the real figure is in analysis/analysis_scale.md)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import budgetsweep

SCRIPT = Path(budgetsweep.__file__).resolve().parents[1] / "benchmarks" / "analysis_scale.py"


def test_benchmark_runs_on_small_sizes(tmp_path, fast_figures):
    spec = importlib.util.spec_from_file_location("analysis_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "scale.md"
    assert module.main(["--configs", "12", "--seeds", "2", "--resamples", "50", "--groups", "3",
                        "--group-configs", "6", "--group-seeds", "2", "--files-dir", str(tmp_path / "files"),
                        "--no-cli", "--out", str(out)]) == 0
    text = out.read_text()
    assert "## 120 real record files to a report" in text and "| find_records (120 record.json files) |" in text
    assert "equal the plain script's on every (group, strategy): True" in text
    assert len(list((tmp_path / "files").rglob("record.json"))) == 120
