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
