"""benchmarks/analysis_scale.py still runs (tiny sizes; the real figure is in analysis/analysis_scale.md)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import budgetsweep

SCRIPT = Path(budgetsweep.__file__).resolve().parents[1] / "benchmarks" / "analysis_scale.py"


def test_benchmark_runs_on_a_small_frame(tmp_path, fast_figures):
    spec = importlib.util.spec_from_file_location("analysis_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "scale.md"
    assert module.main(["--configs", "30", "--seeds", "2", "--files", "10", "--resamples", "50", "--out",
                        str(out)]) == 0
    text = out.read_text()
    assert "300 synthetic runs" in text and "| compare_strategies (4 strategies) |" in text
