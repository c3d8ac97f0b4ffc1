"""Auto-proxy's choice on records of real training runs through the app (slow: ~70 s of tiny jobs).

teacher_student at 256 examples, 4 epochs of batch 16 (64 steps): 12 configurations (learning rate x
width) at full scale with 2 seeds, at ``experiment=small_batch`` (the same 64 steps at batch 2) and at
``experiment=proxy50`` (10% of the data, 20% of the steps: one optimizer step, which learns nothing).
Measured once (2026-12-01): small_batch rho 0.76 [95% interval -0.07, 0.94], proxy50 0.17, noise
ceiling 0.94: with 12 configurations no candidate clears 0.8 with its uncertainty, so auto-proxy
falls back to full scale and says why.
"""
from __future__ import annotations

import pytest

from budgetsweep.analysis import load_runs
from budgetsweep.auto_proxy.choose import choose
from budgetsweep.auto_proxy.settings import AutoProxySettings
from budgetsweep.auto_proxy.summary import build_summary, spent_from_runs

GRID = ["task=teacher_student", "task.n_train=256", "task.n_val=256", "task.n_test=256", "train.epochs=4",
        "train.batch_size=16", "guards.min_steps=0", "optim.lr=1e-4,1e-3,1e-2,3e-2", "model.hidden=16,64,256"]


@pytest.mark.slow
def test_choice_and_spent_on_real_runs(tmp_path, run_cli):
    run_cli(["-m", *GRID, "seed=0,1", f"hydra.sweep.dir={tmp_path}/full"], cwd=tmp_path)
    for preset in ("small_batch", "proxy50"):
        run_cli(["-m", f"experiment={preset}", *GRID, "seed=0", f"hydra.sweep.dir={tmp_path}/{preset}"], cwd=tmp_path)
    runs = load_runs([tmp_path / "full", tmp_path / "small_batch", tmp_path / "proxy50"])
    choice = choose(runs, AutoProxySettings(candidates=["small_batch", "proxy50"], n_resamples=500), "examples")
    evidence = {c["label"].split("(")[0]: c for c in choice.candidates}
    assert set(evidence) == {"batch_scaling", "data_subset"} and evidence["batch_scaling"]["configs"] == 12
    assert not choice.label.startswith("data_subset")  # one optimizer step is never the faithful proxy
    assert evidence["data_subset"]["rho"] < 0.8
    if choice.kind == "proxy":  # only with a lower bound at or above the target
        assert evidence["batch_scaling"]["rho_low"] >= 0.8
    # the examples unit is exact: 24 full runs of 1,024, 12 of 128 (batch 2, 64 steps), 12 of 16 (one step of 16)
    assert spent_from_runs(runs, "examples") == 24 * 1024 + 12 * 128 + 12 * 16
    summary = build_summary(limit=40_000, unit="examples", choice=choice,
                            spent={"calibrate": spent_from_runs(runs, "examples")})
    assert summary["remaining"] == 40_000 - 26_304
