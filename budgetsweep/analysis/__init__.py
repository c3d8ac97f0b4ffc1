"""Fidelity analysis: load runs -> pair proxy and full by config key -> rank agreement -> report.

Imports no torch (not even transitively), so it runs wherever the records are.
"""
from .compare import Recommendation, compare_strategies, group_summary, recommend
from .frame import from_frame
from .fidelity import Fidelity, NoiseCeiling, fidelity, noise_ceiling
from .load import RecordWarning, load_curves, load_runs
from .pair import aggregate_seeds, pair_runs, split_runs
from .report import Report, build_report, load_sets, write_report
from .study import load_study_runs, mask_url
from .summary import cost_summary, ranking, status_counts

__all__ = [
    "Fidelity",
    "NoiseCeiling",
    "Recommendation",
    "RecordWarning",
    "Report",
    "aggregate_seeds",
    "build_report",
    "compare_strategies",
    "cost_summary",
    "fidelity",
    "from_frame",
    "group_summary",
    "load_curves",
    "load_runs",
    "load_sets",
    "load_study_runs",
    "mask_url",
    "noise_ceiling",
    "pair_runs",
    "ranking",
    "recommend",
    "split_runs",
    "status_counts",
    "write_report",
]
