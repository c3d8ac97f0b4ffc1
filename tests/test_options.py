"""An unknown config-group option is one message naming the group, the value and the options (exit 2)."""
import pytest

from budgetsweep.options import reduction_conflict, sweep_without_multirun, sweeper_without_multirun, unknown_option


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


# -- reduction parameters a job's reduction list cannot take; a task preset on another task --------------
@pytest.mark.parametrize("args,needle", [
    (["-m", "reduction=full,short_schedule", "reduction.short_schedule.fraction=0.5"],
     "reduction.short_schedule.fraction=0.5 sets a parameter of reduction short_schedule, but "
     "reduction=full,short_schedule gives a job the reduction list full, without short_schedule"),
    (["reduction=data_subset", "reduction.short_schedule.fraction=0.5"], "reduction list data_subset"),
    (["reduction.data_subset.fraction=0.5"], "the default reduction=full"),
    (["-m", "reduction=[data_subset,short_schedule],batch_scaling", "++reduction.data_subset.fraction=0.5"],
     "reduction list batch_scaling"),
    (["experiment=proxy50", "reduction=full"], "experiment=proxy50 sets parameters of reduction.data_subset"),
    (["-m", "experiment=proxy50", "reduction=full,[data_subset,short_schedule]"], "drop experiment=proxy50"),
    (["experiment=proxy50", "reduction.batch_scaling.factor=0.5"], "experiment=proxy50's reduction=[data_subset,"
                                                                   "short_schedule]"),
    (["task=teacher_student", "experiment=charlm_proxy50"], "experiment=charlm_proxy50 is a preset for task=charlm"),
    (["-m", "experiment=charlm_proxy50", "task=charlm,digits"], "asks for task=digits"),
])
def test_parameters_without_their_reduction_are_one_message(args, needle):
    message = reduction_conflict(args)
    assert message is not None and needle in message, message


@pytest.mark.parametrize("args", [
    ["-m", "reduction=short_schedule,[data_subset,short_schedule]", "reduction.short_schedule.fraction=0.5"],
    ["experiment=proxy50", "reduction.data_subset.fraction=0.05"], ["experiment=charlm_proxy50", "task=charlm"],
    ["experiment=proxy50", "task=teacher_student"], ["reduction=full"], ["task=digits", "optim.lr=0.1"],
    ["--config-dir", "mine", "reduction.mine.x=1"],
])
def test_parameters_every_job_can_take_pass(args):
    assert reduction_conflict(args) is None


def test_the_app_answers_with_exit_2_and_one_message(run_cli, tmp_path):
    proc = run_cli(["-m", "reduction=full,short_schedule", "reduction.short_schedule.fraction=0.5",
                    f"hydra.sweep.dir={tmp_path / 's'}"], cwd=tmp_path, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "reduction.short_schedule.fraction=0.5 sets a parameter" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "s").exists()


# -- a sweep without -m: Hydra's answer is "Ambiguous value" or "requires --multirun", exit 1 ---------------
@pytest.mark.parametrize("args,needle", [
    (["reduction=full,data_subset"], "reduction=full,data_subset is a sweep (one job per value), which needs -m"),
    (["task=digits", "optim.lr=0.01,0.03"], "optim.lr=0.01,0.03 is a sweep"),
    (["optim.lr=interval(0.1,1)"], "optim.lr=interval(0.1,1) is a sweep"),
    (["model.hidden=range(16,64,16)"], "model.hidden=range(16,64,16) is a sweep"),
])
def test_a_sweep_without_multirun_is_one_message(args, needle):
    message = sweep_without_multirun(args)
    assert message is not None and message.startswith(needle), message
    assert ("reduction=[a,b]" in message) == args[0].startswith("reduction=")


@pytest.mark.parametrize("args", [
    ["-m", "reduction=full,data_subset"], ["reduction=full,data_subset", "--multirun"],
    ["reduction=[data_subset,short_schedule]"], ["optim.lr='0.01,0.03'"], ["task=digits"], [],
])
def test_a_list_a_quoted_string_or_a_multirun_is_no_sweep_error(args):
    assert sweep_without_multirun(args) is None


def test_the_app_answers_a_sweep_without_multirun_with_exit_2(run_cli, tmp_path):
    proc = run_cli(["reduction=full,data_subset", f"hydra.run.dir={tmp_path / 'r'}"], cwd=tmp_path, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("budgetsweep: invalid configuration: reduction=full,data_subset is a sweep")
    assert not (tmp_path / "r").exists()


# -- a sweeper without -m: Hydra trains one default job and exits 0 ------------------------------------------
@pytest.mark.parametrize("args,needle", [
    (["experiment=auto_proxy"], "experiment=auto_proxy attaches hydra/sweeper=budget, which runs only in a multirun"),
    (["hparams_search=digits_budget"], "hparams_search=digits_budget attaches hydra/sweeper=budget"),
    (["task=digits", "hydra/sweeper=budget", "hydra.sweeper.budget.limit=1000"], "hydra/sweeper=budget attaches"),
])
def test_a_sweeper_without_multirun_is_one_message(args, needle):
    message = sweeper_without_multirun(args)
    assert message is not None and message.startswith(needle) and "add -m" in message, message


@pytest.mark.parametrize("args", [
    ["-m", "experiment=auto_proxy"], ["hparams_search=digits_budget", "--multirun"], ["experiment=proxy50"],
    ["hydra/sweeper=basic"], ["--cfg", "job", "experiment=auto_proxy"], ["task=digits"], ["~experiment"],
])
def test_presets_without_a_sweeper_and_multiruns_pass(args):
    assert sweeper_without_multirun(args) is None


def test_the_app_refuses_a_sweeper_preset_without_multirun_before_training(run_cli, tmp_path):
    proc = run_cli(["experiment=auto_proxy", f"hydra.run.dir={tmp_path / 'r'}"], cwd=tmp_path, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "experiment=auto_proxy attaches hydra/sweeper=budget" in proc.stderr
    assert not (tmp_path / "r").exists()
