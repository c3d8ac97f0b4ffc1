"""The report's 95% interval of rho covers the population value (slow: a few hundred bootstraps).

The full check (2,400+ cases) is benchmarks/bootstrap_coverage.py; its figure is in docs/report.md.
"""
from __future__ import annotations

import pytest

from tests.conftest import benchmark_module


def _module():
    return benchmark_module("bootstrap_coverage")


@pytest.mark.slow
def test_bca_interval_covers_about_95_percent():
    table = _module().coverage((20,), reps=100, resamples=1000, seed=3)
    covered = (table["coverage"] * table["cases"]).sum() / table["cases"].sum()
    # 400 cases: a 95% interval has binomial sd 0.011; 0.91-0.99 is three of them each way
    assert 0.91 <= covered <= 0.99


def test_coverage_script_runs_on_a_few_cases(tmp_path):
    out = tmp_path / "coverage.md"
    assert _module().main(["--reps", "2", "--resamples", "100", "--out", str(out)]) == 0
    assert "the report's 95% interval held the population Spearman rho in" in out.read_text()
