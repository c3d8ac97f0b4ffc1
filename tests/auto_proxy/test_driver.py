"""The driver's pieces that the sweeper relies on: the phase cap (a real SQLite ledger) and the search
sampler's view of the study (a real Optuna study)."""
from __future__ import annotations

import optuna

from budgetsweep.auto_proxy.driver import PhaseLedger, _SearchView, search_only
from budgetsweep.auto_proxy.progress import Job
from budgetsweep.budget.ledger import NO_BUDGET, RESERVED_OK, Ledger


def test_a_phase_reserves_only_within_its_planned_cost_and_the_budget_still_holds(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}", "s", unit="examples", limit=1000.0)
    members = {0, 1, 2}
    phase = PhaseLedger(ledger, 300.0, lambda: members)
    assert ledger.try_reserve(9, 500.0) == RESERVED_OK  # another phase's trial: not this phase's
    assert phase.try_reserve(0, 200.0) == RESERVED_OK
    assert phase.remaining() == 100.0  # the phase's 300 less its 200 held (the budget has 300 left)
    assert phase.try_reserve(1, 150.0) == NO_BUDGET  # 200 + 150 > 300: refused though the budget has room
    ledger.commit(0, 180.0)
    assert phase.used() == 180.0 and phase.try_reserve(1, 120.0) == RESERVED_OK
    assert phase.top_up(1, 50.0) == 0.0  # the phase is full: no tolerance beyond its plan
    wide = PhaseLedger(ledger, 10_000.0, lambda: members)
    assert wide.try_reserve(2, 400.0) == NO_BUDGET  # the global limit: 180 + 120 + 500 + 400 > 1000
    assert wide.remaining() == ledger.remaining() == 200.0


def _add(study, x, job):
    study.add_trial(optuna.trial.create_trial(params={"x": x}, distributions={"x": optuna.distributions.FloatDistribution(0, 10)},
                                              value=x, user_attrs=job.attrs() if job else {}))


def test_the_search_sampler_sees_only_search_trials():
    study = optuna.create_study()
    for i in range(4):
        _add(study, 1.0 + i, Job("calibrate", "full", i, 0))
    _add(study, 5.0, Job("verify", "full", "k", 1000))
    _add(study, 7.0, Job("search", "half", 5, -1))
    _add(study, 8.0, None)  # asked by the search, not tagged yet
    view = _SearchView(study)
    assert [t.params["x"] for t in view.get_trials()] == [7.0, 8.0]
    assert [t.params["x"] for t in view._get_trials(deepcopy=False)] == [7.0, 8.0]
    assert len(study.trials) == 7 and view.study_name == study.study_name  # everything else is the study's
    # a real TPE sampler, wrapped: it samples from what the view holds (2 trials: still its startup phase)
    study.sampler = search_only(optuna.samplers.TPESampler(seed=0, n_startup_trials=3))
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 10)})
    assert 0.0 <= trial.params["x"] <= 10.0


def test_a_halving_search_sampler_sees_only_its_first_rung():
    study = optuna.create_study()
    _add(study, 1.0, Job("calibrate", "full", 0, 0))
    _add(study, 2.0, Job("search", "quarter", 1, -1))
    _add(study, 3.0, Job("search", "half", "key", -1))  # a promotion: another rung, another scale
    view = _SearchView(study, lambda job: job is None or (job.phase == "search" and job.rung == "quarter"))
    assert [t.params["x"] for t in view.get_trials()] == [2.0]
