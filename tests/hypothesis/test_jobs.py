"""The paired design's job list and results from records, without a launcher."""
import math

from budgetsweep.hypothesis import registration
from budgetsweep.hypothesis.jobs import job_order, job_overrides, result_from_record
from budgetsweep.hypothesis.spec import parse
from budgetsweep.plan_compose import compose_jobs

DATA = {"name": "h", "common": ["task=teacher_student"], "baseline": ["train.warmup_steps=0"],
        "candidate": ["train.warmup_steps=20"], "metric": "val_loss", "smallest_effect": 0.01, "seeds": [5, 2, 9],
        "alpha": 0.05, "scales": {"proxy": "proxy50", "full": True}}
STUB = {s: {"baseline": {"overrides": ["task=teacher_student", "train.warmup_steps=0"], "config": {}},
            "candidate": {"overrides": ["task=teacher_student", "train.warmup_steps=20"], "config": {}}}
        for s in ("proxy", "full")}


def _reg():
    return registration.build(parse(DATA, text=str(DATA)), configurations=STUB)


def test_jobs_interleave_pairs_and_resume_skips_what_is_done():
    reg = _reg()
    order = job_order(reg)
    assert order[:4] == [("proxy", 5, "baseline"), ("proxy", 5, "candidate"), ("proxy", 2, "baseline"),
                         ("proxy", 2, "candidate")]
    assert len(order) == 12 and order[6] == ("full", 5, "baseline")
    # a crash after seed 5's pair and seed 2's baseline: resume runs seed 2's candidate first
    done = {("proxy", 5, "baseline"), ("proxy", 5, "candidate"), ("proxy", 2, "baseline")}
    assert job_order(reg, done)[0] == ("proxy", 2, "candidate")
    assert job_order(reg, n_pairs=1) == [("proxy", 5, "baseline"), ("proxy", 5, "candidate"),
                                         ("full", 5, "baseline"), ("full", 5, "candidate")]


def test_job_overrides_compose_and_tag_the_record():
    reg = _reg()
    over = job_overrides(reg, "proxy", "candidate", 9)
    ((cfg, _, _),) = compose_jobs(over)
    assert cfg.seed == 9 and cfg.train.warmup_steps == 20
    tag = cfg.budgetsweep.hypothesis
    assert tag.registration == reg["registration_sha256"] and tag.scale == "proxy" and tag.arm == "candidate"
    # a hash that looks like a number stays a string
    numeric = dict(reg, registration_sha256="12e4" + "0" * 60)
    ((cfg, _, _),) = compose_jobs(job_overrides(numeric, "proxy", "baseline", 1))
    assert cfg.budgetsweep.hypothesis.registration == "12e4" + "0" * 60


def test_result_from_record_keeps_completed_and_diverged_runs():
    tag = {"registration": "1e" + "a" * 62, "scale": "proxy", "arm": "baseline"}
    reg = {"registration_sha256": tag["registration"]}
    # a record as the app writes it: config holds the hyperparameters only, the tag is one of the overrides
    record = {"status": "completed", "seed": 3, "config": {"task": "teacher_student", "train.warmup_steps": 0},
              "overrides": ["task=teacher_student", "seed=3", job_overrides(
                  dict(reg, configurations={"proxy": {"baseline": {"overrides": []}}}), "proxy", "baseline", 3)[-1]],
              "metrics": {"val_loss": 0.25}, "objective": {"name": "val_loss", "value": 0.25}}
    assert result_from_record(record, "val_loss") == {**tag, "seed": 3, "value": 0.25}
    assert result_from_record({**record, "status": "failed"}, "val_loss") is None
    # a non-finite metric is a result (NaN), not a crash to rerun: verdict.py reports its pair
    nan = result_from_record({**record, "metrics": {"val_loss": float("nan")}, "objective": {}}, "val_loss")
    assert math.isnan(nan["value"]) and nan["seed"] == 3
    assert result_from_record({**record, "overrides": ["seed=3"]}, "val_loss") is None
