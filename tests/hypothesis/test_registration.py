"""Pre-registration: composed arms, the metric checked by the task, the hash, and no mixing of registrations."""
import json

import pytest

from budgetsweep.hypothesis import registration
from budgetsweep.hypothesis.registration import MixedRegistrationError, pairs, register, results_of
from budgetsweep.hypothesis.spec import HypothesisError, load

TEXT = """name: warmup_helps
common: [task=teacher_student]
baseline: [train.warmup_steps=0]
candidate: [train.warmup_steps=20]
metric: val_loss
smallest_effect: 0.002
seeds: 4
alpha: 0.05
scales: {proxy: proxy50, full: true}
sequential: {looks: [2, 4]}
"""
STUB = {"proxy": {"baseline": {"overrides": ["a=1"], "config": {"a": 1}},
                  "candidate": {"overrides": ["a=2"], "config": {"a": 2}}}}


def _hyp(tmp_path, text=TEXT, name="h.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return load(path)


def test_registration_composes_each_arm_and_is_written_atomically_once(tmp_path):
    hyp = _hyp(tmp_path)
    folder, reg = register(hyp, tmp_path / "out", path="h.yaml")
    on_disk = json.loads((folder / "registration.json").read_text())
    assert on_disk == reg
    assert folder.name == reg["registration_sha256"][:16] and folder.parent.name == "warmup_helps"
    assert reg["file"]["text"] == TEXT and len(reg["registration_sha256"]) == 64
    assert set(reg["configurations"]) == {"proxy", "full"}
    proxy = reg["configurations"]["proxy"]
    assert proxy["baseline"]["config"]["train"]["warmup_steps"] == 0
    assert proxy["candidate"]["config"]["train"]["warmup_steps"] == 20
    assert proxy["candidate"]["config"]["reduction"]["data_subset"]["fraction"] == 0.1  # proxy50 composed
    assert "seed" not in proxy["baseline"]["config"]
    assert list(reg["configurations"]["full"]["baseline"]["config"]["reduction"]) == ["full"]
    assert reg["analysis_plan"]["sequential"]["looks"] == [2, 4]
    assert len(reg["analysis_plan"]["sequential"]["nominal_levels"]) == 2
    assert reg["created_utc"].endswith("+00:00")
    # registering the same file again (a resume) keeps the first registration and its timestamp
    again_folder, again = register(hyp, tmp_path / "out")
    assert again_folder == folder and again["created_utc"] == reg["created_utc"]


def test_editing_the_file_makes_a_new_registration(tmp_path):
    a = registration.build(_hyp(tmp_path), configurations=STUB)
    b = registration.build(_hyp(tmp_path, TEXT.replace("0.002", "0.003"), "h2.yaml"), configurations=STUB)
    c = registration.build(_hyp(tmp_path, TEXT + "# a note\n", "h3.yaml"), configurations=STUB)
    same = registration.build(_hyp(tmp_path, TEXT, "h4.yaml"), configurations=STUB)
    assert len({a["registration_sha256"], b["registration_sha256"], c["registration_sha256"]}) == 3
    assert same["registration_sha256"] == a["registration_sha256"]  # the timestamp is not hashed
    # a change in what the arms compose to (a changed default) is a new registration too
    other = {"proxy": {**STUB["proxy"], "baseline": {"overrides": ["a=1"], "config": {"a": 1, "b": 0}}}}
    assert registration.build(_hyp(tmp_path), configurations=other)["registration_sha256"] != a["registration_sha256"]


def test_a_metric_the_task_does_not_produce_is_refused_before_any_run(tmp_path):
    hyp = _hyp(tmp_path, TEXT.replace("metric: val_loss", "metric: val_accuracy"))  # regression: val_loss only
    with pytest.raises(HypothesisError, match="metric='val_accuracy'.*not a metric of task 'teacher_student'"):
        register(hyp, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_arms_that_compose_to_the_same_configuration_are_refused(tmp_path):
    # 20 is teacher_student's default warmup: different overrides, identical configuration
    hyp = _hyp(tmp_path, TEXT.replace("baseline: [train.warmup_steps=0]", "baseline: []"))
    with pytest.raises(HypothesisError, match="composes to the same configuration as baseline"):
        registration.resolve(hyp)


def test_results_of_another_registration_are_refused():
    mine, theirs = "a" * 64, "b" * 64
    results = [{"registration": mine, "scale": "proxy", "arm": arm, "seed": s, "value": v}
               for s, (arm, v) in enumerate([("baseline", 1.0), ("candidate", 0.9)])]
    results += [{"registration": mine, "scale": "proxy", "arm": "candidate", "seed": 0, "value": 0.8},
                {"registration": mine, "scale": "proxy", "arm": "baseline", "seed": 1, "value": 1.1}]
    complete, incomplete = pairs(results, mine, "proxy")
    assert complete == [{"seed": 0, "baseline": 1.0, "candidate": 0.8}, {"seed": 1, "baseline": 1.1, "candidate": 0.9}]
    assert incomplete == []
    mixed = results + [{"registration": theirs, "scale": "proxy", "arm": "baseline", "seed": 2, "value": 1.0}]
    with pytest.raises(MixedRegistrationError, match="bbbbbbbbbbbbbbbb cannot be analysed with registration aaaa"):
        results_of(mixed, mine)
    with pytest.raises(MixedRegistrationError):
        pairs(mixed, mine, "proxy")
