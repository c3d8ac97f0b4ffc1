"""Calibration of the hypothesis verdict by simulation (no training): false-positive rate and power of the
fixed design (6 pairs) and of the sequential plan of tests/hypothesis/test_sequential.py (looks 4, 8, 12, O'Brien-Fleming).
Run from the repository root: .venv/bin/python benchmarks/hypothesis_calibration.py (about 3 minutes on 2 busy CPUs)."""
import numpy as np, sys
sys.path.insert(0, "tests/hypothesis")
from budgetsweep.hypothesis.stats import analyse, mde_dz
from test_sequential import PLAN, _run
rng = np.random.default_rng(20261201)
R = 2000
for name, eff in (("null", 0.0), ("mde", mde_dz(6, 0.05, 0.8, 1))):
    v = [analyse(rng.normal(eff, 1, 6), alpha=0.05, smallest_effect=0.5).verdict for _ in range(R)]
    print(f"fixed n=6 {name}: supported {v.count('supported')/R:.4f} refuted {v.count('refuted')/R:.4f}")
for eff in (0.0, 1.0):
    rate, pairs = _run(eff, np.random.default_rng(7), R)
    print(f"sequential looks {PLAN.looks} OBF effect d_z={eff}: supported {rate:.4f}, mean pairs {pairs:.2f}")
