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
    # trial is a censored observation (its true cost is above 1024): the next prediction is 2 x 1024,
    # which does not fit the 1152 left, so the reservation is cut to what is left (above 1024, still
    # plausible) instead of stopping the sweep with budget unspent (before: it stopped with 1152 left)
    records, summary = sweep(tmp_path, "hydra.sweeper.budget.limit=3200", "hydra.sweeper.budget.default_trial_cost=1000",
                             "hydra.sweeper.budget.tolerance=0", "hydra.sweeper.n_trials=5", "optim.lr=choice(0.01)")
    assert [r.status for r in records] == ["budget_stopped"] * 3
    # the check runs every step: a job overshoots what is held for it by less than one batch
    assert [r.cost.measured.examples for r in records] == [1024, 1024, 1216]
    assert summary["spent"] == 3264 <= 3200 + 64  # the limit + one check interval of the last job
    assert summary["stopped"].startswith("budget exhausted: trial 3 needs 2,432 examples")


def test_gpu_hours_charged_stays_at_the_limit_when_the_guess_is_far_too_low(tmp_path):
    # default_trial_cost is 18 ms of a run that takes seconds (its first optimizer step alone imports
    # much of torch): the job's clock starts with the job (start-up included), a timer stops it at
    # what the ledger holds for it between its checks (never inside an import, which the trial then
    # pays for), later reservations cover the measured start-up, and after budget-stopped trials
    # the last reservation is cut to what is left. So the charges pass the limit by at most the
    # last job's stop latency (a small fraction of this limit), never by whole trials; before, trial
    # 0 alone was charged several times this limit.
    limit = 0.003
    records, summary = sweep(tmp_path, "hydra.sweeper.budget.unit=gpu_hours", f"hydra.sweeper.budget.limit={limit}",
                             "hydra.sweeper.budget.default_trial_cost=5e-6", "hydra.sweeper.n_jobs=1",
                             "hydra.sweeper.n_trials=20", "optim.lr=choice(0.01)")
    assert len(records) >= 2 and summary["spent"] <= limit * 1.1, summary
    assert summary["stopped"].startswith("budget exhausted") or summary["stopped"].startswith("n_trials"), summary
    assert all(r.info.get("startup_seconds", 0) > 0 for r in records)  # measured from the job's start
    assert records[0].status == "budget_stopped"


def test_a_unit_the_loop_does_not_meter_is_one_clear_error_and_charged_its_reservation(tmp_path):
    # the own loop counts examples only: in flops its first report raises UnmeteredCost
    proc = run_example(["-m", "hydra/sweeper=budget", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                        "hydra.sweeper.budget.unit=flops", "hydra.sweeper.budget.limit=1e12",
                        "hydra.sweeper.budget.default_trial_cost=1e9", "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=1",
                        "hydra.sweeper.max_failure_rate=1.0", *FAST, "optim.lr=choice(0.01)"], tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "hydra.sweeper.budget.unit=flops: trial 0 was stopped, the budget is counted in flops" in proc.stderr
    summary = json.loads((tmp_path / "sweep" / "budget_summary.json").read_text())
    assert summary["spent"] == 1e9  # its reservation, not 0: the cap cannot leak
    assert len(summary["trials"]) == 1
