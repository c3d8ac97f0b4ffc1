"""TrialComposer's shortcut gives exactly the config Hydra's ``load_sweep_config`` composes."""
import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import create_config_search_path
from hydra.types import RunMode
from omegaconf import OmegaConf

from budgetsweep.budget.trial_config import TrialComposer

CONFIG = """
defaults:
  - db: small
  - _self_
a:
  b:
    c: 1
    e: [1, 2]
  d: ${a.b.c}
lr: 0.1
name: run_${lr}
flag: true
hydra:
  job:
    name: test
    chdir: false
  sweep:
    dir: sweep
    subdir: ${hydra.job.override_dirname}
"""


@pytest.fixture
def loader(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "db" / "small.yaml").write_text("size: 1\nport: ${a.b.c}\n")
    (tmp_path / "db" / "large.yaml").write_text("size: 100\nport: 7\n")
    return ConfigLoaderImpl(config_search_path=create_config_search_path(str(tmp_path)))


def master(loader, hydra_overrides=()):
    return loader.load_configuration(config_name="config", overrides=list(hydra_overrides), run_mode=RunMode.MULTIRUN)


def same(fast, full):
    assert OmegaConf.to_container(fast, resolve=False) == OmegaConf.to_container(full, resolve=False)
    app = {k: v for k, v in fast.items_ex(resolve=False) if k != "hydra"}
    ref = {k: v for k, v in full.items_ex(resolve=False) if k != "hydra"}
    assert OmegaConf.to_container(OmegaConf.create(app), resolve=True) == \
        OmegaConf.to_container(OmegaConf.create(ref), resolve=True)
    assert fast.hydra.job.override_dirname == full.hydra.job.override_dirname
    assert OmegaConf.is_struct(fast) == OmegaConf.is_struct(full) is True
    assert (fast.a.d, fast.name, fast.db.port) == (full.a.d, full.name, full.db.port)


def same_or_same_error(composer, cfg, overrides):
    """The composer's config equals Hydra's, or both raise the same error; True when composed."""
    try:
        full = composer.config_loader.load_sweep_config(cfg, list(overrides))
    except Exception as exc:
        with pytest.raises(type(exc)) as got:
            composer.compose(list(overrides))
        assert str(got.value) == str(exc)
        return False
    same(composer.compose(list(overrides)), full)
    return True


SWEPT = [["a.b.c=3"], ["lr=0.25", "a.b.c=5"], ["db=large", "a.b.c=7"], ["db=large", "lr=2"], ["db=small"],
         ["a.b={c:9,e:[3]}"], ["a.b.e=[4,5]"], ["name='x y'"], ["a.b.c=null"], ["flag=false"], ["lr=1e-3"],
         ["a.b.c=${lr}"]]


@pytest.mark.parametrize("fixed", [[], ["flag=false"], ["db=large", "lr=0.5"]])
def test_the_shortcut_composes_what_hydra_composes(loader, fixed):
    cfg = master(loader, ["hydra.job.config.override_dirname.exclude_keys=[flag]"])
    composer = TrialComposer(config=cfg, config_loader=loader, fixed=fixed)
    for swept in SWEPT:
        overrides = swept + fixed
        same(composer.compose(overrides), loader.load_sweep_config(cfg, overrides))
    # one full compose per set of group choices, whatever the plain values (a value swept and fixed too:
    # both are applied in the given order, as Hydra applies them)
    assert composer.full_composes == 3


@pytest.mark.parametrize("fixed", [["flag=false"], ["db=large", "lr=0.5"], ["+extra=1"], ["~flag"]])
def test_fixed_overrides_anywhere_in_a_job(loader, fixed):
    """Hydra's basic sweeper keeps the command line's order: fixed overrides stand before, between or
    after the swept ones; the derived config is Hydra's wherever they stand."""
    cfg = master(loader)
    composer = TrialComposer(config=cfg, config_loader=loader)
    for swept in SWEPT:
        for overrides in (fixed + swept, swept[:1] + fixed + swept[1:]):
            same_or_same_error(composer, cfg, overrides)
    assert composer.full_composes <= 2 * 3 + 2 * len(SWEPT) * (fixed == ["~flag"])  # errors: Hydra composes


@pytest.mark.parametrize("overrides", [["+extra=1", "extra=2"], ["~flag", "flag=true"], ["~a.b", "a.b.c=4"],
                                       ["a.b.e=[9]", "~a.b.e"], ["++lr=3", "lr=4"], ["lr=4", "++lr=3"]])
def test_a_plain_value_meeting_an_added_or_deleted_key_is_composed_by_hydra(loader, overrides):
    cfg = master(loader)
    composer = TrialComposer(config=cfg, config_loader=loader)
    if same_or_same_error(composer, cfg, overrides):
        assert composer.full_composes == 1  # the job's own compose: no base to derive it from


def test_bases_are_bounded(loader, monkeypatch):
    from budgetsweep.budget import trial_config

    monkeypatch.setattr(trial_config, "MAX_BASES", 2)
    cfg = master(loader)
    composer = TrialComposer(config=cfg, config_loader=loader)
    for i, overrides in enumerate([["db=large"], ["db=small"], ["+extra=1"], ["db=large", "lr=0.2"]]):
        same(composer.compose(overrides), loader.load_sweep_config(cfg, overrides))
        assert len(composer._bases) == min(i + 1, 2)
    assert composer.full_composes == 4  # db=large was dropped before it came back


@pytest.mark.parametrize("swept", [["+extra=1"], ["~flag"], ["++lr=3"], ["a.b.c=1,2"], ["db@x=large"],
                                   ["hydra.job.name=other"], ["lr=0.3", "lr=0.4"]])
def test_other_overrides_are_composed_by_hydra(loader, swept):
    cfg = master(loader)
    composer = TrialComposer(config=cfg, config_loader=loader, fixed=["lr=0.5"])
    try:
        full = loader.load_sweep_config(cfg, swept + ["lr=0.5"])
    except Exception as exc:
        with pytest.raises(type(exc)):
            composer.compose(swept + ["lr=0.5"])
        return
    same(composer.compose(swept + ["lr=0.5"]), full)


@pytest.mark.parametrize("swept", [["a.missing=1"], ["lr=[oops"], ["db=nosuch"], ["a.b.c.x=1"]])
def test_a_bad_override_fails_as_hydra_fails(loader, swept):
    cfg = master(loader)
    composer = TrialComposer(config=cfg, config_loader=loader)
    with pytest.raises(Exception) as ref:
        loader.load_sweep_config(cfg, swept)
    with pytest.raises(type(ref.value)) as got:
        composer.compose(swept)
    assert str(got.value) == str(ref.value)


@pytest.mark.parametrize("fixed", [[], ["db=large"], ["++lr=0.5"]])
def test_the_budget_sweepers_identity_override_is_derived(loader, fixed):
    """The budget sweeper's identity override (``++budgetsweep.trial={...}``, new in every job) was a base of its
    own, so every job paid Hydra's full compose; applied with the plain values it is still Hydra's config."""
    cfg = master(loader)
    composer = TrialComposer(config=cfg, config_loader=loader)
    for number, swept in enumerate(SWEPT):
        identity = [f"++trial={{number:{number},storage:'sqlite:////tmp/x.db',reservation:{0.5 * number}}}"]
        overrides = swept + fixed + identity
        if same_or_same_error(composer, cfg, overrides):
            assert composer.compose(overrides).trial.number == number
    groups = {tuple(o for o in swept + fixed if o.startswith("db=")) for swept in SWEPT}
    assert composer.full_composes == len(groups)  # one base per set of group choices, none per job


@pytest.mark.parametrize("fixed", [[], ["db=large", "lr=0.5"]])
def test_a_planned_config_handed_over_becomes_the_launch_hydra_would_compose(loader, fixed):
    """The budget sweeper plans a trial on its config, then hands it over: the launch (the same overrides
    and the trial's identity) is derived from it in place, once, and is still Hydra's own composition."""
    cfg = master(loader)
    composer = TrialComposer(config=cfg, config_loader=loader, fixed=fixed)
    for number, swept in enumerate(SWEPT):
        overrides = swept + fixed
        planned = composer.compose(overrides)
        composer.hand_over(overrides, planned)
        launch = overrides + [f"++budgetsweep.trial={{number:{number},unit:examples}}"]
        job = composer.compose(launch)
        assert job is planned, swept
        same(job, loader.load_sweep_config(cfg, launch))
        assert job.budgetsweep.trial.number == number
        again = composer.compose(launch)  # handed over once: the next compose copies the base
        assert again is not job
        same(again, loader.load_sweep_config(cfg, launch))
    # a config it did not derive (Hydra's full compose, here a hydra key) is not taken
    full = composer.compose(["hydra.job.name=x"])
    composer.hand_over(["hydra.job.name=x"], full)
    assert composer.compose(["hydra.job.name=x", "lr=3"]) is not full
    # a prefix with other group choices is another base: never taken for it
    planned = composer.compose(["lr=0.3"])
    composer.hand_over(["lr=0.3"], planned)
    assert composer.compose(["lr=0.3", "db=large"]) is not planned
