import math

import pytest

from budgetsweep.reductions import ShortSchedule
from budgetsweep.train import lr_multiplier


class LrLog:
    def __init__(self):
        self.rows = []

    def add_cost(self, **_):
        pass

    def report(self, step, metrics):
        self.rows.append((step, metrics["lr"]))


def lrs(recipe, n):
    t = recipe.train
    return [recipe.optim.lr * lr_multiplier(s, schedule=t.schedule, length=recipe.schedule_steps(n),
                                            warmup=t.warmup_steps) for s in range(recipe.run_steps(n))]


def test_truncate_keeps_full_schedule_and_stops_early(base_recipe):
    r = base_recipe.evolve(train={"steps": 100, "epochs": None, "warmup_steps": 0, "schedule": "cosine"})
    short = ShortSchedule(fraction=0.2, mode="truncate").apply(r)
    assert short.run_steps(0) == 20 and short.schedule_steps(0) == 100
    full_lrs, short_lrs = lrs(r, 0), lrs(short, 0)
    assert short_lrs == full_lrs[:20]
    # the truncated run ends with a learning rate still near its peak: cos schedule at 19/100
    assert short_lrs[-1] == pytest.approx(0.01 * 0.5 * (1 + math.cos(math.pi * 19 / 100)))


def test_compress_rescales_schedule_to_new_length(base_recipe):
    r = base_recipe.evolve(train={"steps": 100, "epochs": None, "warmup_steps": 10, "schedule": "linear"})
    short = ShortSchedule(fraction=0.2, mode="compress").apply(r)
    assert short.run_steps(0) == 20 and short.schedule_steps(0) == 20 and short.train.warmup_steps == 2
    got = lrs(short, 0)
    assert got[0] == pytest.approx(0.01 * 0.5)  # warmup: (0+1)/2
    assert got[1] == pytest.approx(0.01)
    assert got[-1] == pytest.approx(0.01 * (1 - 17 / 18))  # linear decay over the 18 post-warmup steps


def test_actual_run_follows_schedule(base_recipe):
    from budgetsweep.tasks import Digits
    from budgetsweep.train import train

    r = base_recipe.evolve(train={"steps": 40, "epochs": None, "warmup_steps": 0, "eval_every": 1})
    short = ShortSchedule(fraction=0.5, mode="truncate").apply(r)
    log = LrLog()
    train(short, Digits(), log)
    assert [s for s, _ in log.rows] == list(range(1, 21))
    assert [lr for _, lr in log.rows] == pytest.approx(lrs(short, 0))


def test_mode_validated():
    with pytest.raises(ValueError, match="reduction.short_schedule.mode='cut'"):
        ShortSchedule(mode="cut")
