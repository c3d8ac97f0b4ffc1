"""``make demo`` stays a first look: enough configurations for the report to reach a verdict, and a bounded
amount of training (its 30-epoch grid took 13 minutes from a fresh clone; batch_scaling's 4x steps were most of it)."""
import itertools

from budgetsweep.analysis.compare import MIN_CONFIGS_VERDICT
from budgetsweep.demo import GRID
from budgetsweep.plan import plan_run
from budgetsweep.plan_compose import compose_jobs

# optimizer steps of the whole grid: 12 configurations x (337 full + 34 + 67 + 1,348 + 337 + 7) = 25,548
MAX_STEPS = 30_000


def _values(key: str) -> list[str]:
    return next(o.split("=", 1)[1] for o in GRID if o.startswith(f"{key}=")).split(",")


def test_the_demo_grid_can_reach_a_verdict_and_trains_a_bounded_number_of_steps():
    configs = list(itertools.product(_values("optim.lr"), _values("model.hidden")))
    assert len(configs) >= MIN_CONFIGS_VERDICT
    # steps depend on the reductions, not on lr or width: plan one configuration's jobs, one per reduction list
    one_config = [o for o in GRID if not o.startswith(("optim.lr=", "model.hidden="))]
    jobs = compose_jobs(one_config, multirun=True)
    plans = [plan_run(cfg, overrides) for cfg, overrides, _ in jobs]
    labels, steps = [p.reduction_label for p in plans], [p.steps for p in plans]
    assert labels[0] == "full" and len(set(labels)) == len(labels) == 6
    assert len(configs) * sum(steps) <= MAX_STEPS, dict(zip(labels, steps))
