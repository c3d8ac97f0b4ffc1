"""An unknown config-group option is one message naming the group, the value and the options (exit 2)."""
import pytest

from budgetsweep.options import unknown_option


@pytest.mark.parametrize("args,bad", [
    (["experiment=nope"], "experiment=nope"),
    (["task=digits", "task=nope"], "task=nope"),
    (["reduction=[data_subset,nope]"], "reduction=nope"),
    (["-m", "reduction=full,nope"], "reduction=nope"),
    (["-m", "model=choice(mlp,nope)"], "model=nope"),
    (["+experiment=nope"], "experiment=nope"),
])
def test_an_unknown_option_is_named_with_the_allowed_ones(args, bad):
    message = unknown_option(args)
    group = bad.split("=")[0]
    assert message.startswith(f"{bad} is not an option of config group '{group}'; allowed: ")


@pytest.mark.parametrize("args", [
    ["experiment=charlm_proxy50"], ["task=charlm", "reduction=[data_subset,short_schedule]"],
    ["-m", "reduction=full,data_subset", "optim.lr=0.01,0.03"], ["hydra/sweeper=budget"], ["~experiment"],
    ["experiment=null"], ["task.objective=val_accuracy"], ["--cfg", "job"],
    ["--config-dir", "mine", "experiment=my_own"], ["hydra.searchpath=[file://mine]", "experiment=my_own"],
    ["optim.lr=tag(log, interval(1e-4, 1e-1))"],
])
def test_known_options_and_what_hydra_alone_can_judge_pass(args):
    assert unknown_option(args) is None
