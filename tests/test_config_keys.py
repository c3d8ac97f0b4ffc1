"""A config key the composed config lacks (a typo: optim.lrr=0.1) is one message naming the key, the value and
the keys allowed at that level, closest first, and exit status 2 (Hydra alone: exit 1, no allowed keys)."""
from __future__ import annotations

import pytest

from budgetsweep.config_keys import allowed_keys, command_line_keys, unknown_key_message

OPTIM = "lr, beta1, beta2, eps, name, weight_decay"  # the default optimizer's keys, the closest to 'lrr' first


def test_the_message_names_key_value_and_the_allowed_keys_closest_first(compose_cfg):
    cfg = compose_cfg()
    assert unknown_key_message(cfg, "optim.lrr", "optim.lrr=0.1") == (
        f"optim.lrr=0.1: 'optim' has no key 'lrr' (did you mean optim.lr?); allowed keys in optim: {OPTIM}. "
        "To add a key the config does not have, write +optim.lrr=0.1")
    level, name, keys = allowed_keys(cfg, "optm.lr")
    assert (level, name, keys[0]) == ("", "optm", "optim") and sorted(keys[1:]) == keys[1:]
    assert "so optm.lr cannot be set" in unknown_key_message(cfg, "optm.lr", "optm.lr=0.1")
    assert unknown_key_message(cfg, "optim.lr", "optim.lr=0.1") is None
    assert allowed_keys(cfg, "optim.lr.x") is None  # a value on the way: another error than a missing key


def test_command_line_keys_drop_prefixes_and_flags():
    assert command_line_keys(["-m", "+a.b=1", "++c=2", "~d=3", "e=1,2", "task=digits", "--cfg"]) == \
        {"a.b", "c", "d", "e", "task"}


@pytest.mark.parametrize("args,line", [
    (["optim.lrr=0.1"], f"optim.lrr=0.1: 'optim' has no key 'lrr' (did you mean optim.lr?); allowed keys in optim: "
                        f"{OPTIM}."),
    (["-m", "optim.lrr=0.1,0.2"], "optim.lrr=0.1: 'optim' has no key 'lrr'"),
    (["train.stepz=3"], "train.stepz=3: 'train' has no key 'stepz' (did you mean train.steps?); allowed keys in "
                        "train: steps, "),
    (["optm.lr=0.1"], "optm.lr=0.1: the top level of the config has no key 'optm' (did you mean optim?), so optm.lr "
                      "cannot be set; allowed keys in the config: optim, "),
])
def test_the_app_answers_a_key_typo_with_one_line_and_exit_2(run_cli, tmp_path, args, line):
    proc = run_cli([*args, f"hydra.run.dir={tmp_path / 'r'}", f"hydra.sweep.dir={tmp_path / 's'}"], cwd=tmp_path,
                   check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("budgetsweep: invalid configuration: " + line), proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "r").exists()  # no job ran


def test_a_budget_sweep_over_a_mistyped_key_stops_before_spending(run_cli, tmp_path):
    proc = run_cli(["-m", "hydra/sweeper=budget", "hydra.sweeper.budget.limit=5000", "hydra.sweeper.budget.unit=examples",
                    "hydra.sweeper.n_trials=2", "optim.lrr=tag(log, interval(1e-4, 1e-1))",
                    f"hydra.sweeper.storage=sqlite:///{tmp_path / 'study.db'}", f"hydra.sweep.dir={tmp_path / 's'}"],
                   cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "budgetsweep: invalid configuration: optim.lrr=" in proc.stderr and "(did you mean optim.lr?)" in proc.stderr
    assert "spent 0, reserved 0" in proc.stdout + proc.stderr
