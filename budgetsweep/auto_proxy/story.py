"""An auto-proxy sweep read back from its Optuna study, the source of truth: what the report shows.

Each trial's ``Job`` tag (``progress.ATTR``) says its phase, rung, configuration and seed; the study's
user attrs (``study_attrs``) hold the rungs, the phase plan, the settings and the choice the sweep made
before its search. The numbers are recomputed from the study's runs by the functions the driver ran:
``choose`` on the calibration runs, ``verify`` on the search's and the verification's runs, ``final_pick`` on
those and the calibration's, ``spent_by_phase`` on the ledger's charges and ``build_summary`` for the answer,
so they agree with the ``auto_proxy_summary.json`` of the same sweep; a study whose recorded choice differs from the one its
runs give now (a record edited, a run added by hand) is shown with the recorded one, and a note says so.

Imports no torch (the report's layer); Optuna and SQLAlchemy are imported when a study is read.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from .choose import Choice, choose
from .final import final_pick
from .halving import halving_plan, ladder, misleading, plan_dicts
from .phases import PhasePlan
from .progress import CALIBRATE, DONE, FULL, SEARCH, VERIFY, Job, current_phase, unrun
from .settings import AutoProxySettings
from .proxy_search import summary_section, with_settings
from .study_attrs import (CHOICE_ATTR, PHASE_ATTR, PLAN_ATTR, PROXY_SEARCH_ATTR, RUNGS_ATTR, SEARCH_BUDGET_ATTR,
                          SEARCH_DONE_ATTR, SETTINGS_ATTR)
from .summary import build_summary, launched, spent_by_phase
from .verify import top_configs, verify


@dataclass
class Story:
    """An auto-proxy study as the report shows it.

    ``summary``: the dict ``auto_proxy_summary.json`` holds (``build_summary`` plus ``phase``,
    ``calibration_skipped`` and, for a halving search, ``halving``); None while no choice can be made
    (no calibration run has completed). ``calibration``, ``search``, ``verification``: run frames of the
    calibration (every rung), the search at the chosen rung, and the verification at full scale.
    ``rungs``: rung name -> {label, overrides, cost}. ``notes``: what a reader must know about the numbers.
    """

    study_name: str
    summary: dict[str, Any] | None
    rungs: dict[str, dict[str, Any]]
    calibration: pd.DataFrame
    search: pd.DataFrame
    verification: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> dict[str, str]:
        """Reduction label -> rung name (``full`` for full scale)."""
        return {str(r["label"]): name for name, r in self.rungs.items()}


def is_auto_proxy(trials: Any) -> bool:
    """Whether any of these Optuna trials carries an auto-proxy ``Job`` tag."""
    return any(Job.from_attrs(t.user_attrs) is not None for t in trials)


def _recorded(data: dict[str, Any]) -> Choice:
    data = dict(data)
    data.pop("fell_back", None)
    return Choice(**data)


def _choice(calib: pd.DataFrame, attrs: dict[str, Any], unit: str, names: dict[str, str],
            notes: list[str]) -> Choice | None:
    """The choice as ``choose`` makes it from the calibration runs with the sweep's settings; the recorded
    one where they differ (the search ran at that) or where the study holds no settings."""
    recorded = attrs.get(CHOICE_ATTR)
    if SETTINGS_ATTR not in attrs:
        if recorded is None:
            notes.append("the study records no auto-proxy settings: the calibration cannot be judged again")
            return None
        notes.append("the study records no auto-proxy settings (a sweep older than the report): the calibration "
                     "evidence is shown as recorded when the choice was made")
        return _recorded(recorded)
    settings = AutoProxySettings.from_mapping(attrs[SETTINGS_ATTR])
    if calib.empty:
        return _recorded(recorded) if recorded is not None else None
    choice = choose(calib, settings, unit, names={k: v for k, v in names.items() if v != FULL})
    if recorded is None:
        notes.append("calibration is not finished: the choice below is what its runs so far give, not yet made")
        return choice
    if (choice.kind, choice.label) != (recorded["kind"], recorded["label"]):
        notes.append(f"the calibration runs now give the choice {choice.name} ({choice.kind}); the sweep chose "
                     f"{recorded['name']} ({recorded['kind']}) before its search, which ran at it: shown as recorded")
        return _recorded(recorded)
    return choice


def _phase(plan: PhasePlan, rungs: dict[str, Any], tags: dict[int, Job | None], ran: set[int],
           attrs: dict[str, Any], search: pd.DataFrame) -> str:
    """The phase the sweep is in: ``done`` once the driver wrote its last summary, else
    ``progress.current_phase``. The driver queues a phase's trials at once and writes the choice as soon
    as calibration ends: a trial the ledger never charged (queued, or asked and put back) is not yet
    tried, except a calibration trial once the choice is made (its phase's cap left it unrun)."""
    if attrs.get(PHASE_ATTR) == DONE:
        return DONE
    if CHOICE_ATTR not in attrs:
        return CALIBRATE
    tried = [job for n, job in tags.items() if job is not None and (n in ran or job.phase == CALIBRATE)]
    search_done = bool(attrs.get(SEARCH_DONE_ATTR))
    keys = top_configs(search, plan.verification.top_k) if len(search) else ([] if search_done else None)
    return current_phase(plan, [name for name in rungs if name != FULL], tried, chosen=True, search_done=search_done,
                         top_keys=keys)


def read_story(storage: str, study_name: str) -> Story | None:
    """The story of an auto-proxy study; None for a study no auto-proxy sweep ran (no tagged trial).

    Raises:
        ValueError: the study is not in ``storage`` (``analysis.study.load_study_runs``), or it has
            tagged trials but not the plan and rungs the driver writes before its first trial.
    """
    import optuna

    from budgetsweep.analysis.study import load_study_runs
    from budgetsweep.budget.ledger import read_charges

    runs = load_study_runs(storage, study_name)  # checks the URL and the study, messages masked
    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    if not is_auto_proxy(trials):
        return None
    attrs = study.user_attrs
    missing = [a for a in (PLAN_ATTR, RUNGS_ATTR) if a not in attrs]
    if missing:
        raise ValueError(f"study {study_name!r} has auto-proxy trials but no {', '.join(missing)} user attr(s): "
                         "the auto-proxy driver writes them before its first trial")
    plan = PhasePlan.from_dict(attrs[PLAN_ATTR])
    rungs = {str(k): dict(v) for k, v in attrs[RUNGS_ATTR].items()}
    tags = {t.number: Job.from_attrs(t.user_attrs) for t in trials}
    charges = read_charges(storage, study_name)
    ran = launched(charges)  # a trial asked and put back shows as a run until the sweeper's run ends

    def members(phase: str) -> pd.Series:
        numbers = {n for n, job in tags.items() if job is not None and job.phase == phase and n in ran}
        return runs["trial_number"].isin(numbers)

    notes: list[str] = []
    names = {str(r["label"]): name for name, r in rungs.items()}
    calib = runs[members(CALIBRATE)]
    choice = _choice(calib, attrs, plan.unit, names, notes)
    if choice is None:
        return Story(study_name, None, rungs, calib, runs.iloc[:0], runs.iloc[:0], notes)
    # a proxy search keeps its sampled settings in a study of its own, in the same storage
    proxy_study = None
    if PROXY_SEARCH_ATTR in attrs and SETTINGS_ATTR in attrs:
        proxy_study = optuna.load_study(study_name=attrs[PROXY_SEARCH_ATTR]["study"], storage=storage)
        choice = replace(choice, candidates=with_settings(choice.candidates, proxy_study, rungs))
    search = runs[members(SEARCH) & (runs["reduction_label"] == rungs[choice.name]["label"])]
    full = runs[members(VERIFY)]
    top_k = plan.verification.top_k
    queued_verify = any(job is not None and job.phase == VERIFY for job in tags.values())
    verification = verify(search, full, top_k) if len(search) and queued_verify else None
    phase_of = {n: job.phase for n, job in tags.items() if job is not None}
    summary = build_summary(limit=plan.limit, unit=plan.unit, choice=choice, spent=spent_by_phase(charges, phase_of),
                            plan=plan, verification=verification, final=final_pick(verification, full, calib))
    summary["phase"] = _phase(plan, rungs, tags, ran, attrs, search)
    # a calibration trial never charged once calibration is over did not fit its phase's cap (the driver says so)
    summary["calibration_skipped"] = [] if summary["phase"] == CALIBRATE else unrun(tags, ran, CALIBRATE)
    settings = attrs.get(SETTINGS_ATTR) or {}
    eta = (settings.get("search") or {}).get("eta")
    if eta is not None:
        costs = [(name, float(r["cost"])) for name, r in rungs.items()]
        budget = float(attrs.get(SEARCH_BUDGET_ATTR, plan.search.budget))  # the driver's cap, as it fixed it
        rungs_plan = halving_plan(ladder(costs, choice.name, misleading(choice.candidates)), budget, eta,
                                  settings["search"]["min_trials"])
        summary["halving"] = {"eta": eta, "rungs": plan_dicts(rungs_plan)}
    if proxy_study is not None:
        sweep_settings = AutoProxySettings.from_mapping(settings)
        summary["proxy_search"] = summary_section(proxy_study, sweep_settings.proxy_search, sweep_settings.criterion)
    return Story(study_name, summary, rungs, calib, search, full, notes)


__all__ = ["Story", "is_auto_proxy", "read_story"]
