"""hydra/sweeper=hypothesis's batching and budget arithmetic (no Hydra run; tests/hypothesis/test_cli.py runs it)."""
import pytest

from hydra_plugins.budgetsweep_hypothesis._impl import HypothesisSweeperImpl, batches, job_cost, job_subdir


def test_batches_hold_whole_pairs_and_a_half_done_pair_counts_as_one():
    todo = [("proxy", 2, "candidate"), ("proxy", 3, "baseline"), ("proxy", 3, "candidate"),
            ("proxy", 4, "baseline"), ("proxy", 4, "candidate")]
    assert batches(todo, 2) == [todo[:3], todo[3:]]
    assert batches(todo, 1) == [todo[:1], todo[1:3], todo[3:]]
    for size in (1, 2, 3):
        for batch in batches(todo, size):
            seeds = [seed for _, seed, _ in batch]
            # no seed's jobs are in two batches
            assert all(sum(seed in [s for _, s, _ in b] for b in batches(todo, size)) == 1 for seed in seeds)


def test_job_folders_are_fixed_and_costs_read_from_the_record():
    assert job_subdir("full", 7, "candidate") == "full/seed7/candidate"
    record = {"cost": {"measured": {"examples": 1024, "flops": 3.0e7, "wall_seconds": 36.0, "device_count": 2}}}
    assert job_cost(record, "examples") == 1024 and job_cost(record, "flops") == 3.0e7
    assert job_cost(record, "gpu_hours") == pytest.approx(0.02)
    assert job_cost({}, "examples") == 0.0


@pytest.mark.parametrize("kwargs, key", [({"registration": None, "pairs_per_batch": None}, "registration"),
                                         ({"registration": "r.json", "pairs_per_batch": 0}, "pairs_per_batch")])
def test_bad_sweeper_settings_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=f"hydra.sweeper.{key}="):
        HypothesisSweeperImpl(**kwargs)
