"""budgetsweep.analysis and budgetsweep.cli must never pull in torch, not even transitively."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import budgetsweep

REPO = Path(budgetsweep.__file__).resolve().parents[1]

CODE = """
import importlib, pkgutil, sys
import budgetsweep.analysis, budgetsweep.cli
for mod in pkgutil.walk_packages(budgetsweep.analysis.__path__, "budgetsweep.analysis."):
    importlib.import_module(mod.name)
import optuna, matplotlib.backends.backend_agg  # imported lazily by the loaders and plots
leaked = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print("LEAKED", leaked)
"""


def test_analysis_imports_no_torch():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "LEAKED []" in proc.stdout


PARENT = """
import sys
import budgetsweep.analysis, budgetsweep.analysis.report, budgetsweep.cli
print("HEAVY", sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib" or m.startswith("scipy.stats"))[:3])
"""


def test_report_command_imports_no_matplotlib_or_scipy_stats():
    # matplotlib (about 0.5 CPU seconds) is imported when figures are drawn, scipy.stats (about 1)
    # while forked readers read the records or on first use, not by importing the analysis or the
    # command: the command's serial start-up stays short
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", PARENT], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout
