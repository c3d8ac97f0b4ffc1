import json

import pytest
import torch
import torch.nn.functional as F

from budgetsweep.reductions import Distill, ShortSchedule, apply_all
from budgetsweep.tasks import Digits
from budgetsweep.train import train
from budgetsweep.reductions.distill import distillation_loss
from tests.reporters import RecordingReporter as Counter


def test_loss_equals_the_hinton_formula_on_fixed_logits():
    s = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])
    t = torch.tensor([[1.5, 0.0, -0.5], [-1.0, 2.0, 1.0]])
    y = torch.tensor([0, 2])
    T, alpha = 3.0, 0.7
    ce = -(s.log_softmax(-1)[torch.arange(2), y]).mean()
    p_t, p_s = (t / T).softmax(-1), (s / T).softmax(-1)
    kl = (p_t * (p_t.log() - p_s.log())).sum(-1).mean()
    expected = (1 - alpha) * ce + alpha * T ** 2 * kl
    assert distillation_loss(s, t, y, temperature=T, alpha=alpha).item() == pytest.approx(expected.item(), rel=1e-6)
    assert distillation_loss(s, t, y, temperature=T, alpha=0.0).item() == pytest.approx(F.cross_entropy(s, y).item())
    assert distillation_loss(s, s, y, temperature=T, alpha=1.0).item() == pytest.approx(0.0, abs=1e-7)


def test_sequence_logits_average_over_positions():
    s, t = torch.randn(2, 5, 7), torch.randn(2, 5, 7)
    y = torch.randint(0, 7, (2, 5))
    flat = distillation_loss(s.reshape(10, 7), t.reshape(10, 7), y.reshape(10), temperature=2.0, alpha=0.5)
    assert distillation_loss(s, t, y, temperature=2.0, alpha=0.5).item() == pytest.approx(flat.item())


def test_student_is_the_scaled_model_and_teacher_comes_from_a_saved_run(base_recipe, saved_run):
    big = base_recipe.evolve(model={**base_recipe.model, "hidden": 32})
    red = Distill(teacher=str(saved_run), width=0.5)
    out = red.apply(big)
    assert out.model["hidden"] == 16
    teacher = out.extra["distill"]["teacher"]
    assert teacher["model"] == base_recipe.model  # read from the saved run's record
    assert teacher["checkpoint"].endswith("checkpoint.pt")
    json.dumps(out.to_dict())  # the record stores the recipe as JSON
    factor = red.predicted_cost_factor(big)
    assert 0 < factor < 1
    recipe, _, _ = apply_all([red, ShortSchedule(0.25)], big)
    counter = Counter()
    result = train(recipe, Digits(), counter)
    assert result.info["distill"]["teacher"] == teacher["checkpoint"]
    assert counter.examples == result.examples  # a loaded teacher costs no training


def test_on_the_fly_teacher_is_trained_once_then_cached(base_recipe, tmp_path):
    red = Distill(cache_dir=str(tmp_path))
    recipe, described, _ = apply_all([red, ShortSchedule(0.25)], base_recipe)
    assert described[0]["predicted_cost_factor"] > 1 and "on the fly" in described[0]["reason"]
    first, second = Counter(), Counter()
    extra_examples, extra_flops = red.extra_work(recipe)  # what a cost model adds for the teacher
    result = train(recipe, Digits(), first)
    assert "trained" in result.info["distill"] and first.examples == result.examples + extra_examples
    cached_examples, cached_flops = red.extra_work(recipe)
    assert cached_examples == 0 and 0 < cached_flops < extra_flops  # cached: the teacher's forward passes only
    assert list(tmp_path.glob("teacher-*.pt")) and list(tmp_path.glob("teacher-*.json"))
    again = train(recipe, Digits(), second)
    assert "cached" in again.info["distill"] and second.examples == again.examples
    assert again.metrics == result.metrics  # same teacher, same student random stream
    assert red.predicted_cost_factor(base_recipe) < 1


def test_mismatched_teacher_checkpoint_names_the_path(base_recipe, saved_run, tmp_path):
    record = json.loads((saved_run / "record.json").read_text())
    record["recipe"]["model"]["hidden"] = 99  # the record claims another model than the checkpoint holds
    (tmp_path / "record.json").write_text(json.dumps(record))
    red = Distill(teacher=str(tmp_path / "record.json"))
    with pytest.raises(ValueError, match=r"checkpoint .*checkpoint.pt does not match the model"):
        train(red.apply(base_recipe), Digits(), Counter())


def test_checkpoint_that_is_not_a_state_dict_is_refused(base_recipe, saved_run, tmp_path):
    bad = tmp_path / "run"
    bad.mkdir()
    torch.save({"weights": [1, 2, 3]}, bad / "checkpoint.pt")
    record = json.loads((saved_run / "record.json").read_text())
    record["artifacts"]["checkpoint"] = str(bad / "checkpoint.pt")
    (bad / "record.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=f"checkpoint {bad / 'checkpoint.pt'} is not a state dict"):
        train(Distill(teacher=str(bad)).apply(base_recipe), Digits(), Counter())


def test_missing_teacher_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"reduction.distill.teacher=.*no such file"):
        Distill(teacher=str(tmp_path / "nope"))
    (tmp_path / "record.json").write_text(json.dumps({"recipe": {}, "artifacts": {}}))
    with pytest.raises(ValueError, match="train.save_checkpoint=true"):
        Distill(teacher=str(tmp_path))


@pytest.mark.parametrize("key, value", [("temperature", 0), ("alpha", 1.5), ("width", 0), ("depth", 2.0)])
def test_parameters_validated(key, value):
    with pytest.raises(ValueError, match=f"reduction.distill.{key}"):
        Distill(**{key: value})
