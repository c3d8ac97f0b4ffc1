"""The own-loop example under hydra/sweeper=budget: pruning and budget stops reach user code."""
import json

from budgetsweep.records import read_record
from tests.examples.test_own_loop import FAST, run_example


def sweep(tmp_path, *args):
    proc = run_example(["-m", "hydra/sweeper=budget", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                        "hydra.sweeper.budget.unit=examples", *FAST, *args], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [read_record(p) for p in sorted((tmp_path / "sweep").glob("*/record.json"))]
    summary = json.loads((tmp_path / "sweep" / "budget_summary.json").read_text())
    return records, summary


def test_user_loop_is_pruned_by_the_sweepers_pruner(tmp_path):
    # one good and one hopeless learning rate; the median pruner stops a trial worse than the first
    records, summary = sweep(tmp_path, "hydra.sweeper.budget.limit=100000", "hydra.sweeper.budget.default_trial_cost=6400",
                             "hydra.sweeper.n_trials=4", "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=0",
                             "hydra/sweeper/pruner=median", "hydra.sweeper.pruner.n_startup_trials=1",
                             "optim.lr=choice(0.01,50.0)")
    pruned = [r for r in records if r.status == "pruned"]
    assert pruned, [(r.status, r.config) for r in records]
    full_examples = 100 * 64
    assert all(r.cost.measured.examples < full_examples for r in pruned)  # stopped early, charged what it spent
    assert all(r.trial is not None and r.cost.predicted["unit"] == "examples" for r in records)


def test_user_loop_stops_itself_at_its_reservation(tmp_path):
    # the sweeper cannot plan a foreign loop: the first batch (n_jobs=2) reserves default_trial_cost
    # (1000, smaller than a run) and both jobs stop after the batch that crossed it (1024). A stopped
    # trial is a censored observation (its true cost is above 1024), so the next reservation is
    # 2 x 1024, which no longer fits the 1152 left: the sweep stops instead of buying a third stop.
    records, summary = sweep(tmp_path, "hydra.sweeper.budget.limit=3200", "hydra.sweeper.budget.default_trial_cost=1000",
                             "hydra.sweeper.budget.tolerance=0", "hydra.sweeper.n_trials=5", "optim.lr=choice(0.01)")
    assert len(records) == 2
    assert all(r.status == "budget_stopped" for r in records)
    # the check runs every step: a job overshoots its reservation by less than one batch
    assert all(1000 < r.cost.measured.examples <= 1000 + 64 for r in records)
    assert summary["spent"] == sum(r.cost.measured.examples for r in records) <= 3200
    assert summary["stopped"].startswith("budget exhausted: trial 2 needs 2,048 examples")
