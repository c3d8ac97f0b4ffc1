"""One Hydra composition per job of a ``budgetsweep -m`` grid (budgetsweep/compose_memo.py), and the
composition handed to each job is the one Hydra composes on its own for the same overrides."""
from __future__ import annotations

import json
import sys

import pytest
from hydra import initialize_config_module
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import OmegaConf

from budgetsweep import compose_memo
from budgetsweep.compose_memo import ComposeMemo

OVERRIDE_SETS = [
    ["task=digits", "optim.lr=3e-4", "model.hidden=32", "experiment=proxy50", "seed=0"],
    ["task=charlm", "experiment=charlm_proxy50", "optim.lr=1e-3"],
    ["reduction=[data_subset,short_schedule]", "reduction.data_subset.fraction=0.05", "model=cnn"],
    ["experiment=mup_width", "train.batch_size=64", "hydra.job.name=x"],
]


def _plain(cfg):
    return OmegaConf.to_container(cfg, resolve=False)


@pytest.fixture
def loader():
    with initialize_config_module(config_module="budgetsweep.conf", version_base=None):
        yield GlobalHydra.instance().config_loader()


@pytest.mark.parametrize("overrides", OVERRIDE_SETS, ids=lambda o: o[0])
def test_memo_hands_out_hydras_own_composition(loader, overrides):
    memo = ComposeMemo()
    original = ConfigLoaderImpl.load_sweep_config
    master = loader.load_configuration("config", [], RunMode.MULTIRUN)
    plain = original(loader, master, list(overrides))
    first = memo.load_sweep_config(original, loader, master, list(overrides))   # the sweeper's validation
    second = memo.load_sweep_config(original, loader, master, list(overrides))  # the launcher's
    assert (memo.misses, memo.hits) == (1, 1) and not memo.kept
    assert first is not second
    expected = _plain(plain)
    assert _plain(first) == expected and _plain(second) == expected
    job = {k: v for k, v in _plain(plain).items() if k != "hydra"}
    assert OmegaConf.to_container(OmegaConf.masked_copy(second, list(job)), resolve=True) == \
        OmegaConf.to_container(OmegaConf.masked_copy(plain, list(job)), resolve=True)
    # a third ask composes again: a kept composition is handed out once
    third = memo.load_sweep_config(original, loader, master, list(overrides))
    assert memo.misses == 2 and _plain(third) == expected


def test_what_the_first_caller_does_never_reaches_the_launcher(loader):
    memo, original = ComposeMemo(), ConfigLoaderImpl.load_sweep_config
    master = loader.load_configuration("config", [], RunMode.MULTIRUN)
    first = memo.load_sweep_config(original, loader, master, ["seed=3"])
    first.seed = 99
    assert memo.load_sweep_config(original, loader, master, ["seed=3"]).seed == 3


def test_other_master_config_or_launcher_composes_afresh(loader):
    memo, original = ComposeMemo(), ConfigLoaderImpl.load_sweep_config
    master = loader.load_configuration("config", [], RunMode.MULTIRUN)
    other = loader.load_configuration("config", ["seed=5"], RunMode.MULTIRUN)
    memo.load_sweep_config(original, loader, master, ["optim.lr=0.1"])
    memo.load_sweep_config(original, loader, other, ["optim.lr=0.1"])
    assert (memo.misses, memo.hits) == (2, 0)
    joblib = loader.load_configuration("config", ["hydra/launcher=joblib"], RunMode.MULTIRUN)
    before = len(memo.kept)
    memo.load_sweep_config(original, loader, joblib, ["optim.lr=0.1"])  # composes in its workers: keep nothing
    assert len(memo.kept) == before


def test_memory_is_bounded(loader):
    memo, original = ComposeMemo(max_kept=3), ConfigLoaderImpl.load_sweep_config
    master = loader.load_configuration("config", [], RunMode.MULTIRUN)
    for seed in range(5):
        memo.load_sweep_config(original, loader, master, [f"seed={seed}"])
    assert len(memo.kept) == 3
    for seed in range(5):
        assert memo.load_sweep_config(original, loader, master, [f"seed={seed}"]).seed == seed
    assert memo.hits == 3


def _budgetsweep(tmp_path, monkeypatch, args):
    """``budgetsweep -m ARGS`` in this process, with a fresh memo, from ``tmp_path``; returns the sweep's dir."""
    monkeypatch.setattr(compose_memo, "MEMO", ComposeMemo())
    sweep = tmp_path / "sweep"
    monkeypatch.setattr(sys, "argv", ["budgetsweep", "-m", *args, f"hydra.sweep.dir={sweep}"])
    monkeypatch.chdir(tmp_path)
    from budgetsweep.app import main

    try:
        main()
    finally:
        compose_memo.uninstall()
        GlobalHydra.instance().clear()
    return sweep


def test_grid_composes_each_job_once(tmp_path, monkeypatch):
    """The console script's path: a 2-job grid composes each job once (Hydra's basic sweeper alone composes each
    job twice), and each job's saved config is its own."""
    calls = []
    impl = ConfigLoaderImpl.load_configuration

    def counting(self, config_name, overrides, run_mode, *args, **kwargs):
        calls.append(list(overrides))
        return impl(self, config_name, overrides, run_mode, *args, **kwargs)

    monkeypatch.setattr(ConfigLoaderImpl, "load_configuration", counting)
    sweep = _budgetsweep(tmp_path, monkeypatch, ["task=digits", "experiment=proxy50", "model.hidden=16",
                                                 "guards.min_steps=0", "optim.lr=1e-3,1e-2", "hydra.output_subdir=.hydra"])
    # Hydra composes the master config twice (the mode, then the sweep); then once for the grid's group choices,
    # from which both jobs are derived (without the memo: twice per job)
    assert len(calls) == 3
    assert "task=digits" in calls[2] and not any(c.startswith("optim.lr=") for c in calls[2])
    for job, lr in (("0", 0.001), ("1", 0.01)):
        record = json.loads((sweep / job / "record.json").read_text())
        assert record["status"] == "completed"
        assert OmegaConf.load(sweep / job / ".hydra" / "config.yaml").optim.lr == lr
        assert OmegaConf.load(sweep / job / ".hydra" / "hydra.yaml").hydra.job.num == int(job)


GRIDS = {
    # plain values swept, group choices fixed: one composition for the whole grid
    "values": ["task=digits", "optim.lr=1e-3,1e-2", "model.hidden=16,32", "seed=3"],
    # group choices and values swept, a fixed value before them, an added key after them
    "groups": ["train.epochs=2", "model=mlp,cnn", "optim=adamw,sgd", "optim.lr=0.5,0.25", "+note=x"],
    # the sweep's dirs from the job's overrides, some keys kept out of override_dirname
    "dirname": ["experiment=proxy50", "optim.lr=1e-3,3e-2", "seed=0,1", "hydra.sweep.subdir=${hydra.job.override_dirname}",
                "hydra.job.config.override_dirname.exclude_keys=[seed]"],
}


def _recorded_grid(tmp_path, monkeypatch, args, memo):
    """What every job of a ``-m`` grid sees through Hydra's basic sweeper and launcher: its config
    (unresolved and resolved) and the hydra node as the launcher set it (job id/num, override_dirname,
    overrides.task, runtime.output_dir, the sweep's dir and subdir); and the compositions Hydra paid."""
    import hydra
    from hydra.core.hydra_config import HydraConfig

    seen, calls = [], []
    impl = ConfigLoaderImpl.load_configuration

    def counting(self, config_name, overrides, run_mode, *a, **kw):
        calls.append(list(overrides))
        return impl(self, config_name, overrides, run_mode, *a, **kw)

    @hydra.main(version_base=None, config_path="pkg://budgetsweep.conf", config_name="config")
    def record(cfg):
        hc = HydraConfig.get()
        seen.append({"raw": OmegaConf.to_container(cfg, resolve=False), "cfg": OmegaConf.to_container(cfg, resolve=True),
                     "hydra": OmegaConf.to_container(hc, resolve=True), "dir": hc.sweep.dir, "subdir": hc.sweep.subdir,
                     "cwd": __import__("os").getcwd()})

    monkeypatch.setattr(ConfigLoaderImpl, "load_configuration", counting)
    monkeypatch.setattr(sys, "argv", ["record", "-m", *args, "hydra.sweep.dir=sweep", "hydra.run.dir=run", "hydra.job.chdir=true"])
    if memo is not None:
        compose_memo.install(memo)
    try:
        record()
    finally:
        compose_memo.uninstall()
        GlobalHydra.instance().clear()
        monkeypatch.setattr(ConfigLoaderImpl, "load_configuration", impl)
    return seen, calls


@pytest.mark.parametrize("grid", GRIDS, ids=str)
def test_every_job_of_a_grid_sees_hydras_own_config(tmp_path, monkeypatch, grid):
    monkeypatch.chdir(tmp_path)
    hydras, hydra_calls = _recorded_grid(tmp_path, monkeypatch, GRIDS[grid], None)
    memo = ComposeMemo()
    ours, our_calls = _recorded_grid(tmp_path, monkeypatch, GRIDS[grid], memo)
    assert len(ours) == len(hydras) >= 4
    for job, (got, want) in enumerate(zip(ours, hydras)):
        assert got == want
        assert (got["hydra"]["job"]["num"], got["hydra"]["job"]["id"]) == (job, str(job))
        assert got["subdir"] == (got["hydra"]["job"]["override_dirname"] if grid == "dirname" else str(job))
        assert got["hydra"]["runtime"]["output_dir"] == str(tmp_path / "sweep" / got["subdir"]) == got["cwd"]
    # Hydra's basic sweeper composes each job twice; here once per set of group choices
    groups = {tuple(o for o in job_overrides if o.split("=")[0] in ("model", "optim", "task", "experiment"))
              for job_overrides in ([o for o in w["hydra"]["overrides"]["task"]] for w in hydras)}
    assert len(hydra_calls) == 2 + 2 * len(hydras)
    assert len(our_calls) == 2 + len(groups)
    assert memo.hits == len(hydras)


def test_under_the_budget_sweeper_each_job_is_derived_once_and_nothing_is_kept(loader):
    """The budget sweeper composes a job once (in the launcher), with its identity override ``++budgetsweep.trial``
    new in every job: each job is derived from one base (Hydra's own config still), and nothing is kept."""
    memo, original = ComposeMemo(), ConfigLoaderImpl.load_sweep_config
    master = loader.load_configuration("config", ["hydra/sweeper=budget"], RunMode.MULTIRUN)
    for number in range(3):
        overrides = [f"optim.lr={0.01 * (number + 1)}", "task=digits",
                     f"++budgetsweep.trial={{number:{number},study_name:'s',unit:examples,reservation:{number}.5}}"]
        got = memo.load_sweep_config(original, loader, master, overrides)
        assert _plain(got) == _plain(original(loader, master, overrides))
        assert got.budgetsweep.trial.number == number
    assert not memo.kept and memo.full_composes == 1


def test_under_a_budget_limit_each_trial_is_planned_on_the_config_its_job_then_runs(tmp_path, monkeypatch):
    """With a limit the budget sweeper plans each trial on the launch composer's config and hands it over:
    the job's config is derived from it in place (no second copy per trial) and is Hydra's own composition
    of the job's overrides, identity included."""
    from budgetsweep.budget.trial_config import TrialComposer

    derived = []
    impl = TrialComposer._derive

    def counting(self, base, values, parsed, copy_base=True):
        derived.append(copy_base)
        return impl(self, base, values, parsed, copy_base=copy_base)

    monkeypatch.setattr(TrialComposer, "_derive", counting)
    sweep = _budgetsweep(tmp_path, monkeypatch, ["task=digits", "train.epochs=null", "train.steps=1",
                                                 "hydra/sweeper=budget", "hydra.sweeper.n_trials=3",
                                                 "hydra.sweeper.n_jobs=2", "hydra.sweeper.budget.unit=examples",
                                                 "hydra.sweeper.budget.limit=1e9",
                                                 "optim.lr=tag(log, interval(1e-4, 1e-1))"])
    # per trial: planned on a copy of the base, launched on that same config
    assert derived == [True, True, False, False, True, False]
    with initialize_config_module(config_module="budgetsweep.conf", version_base=None):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("config", ["hydra/sweeper=budget", f"hydra.sweep.dir={sweep}"],
                                           RunMode.MULTIRUN)
        for job in ("0", "1", "2"):
            assert json.loads((sweep / job / "record.json").read_text())["status"] == "completed"
            overrides = list(OmegaConf.load(sweep / job / ".hydra" / "overrides.yaml"))
            assert overrides[-1].startswith(f"++budgetsweep.trial={{number:{job},")
            want = ConfigLoaderImpl.load_sweep_config(loader, master, overrides)
            got = OmegaConf.load(sweep / job / ".hydra" / "config.yaml")
            assert OmegaConf.to_container(got, resolve=False) == \
                OmegaConf.to_container(OmegaConf.masked_copy(want, [k for k in want if k != "hydra"]), resolve=False)
