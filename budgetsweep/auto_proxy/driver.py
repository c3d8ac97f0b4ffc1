"""Auto-proxy inside the budget sweeper: the phases calibrate -> choose -> search -> verify run in one
study and one ledger, through the sweeper's own loop (ask -> reserve -> launch -> tell).

The sweeper hands a ``Sweep`` (its study, ledger, search space, fixed overrides and a ``run_phase``
call that runs its loop for a number of new trials); everything else is decided here, from the pure
policy modules (``phases``, ``choose``, ``verify``, ``summary``, ``progress``).

- Calibration and verification trials are enqueued with fixed parameters (``study.enqueue_trial``)
  and the tag ``Job.attrs()``; the sweeper's ask adds the tagged rung's and seed's overrides.
- The search's sampler sees only search trials (``SearchOnlySampler``): the calibration and
  verification trials ran at other rungs, whose objective values are on other scales. One study
  keeps one ledger and one trial numbering (a second study would need a second ledger).
- Each phase reserves only while its spent + reserved + prediction stays within its planned cost
  (``PhaseLedger``); the global limit holds as the ledger enforces it.
- The sampled calibration configurations, the rung map, the plan and the choice live in the study's user
  attrs (Optuna 5 has no public study system attrs), so a resumed sweep reuses them and continues the phase it was in.
- A proxy search (``auto_proxy.proxy_search``) adds rungs during calibration: after full scale and the
  given candidates, each setting its Optuna study (``proxy_search``) samples is calibrated as a rung of
  its own (``proxy_search[<n>]``) on the same configurations, then told its fidelity and cost factor.
  The phase plan prices every setting at the costliest corner of its space, so whatever is sampled fits.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from .choose import Choice, choose
from .costs import RungPlan, proxy_search_plans
from .final import FinalPick, final_pick
from .halving import HalvingRung, halving_plan, ladder, misleading, plan_dicts
from .phases import FIT_TOL, PhasePlan, plan_phases
from .presets import resolve_preset
from .progress import (ATTR, CALIBRATE, FULL, SEARCH, VERIFY, Job, calibration_jobs, remaining, rung_jobs, unrun,
                       verification_jobs)
from .proxy_search import (LABEL_ATTR, RUNG_ATTR, SAME_AS_ATTR, ProxySearchStudy, Setting, summary_section,
                           with_settings)
from .settings import KEY, AutoProxyConfigError, AutoProxySettings, Candidate
from .study_attrs import (CHOICE_ATTR, CONFIGS_ATTR, PHASE_ATTR, PLAN_ATTR, PROXY_SEARCH_ATTR, RUNGS_ATTR,
                          SEARCH_BUDGET_ATTR, SEARCH_DONE_ATTR, SETTINGS_ATTR)
from .summary import build_summary, launched, spent_by_phase, write_summary
from .verify import top_configs, verify

log = logging.getLogger("hydra_plugins.budgetsweep_sweeper._impl")

SEED_KEY = "seed"


def space_size(distributions: Mapping[str, Any]) -> float:
    """How many configurations an Optuna search space holds (``math.inf`` with a continuous parameter)."""
    import math

    import optuna.distributions as d

    size = 1.0
    for dist in distributions.values():
        if isinstance(dist, d.CategoricalDistribution):
            size *= len(dist.choices)
        elif isinstance(dist, d.IntDistribution):
            size *= 1 + (dist.high - dist.low) // dist.step if not dist.log else 1 + dist.high - dist.low
        elif isinstance(dist, d.FloatDistribution) and dist.step is not None:
            size *= 1 + math.floor(round((dist.high - dist.low) / dist.step, 9))
        else:
            return math.inf
    return size


CALIBRATION_STREAM = 0xCA1  # spawns the calibration's random stream from calibrate.sampler_seed


def calibration_seed(sampler_seed: int) -> int:
    """The seed of the calibration's RandomSampler: a stream of its own, so that a search sampler seeded
    with the same number (TPE's random start-up with ``hydra.sweeper.sampler.seed=0`` and the default
    ``calibrate.sampler_seed=0``) does not propose the calibration's configurations again."""
    import numpy as np

    return int(np.random.SeedSequence([sampler_seed, CALIBRATION_STREAM]).generate_state(1)[0])


def job_of(trial: Any) -> Optional[Job]:
    """The auto-proxy tag of an Optuna trial (FrozenTrial or Trial), or None."""
    return Job.from_attrs(trial.user_attrs)


# -- the search's sampler view ---------------------------------------------------------------------
def _search_trials(job: Optional[Job]) -> bool:
    return job is None or job.phase == SEARCH


class _SearchView:
    """A study whose trial lists hold only the trials ``keep(job)`` accepts (the search's at the rung
    the sampler proposes for); all else delegates."""

    def __init__(self, study: Any, keep: Callable[[Optional[Job]], bool] = _search_trials) -> None:
        self._study, self._accept = study, keep

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _keep(self, trials: Sequence[Any]) -> list:
        return [t for t in trials if self._accept(job_of(t))]

    def get_trials(self, *args: Any, **kwargs: Any) -> list:
        return self._keep(self._study.get_trials(*args, **kwargs))

    def _get_trials(self, *args: Any, **kwargs: Any) -> list:
        return self._keep(self._study._get_trials(*args, **kwargs))

    @property
    def trials(self) -> list:
        return self.get_trials()


def search_only(sampler: Any, keep: Callable[[Optional[Job]], bool] = _search_trials) -> Any:
    """``sampler`` wrapped so that it learns from the trials ``keep`` accepts (default: search trials;
    an Optuna BaseSampler). Calibration and verification ran at other rungs, and so did a halving
    search's promotions: their objective values are on other scales."""
    import optuna

    class SearchOnlySampler(optuna.samplers.BaseSampler):
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def infer_relative_search_space(self, study, trial):
            return self.inner.infer_relative_search_space(_SearchView(study, keep), trial)

        def sample_relative(self, study, trial, search_space):
            return self.inner.sample_relative(_SearchView(study, keep), trial, search_space)

        def sample_independent(self, study, trial, param_name, param_distribution):
            return self.inner.sample_independent(_SearchView(study, keep), trial, param_name, param_distribution)

        def before_trial(self, study, trial):
            self.inner.before_trial(_SearchView(study, keep), trial)

        def after_trial(self, study, trial, state, values):
            self.inner.after_trial(_SearchView(study, keep), trial, state, values)

        def reseed_rng(self):
            self.inner.reseed_rng()

    return SearchOnlySampler(sampler)


# -- the phase cap -------------------------------------------------------------------------------------
class PhaseLedger:
    """The study's ledger, seen by one phase: a reservation is refused (``NO_BUDGET``) when the phase's
    spent + reserved + the prediction would pass ``cap``; ``remaining`` is the lesser of the phase's
    and the budget's. ``members()``: the trial numbers of the phase (read when needed: a trial joins
    its phase when it is asked)."""

    def __init__(self, ledger: Any, cap: float, members: Callable[[], set]) -> None:
        self.inner, self.cap, self.members = ledger, float(cap), members

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def used(self) -> float:
        numbers = self.members()
        return sum((c.actual if c.actual is not None else (c.reserved or 0.0))
                   for c in self.inner.charges() if c.trial in numbers)

    def try_reserve(self, trial: Any, predicted: float, **kwargs: Any) -> str:
        from budgetsweep.budget.ledger import NO_BUDGET

        if self.used() + predicted > self.cap * (1 + FIT_TOL):
            return NO_BUDGET
        return self.inner.try_reserve(trial, predicted, **kwargs)

    def remaining(self) -> float:
        return min(self.inner.remaining(), self.cap - self.used())

    def top_up(self, trial: Any, extra: float) -> float:
        return self.inner.top_up(trial, max(0.0, min(extra, self.cap - self.used())))


@dataclass
class Sweep:
    """What the driver needs from the budget sweeper.

    ``run_phase(slots, ledger)``: run the sweeper's loop for at most ``slots`` new trials with
    ``ledger`` (a ``PhaseLedger``) as the reservations' ledger; returns why it stopped.
    ``price(overrides)``: (reduction label, predicted cost of one trial in ``unit``) of a trial with
    these overrides before the fixed ones, as the sweeper composes and predicts it (``costs.rung_plans``
    composes a fresh Hydra, which cannot run inside Hydra's own sweep); raises on a config that cannot run.
    ``override(name, value)``: a swept parameter's override as the sweeper writes it for a trial."""

    study: Any
    ledger: Any
    distributions: Mapping[str, Any]
    base_overrides: list[str]
    unit: str
    limit: Optional[float]
    storage_url: str
    sweep_dir: Path
    run_phase: Callable[[int, Any], str]
    price: Callable[[list[str]], tuple[str, float]]
    override: Callable[[str, Any], str]


class AutoProxyDriver:
    """Plans the phases before any trial (``prepare``) and runs them (``run``)."""

    def __init__(self, settings: AutoProxySettings, sweep: Sweep) -> None:
        self.settings, self.s = settings, sweep
        self.study = sweep.study
        self.phase: Optional[str] = None
        self.plan: Optional[PhasePlan] = None
        self.rungs: dict[str, dict[str, Any]] = {}
        self.configs: list[dict[str, Any]] = []
        self.choice: Optional[Choice] = None
        self.verification = None
        self.final: Optional[FinalPick] = None  # the best configuration measured at full scale (``final_pick``)
        self.final_params: Optional[tuple[dict[str, Any], float, str]] = None  # its parameters, score, source
        self.search_rung: Optional[str] = None  # the rung the sampler's fresh trials run at
        self.skipped: list[dict[str, Any]] = []  # calibration trials the phase cap left unrun
        self.halving: Optional[list[HalvingRung]] = None  # search.eta set: the rungs of the search
        self.search_budget: float = 0.0  # the search's cap (``_search_budget``), once calibration ended
        self.fixed: list[str] = []  # the given candidates' rungs (a proxy search adds its own as it samples)
        self.proxy_search: Optional[ProxySearchStudy] = None

    @classmethod
    def from_mapping(cls, node: Mapping[str, Any], sweep: Sweep) -> "AutoProxyDriver":
        return cls(AutoProxySettings.from_mapping(node), sweep)

    # -- before any trial -----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Sample (once) the calibration configurations, price each rung on them, plan the phases.

        Raises AutoProxyConfigError or PhaseError (ValueErrors: the sweeper exits 2 before any trial)."""
        attrs = self.study.user_attrs
        # sampled first: every rung is priced on them (a searched width changes a trial's cost)
        self.configs = attrs.get(CONFIGS_ATTR) or self._sample_configs(self.settings.calibrate.configs)
        full, plans = self._rung_plans()
        sampled = self._proxy_search_plans()
        self.fixed = [p.name for p in plans]
        self.plan = plan_phases(self.settings, self.s.limit, self.s.unit, full.rung_cost,
                                [p.rung_cost for p in (*plans, *sampled)])
        for note in self.plan.notes:
            log.warning(f"auto-proxy: {note}")
        self.rungs = attrs.get(RUNGS_ATTR) or {
            FULL: {"label": full.label, "overrides": [], "cost": full.cost},
            **{p.name: {"label": p.label, "overrides": list(p.overrides), "cost": p.cost} for p in plans}}
        self.study.set_user_attr(RUNGS_ATTR, self.rungs)
        self.study.set_user_attr(CONFIGS_ATTR, self.configs)
        self.study.set_user_attr(PLAN_ATTR, _jsonable(self.plan.to_dict()))
        self.study.set_user_attr(SETTINGS_ATTR, _jsonable(asdict(self.settings)))
        if CHOICE_ATTR in attrs:
            data = dict(attrs[CHOICE_ATTR])
            data.pop("fell_back", None)
            self.choice = Choice(**data)
        self.study.sampler = search_only(self.study.sampler, self._sampled)
        if sampled:
            from budgetsweep.budget.storage import open_optuna_storage

            self.proxy_search = ProxySearchStudy(self.settings.proxy_search, open_optuna_storage(self.s.storage_url),
                                                 self.study.study_name, self.settings.calibrate.sampler_seed)
            self.study.set_user_attr(PROXY_SEARCH_ATTR, {"study": self.proxy_search.study.study_name})
        if self.settings.search.eta is not None:  # the costliest ladder (the choice: full scale) must fit
            costs = [(FULL, full.cost), *((p.name, p.cost) for p in (*plans, *sampled))]
            halving_plan(ladder(costs, FULL), self.plan.search.budget, self.settings.search.eta,
                         self.settings.search.min_trials)
        c = self.plan.calibration
        searched = f" + {len(sampled)} proxy search setting(s)" if sampled else ""
        log.info(f"auto-proxy plan: calibrate {c.configs} configurations x ({c.full_seeds} full seed(s) + "
                 f"{len(plans)} candidate(s){searched}) = {c.cost:g} {self.s.unit}; search up to "
                 f"{self.plan.search.budget:g}; "
                 f"verify top {self.plan.verification.top_k} x {self.plan.verification.seeds} seed(s) = "
                 f"{self.plan.verification.cost:g} (limit {self.s.limit:g})")

    def _price(self, key: str, overrides: Sequence[str], configs: Optional[Sequence[Mapping[str, Any]]] = None
               ) -> tuple[str, float]:
        """(reduction label, mean predicted cost of one trial) of a rung's ``overrides`` over ``configs``
        (default: the calibration's), each priced as the sweeper prices that trial. The mean times the
        number of configurations is what they cost together, so the phase plan holds a wide configuration's
        runs too (a rung priced at the task's defaults would not). AutoProxyConfigError naming ``key``: a
        rung that cannot run for this task."""
        priced = []
        for config in self.configs if configs is None else configs:
            swept = [self.s.override(name, value) for name, value in config.items()]
            try:
                priced.append(self.s.price([*swept, *overrides]))
            except Exception as exc:  # a composition or plan error: the candidate cannot run for this task
                raise AutoProxyConfigError(f"{key}: cannot run for this task: {exc}") from None
        return priced[0][0], sum(cost for _, cost in priced) / len(priced)

    def _rung_plans(self) -> tuple[RungPlan, list[RungPlan]]:
        """Full scale and each candidate, priced by the sweeper (``Sweep.price``)."""
        price = self._price
        label, cost = price("the full recipe", [])
        full = RungPlan(FULL, label, cost, ())
        plans: list[RungPlan] = []
        for i, given in enumerate(self.settings.candidates):
            candidate = resolve_preset(given, f"candidates[{i}]")
            key = f"{KEY}.candidates[{i}] ({candidate.label})"
            label, cost = price(key, candidate.overrides())
            if label == FULL:
                raise AutoProxyConfigError(f"{key}: reduces nothing (its recipe is the full recipe); drop it")
            same = next((j for j, p in enumerate(plans) if p.label == label), None)
            if same is not None:
                raise AutoProxyConfigError(
                    f"{key} runs the same recipe as {KEY}.candidates[{same}] ({plans[same].name}): {label}; "
                    "candidates must differ (their runs would be pooled as one)")
            plans.append(RungPlan(candidate.label, label, cost, tuple(candidate.overrides())))
        return full, plans

    def _proxy_search_plans(self) -> list[RungPlan]:
        """The proxy search's ``trials`` settings, each planned at the costliest corner of its space (the
        plan must hold whatever Optuna samples); a corner that cannot run, or runs the full recipe, is an
        error naming it. Empty without a proxy search."""
        search = self.settings.proxy_search
        if not search.reduction:
            return []

        def price(corner: Candidate) -> RungPlan:
            key = f"{KEY}.proxy_search at {corner.params}"
            label, cost = self._price(key, corner.overrides())
            if label == FULL:
                raise AutoProxyConfigError(f"{key}: reduces nothing (its recipe is the full recipe); narrow "
                                           f"{KEY}.proxy_search.params so that every setting reduces the recipe")
            return RungPlan(corner.label, label, cost, tuple(corner.overrides()))

        return proxy_search_plans(search, price)

    def _sample_configs(self, n: int) -> list[dict[str, Any]]:
        """``n`` distinct configurations of the search space by a RandomSampler seeded with
        calibrate.sampler_seed (a configuration drawn twice is drawn again). AutoProxyConfigError: the
        space holds fewer than ``n`` configurations (no search space at all: one)."""
        import optuna

        size = space_size(self.s.distributions)
        if size < n:
            raise AutoProxyConfigError(
                f"{KEY}.calibrate.configs={n} is not allowed: the search space "
                f"({', '.join(self.s.distributions) or 'no swept parameter'}) holds {size:.0f} configuration(s); calibration "
                "needs that many distinct ones. Lower it or sweep more, e.g. 'optim.lr=tag(log, interval(1e-4, 1e-1))'")
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created in memory" in the sweep's log
        try:
            scratch = optuna.create_study(sampler=optuna.samplers.RandomSampler(calibration_seed(
                self.settings.calibrate.sampler_seed)))
        finally:
            optuna.logging.set_verbosity(verbosity)
        out: list[dict[str, Any]] = []
        while len(out) < n:
            params = dict(scratch.ask(fixed_distributions=dict(self.s.distributions)).params)
            if params not in out:
                out.append(params)
        return out

    # -- the trials' overrides ---------------------------------------------------------------------
    def trial_overrides(self, trial: Any) -> list[str]:
        """The rung's and the seed's overrides of an asked trial (after its swept values, before the
        fixed overrides). A search trial: the chosen rung's."""
        job = job_of(trial)
        if job is None:  # a search trial: tag it now (the sampler's view and the phase's members read it)
            job = Job(SEARCH, self.search_rung or FULL, trial.number, -1)
            trial.set_user_attr(ATTR, job.attrs()[ATTR])
        out = list(self.rungs[job.rung]["overrides"])
        if job.seed >= 0:
            out.append(f"{SEED_KEY}={job.seed}")
        return out

    def belongs(self, trial: Any) -> bool:
        """Whether an asked trial belongs to the phase running now (a queued trial of another phase,
        left waiting by an earlier run, is parked instead)."""
        job = job_of(trial)
        return (job.phase if job is not None else SEARCH) == self.phase

    @staticmethod
    def fresh(trial: Any) -> bool:
        """A trial the sampler just proposed (not one queued by a phase)."""
        return job_of(trial) is None

    # -- the phases ------------------------------------------------------------------------------------
    def _tags(self) -> list[tuple[int, Optional[Job], str]]:
        return [(t.number, job_of(t), t.state.name) for t in self.study.get_trials(deepcopy=False)]

    def _members(self, phase: str) -> Callable[[], set]:
        return lambda: {n for n, j, _ in self._tags() if j is not None and j.phase == phase}

    def _enqueue(self, jobs: Sequence[Job], params: Callable[[Job], dict]) -> None:
        for job in jobs:
            self.study.enqueue_trial(params(job), user_attrs=job.attrs(), skip_if_exists=False)

    def _run(self, phase: str, cap: float, slots: int) -> str:
        self.phase = phase
        if slots <= 0:
            return "nothing left to run"
        return self.s.run_phase(slots, PhaseLedger(self.s.ledger, cap, self._members(phase)))

    def run(self) -> dict[str, Any]:
        """Calibrate, choose, search, verify (each resumed where an earlier run left it); writes the
        summary and returns it."""
        assert self.plan is not None
        tried = [j for _, j, _ in self._tags()]
        # calibrate: full scale and the given candidates, then the proxy search's settings one by one
        todo = remaining(calibration_jobs(self.plan, self.fixed), tried)
        self._enqueue(todo, lambda j: self.configs[int(j.config)])
        self._calibrate()
        if self.choice is None:
            self._search_proxies()
        self.skipped = self._skipped_calibration()
        # choose
        runs = self._runs()
        if self.choice is None:
            labels = {r["label"]: n for n, r in self.rungs.items() if n != FULL}
            self.choice = self._with_settings(choose(self._calibration_runs(runs), self.settings, self.s.unit,
                                                     names=labels))
            self.study.set_user_attr(CHOICE_ATTR, _jsonable(self.choice.to_dict()))
            log.info(f"auto-proxy choice: {self.choice.reason}")
        if not self.study.user_attrs.get(SEARCH_DONE_ATTR):  # a resumed sweep past the search wrote it already
            self._write(runs)  # the choice and its evidence, before the search
        # search
        self.search_budget = self._search_budget()
        if self.settings.search.eta is not None:
            climbed = ladder(self._rung_costs(), self.choice.name, misleading(self.choice.candidates))
            self.halving = halving_plan(climbed, self.search_budget, self.settings.search.eta,
                                        self.settings.search.min_trials)
            # named: the rungs the ladder would have climbed (cheaper than the choice), not every skipped one
            kept = {n for n, _ in climbed}
            left_out = [n for n, _ in ladder(self._rung_costs(), self.choice.name) if n not in kept]
            if left_out and not self.study.user_attrs.get(SEARCH_DONE_ATTR):
                log.info(f"auto-proxy successive halving: not through {', '.join(left_out)} (calibration measured "
                         "their ranking at rho <= 0, could not rank, or did not learn)")
        self.search_rung = self.halving[0].name if self.halving else self.choice.name
        if not self.study.user_attrs.get(SEARCH_DONE_ATTR):
            why = self._halving() if self.halving else self._search()
            log.info(f"auto-proxy search ended: {why}")
            self.study.set_user_attr(SEARCH_DONE_ATTR, True)
        # verify: the search's top at its last rung
        runs = self._runs()
        search = self._search_runs(runs, self.halving[-1].name if self.halving else self.choice.name)
        if len(search):
            keys = top_configs(search, self.plan.verification.top_k)
            params = self._params_by_key(search)
            todo = remaining(verification_jobs(self.plan, keys), [j for _, j, _ in self._tags()])
            self._enqueue(todo, lambda j: params[str(j.config)])
            waiting = [n for n, j, s in self._tags() if j is not None and j.phase == VERIFY and s == "WAITING"]
            self._run(VERIFY, self._verify_cap(todo, params), len(waiting))
            runs = self._runs()
            search = self._search_runs(runs, self.halving[-1].name if self.halving else self.choice.name)
            full = runs[runs["trial_number"].isin(self._members(VERIFY)())]
            self.verification = verify(search, full, self.plan.verification.top_k)
            calib = self._calibration_runs(runs)
            self.final = final_pick(self.verification, full, calib)
            if self.final is not None:  # the best measured at full scale: a verified or a calibration configuration
                params = {**self._params_by_key(calib), **params}
                self.final_params = (params[self.final.config_key], self.final.full_mean, self.final.source)
        self.phase = "done"
        return self._write(runs)

    def _calibrate(self) -> str:
        waiting = [n for n, j, s in self._tags() if j is not None and j.phase == CALIBRATE and s == "WAITING"]
        return self._run(CALIBRATE, self.plan.calibration.cost, len(waiting))

    def _calibration_runs(self, runs):
        """The calibration's runs: a trial asked and put back (never charged) shows as a run, with no label,
        until the sweeper's run ends; it never ran."""
        ran = self._members(CALIBRATE)() & launched(self.s.ledger.charges())
        return runs[runs["trial_number"].isin(ran)]

    # -- the proxy search --------------------------------------------------------------------------------
    def _search_proxies(self) -> None:
        """Each setting the proxy search samples, calibrated as a rung of its own on the calibration
        configurations (within the calibration's cap), then told its fidelity and cost factor, so that
        the sampler proposes the next from them. A setting whose recipe a rung already runs (a choice
        drawn again) runs nothing: it is told that rung's values."""
        if self.proxy_search is None:
            return
        while (setting := self.proxy_search.next()) is not None:
            label, cost = self._price(f"{KEY}.proxy_search setting {setting.params}", setting.overrides)
            same = next((n for n, r in self.rungs.items() if r["label"] == label and n != setting.name), None)
            attrs: dict[str, Any] = {RUNG_ATTR: setting.name, LABEL_ATTR: label}
            if same is None:
                self._add_rung(setting, label, cost)
                todo = remaining(rung_jobs(self.plan, setting.name), [j for _, j, _ in self._tags()])
                self._enqueue(todo, lambda j: self.configs[int(j.config)])
                self._calibrate()
            else:
                attrs[SAME_AS_ATTR] = same
            fidelity, factor = self._fidelity(label, cost)
            self.proxy_search.tell(setting, fidelity, factor, {**attrs, "fidelity": fidelity, "cost_factor": factor})
            log.info(f"auto-proxy proxy search: {setting.name} {setting.params} ({label}): "
                     f"{self.settings.criterion} {_text(fidelity)}, cost factor {_text(factor)}"
                     + (f" (the recipe of {same})" if same else ""))

    def _add_rung(self, setting: Setting, label: str, cost: float) -> None:
        """A sampled setting's rung, kept in the study's rung map before its first trial is asked (a
        resumed sweep reads it back)."""
        self.rungs[setting.name] = {"label": label, "overrides": list(setting.overrides), "cost": cost,
                                    "params": dict(setting.params)}
        self.study.set_user_attr(RUNGS_ATTR, self.rungs)

    def _fidelity(self, label: str, cost: float) -> tuple[Optional[float], Optional[float]]:
        """(fidelity on the criterion, cost factor) of the rung with reduction label ``label`` over the
        calibration runs, as ``choose`` measures them (the analysis module's estimate; rho where rho_rel
        has no noise ceiling). The cost factor is the measured cost against full scale's, else the
        predicted one. (None, None): nothing to compare (its runs failed or were not run)."""
        import math

        runs = self._calibration_runs(self._runs())
        pair = runs[runs["reduction_label"].isin([self.rungs[FULL]["label"], label])]
        try:
            rows = choose(pair, self.settings, self.s.unit).candidates
        except (ValueError, KeyError) as exc:  # no paired configuration: the analysis module refuses
            log.warning(f"auto-proxy proxy search: no fidelity for {label}: {exc}")
            return None, None
        row = next((r for r in rows if r["label"] == label), None)
        if row is None:
            return None, None
        fidelity = row.get(self.settings.criterion)
        fidelity = row.get("rho") if fidelity is None else fidelity
        reduction = row.get("cost_reduction")
        factor = 1.0 / reduction if reduction and math.isfinite(reduction) else cost / float(self.rungs[FULL]["cost"])
        return fidelity, factor

    def _with_settings(self, choice: Choice) -> Choice:
        """``choice`` whose sampled candidates carry their setting (``proxy_search.with_settings``)."""
        if self.proxy_search is None:
            return choice
        return replace(choice, candidates=with_settings(choice.candidates, self.proxy_search.study, self.rungs))

    def _verify_cap(self, todo: Sequence[Job], params: Mapping[str, Mapping[str, Any]]) -> float:
        """The verification's cap: its planned cost (full scale priced on the calibration configurations),
        or all the budget has left once the search is over if that is more (nothing else needs it). The
        runs left are priced per configuration before the phase starts; if they cannot all fit, a warning
        says so (the costliest are refused, never charged)."""
        used = PhaseLedger(self.s.ledger, 0.0, self._members(VERIFY)).used()
        cap = max(self.plan.verification.cost, used + self.s.ledger.remaining())
        need = used + sum(self._price(f"verification of {j.config}", [], [params[str(j.config)]])[1] for j in todo)
        if need > cap * (1 + FIT_TOL):
            from budgetsweep.budget.units import format_cost

            log.warning(f"auto-proxy: verification needs {format_cost(need, self.s.unit)} {self.s.unit} for the "
                        f"top configurations priced one by one ({len(todo)} run(s) left) and "
                        f"{format_cost(cap, self.s.unit)} is left: the runs that do not fit will not run (raise "
                        f"hydra.sweeper.budget.limit or {KEY}.shares.verify)")
        return cap

    def _skipped_calibration(self) -> list[dict[str, Any]]:
        """Calibration trials the phase's cap left unrun (a prediction above the one planned: the time model
        learning from the first runs, in gpu_hours), with a warning: the choice sees fewer pairs."""
        skipped = unrun({n: j for n, j, _ in self._tags()}, launched(self.s.ledger.charges()), CALIBRATE)
        if skipped:
            log.warning(f"auto-proxy: {len(skipped)} calibration trial(s) did not fit the calibration's planned cost "
                        f"and were not run ({_skipped_text(skipped)}): "
                        "the plan priced each configuration at each rung before calibration started, and a "
                        "trial's prediction can grow since (the time model learns from the runs); the choice sees "
                        "fewer paired configurations")
        return skipped

    def _sampled(self, job: Optional[Job]) -> bool:
        """The trials the search's sampler learns from: the search's at the rung it proposes for."""
        return job is None or (job.phase == SEARCH and job.rung == self.search_rung)

    def _rung_costs(self) -> list[tuple[str, float]]:
        return [(name, float(r["cost"])) for name, r in self.rungs.items()]

    def _search_runs(self, runs, rung: str):
        """The search's runs at ``rung`` (by its reduction label)."""
        members = runs["trial_number"].isin(self._members(SEARCH)())
        return runs[members & (runs["reduction_label"] == self.rungs[rung]["label"])]

    def _search_budget(self) -> float:
        """The search's cap: the plan's, plus what calibration was planned and did not spend (a proxy search's
        settings are planned at their space's costliest end; a calibration trial may fail early), so no part of
        the budget is left to nobody. Fixed in the study once calibration ended: a resumed sweep and the report
        read the same."""
        kept = self.study.user_attrs.get(SEARCH_BUDGET_ATTR)
        if kept is not None:
            return float(kept)
        spent = PhaseLedger(self.s.ledger, 0.0, self._members(CALIBRATE)).used()
        unspent = max(0.0, self.plan.calibration.cost - spent)
        budget = self.plan.search.budget + unspent
        self.study.set_user_attr(SEARCH_BUDGET_ATTR, budget)
        if unspent > 0:
            from budgetsweep.budget.units import format_cost

            planned = format_cost(self.plan.search.budget, self.s.unit)
            log.info(f"auto-proxy: calibration spent {format_cost(spent, self.s.unit)} of its planned "
                     f"{format_cost(self.plan.calibration.cost, self.s.unit)} {self.s.unit}; the search's cap is "
                     f"{format_cost(budget, self.s.unit)} (planned {planned})")
        return budget

    def _search(self) -> str:
        """The configured sampler at the chosen rung, for the trials the search budget fits there."""
        import math

        done = len([1 for _, j, s in self._tags() if j is not None and j.phase == SEARCH and s != "WAITING"])
        # the trials that fit at the rung's own price (a sampled setting was planned at its space's costliest end),
        # priced again now: in gpu_hours the plan priced it before any trial (assumed_overhead_seconds per trial,
        # slow on purpose) and calibration has since measured it; a slot count from the plan's price left 99.8% of
        # a budget unspent. The search's cap still bounds what it spends; in examples and flops the price is the same.
        rung = self.rungs[self.choice.name]
        cost = float(rung["cost"])
        if self.s.unit == "gpu_hours":
            cost = min(cost, self._price(f"the search at {self.choice.name}", rung["overrides"])[1])
        slots = math.floor(self.search_budget / cost * (1 + FIT_TOL)) - done
        return self._run(SEARCH, self.search_budget, slots)

    def _halving(self) -> str:
        """Successive halving: the sampler's configurations at the first rung, then each rung's top
        1/eta queued at the next; a rung may spend what the rungs up to it were planned to cost (so
        the last ones keep theirs), all of them within the search's cap."""
        assert self.halving is not None
        why, planned = "nothing left to run", 0.0
        for i, rung in enumerate(self.halving):
            planned = min(self.search_budget, planned + rung.configs * rung.cost)
            tags = self._tags()
            if i == 0:
                done = len([1 for _, j, s in tags if j is not None and j.phase == SEARCH and j.rung == rung.name
                            and s != "WAITING"])
                why = self._run(SEARCH, planned, rung.configs - done)
                continue
            below = self._search_runs(self._runs(), self.halving[i - 1].name)
            if below.empty:
                return f"rung {self.halving[i - 1].name} has no completed run to promote"
            keys = top_configs(below, rung.configs)
            params = self._params_by_key(below)
            todo = remaining([Job(SEARCH, rung.name, key, -1) for key in keys], [j for _, j, _ in tags])
            self._enqueue(todo, lambda j: params[str(j.config)])
            waiting = [n for n, j, s in self._tags() if j is not None and j.phase == SEARCH and s == "WAITING"]
            why = self._run(SEARCH, planned, len(waiting))
        return why

    def answer(self) -> Optional[tuple[dict[str, Any], float, str]]:
        """(parameters, full-scale seed-mean objective, what it is) of the final pick (the best configuration
        measured at full scale, by verification or calibration), for the sweeper's ``optimization_results.yaml``;
        None before verification."""
        if self.final_params is None:
            return None
        params, value, source = self.final_params
        return params, value, f"auto-proxy's final pick, measured at full scale by its {source}"

    def _runs(self):
        from budgetsweep.analysis.study import load_study_runs

        return load_study_runs(self.s.storage_url, self.study.study_name)

    def _params_by_key(self, search) -> dict[str, dict[str, Any]]:
        trials = {t.number: t for t in self.study.get_trials(deepcopy=False)}
        out: dict[str, dict[str, Any]] = {}
        for key, number in zip(search["config_key"], search["trial_number"]):
            out.setdefault(str(key), dict(trials[int(number)].params))
        return out

    def spent(self) -> dict[str, float]:
        """The ledger's charges (actual, else what is held) per phase."""
        return spent_by_phase(self.s.ledger.charges(), {n: j.phase for n, j, _ in self._tags() if j is not None})

    def _write(self, runs=None) -> dict[str, Any]:
        summary = build_summary(limit=self.s.limit, unit=self.s.unit, choice=self.choice, spent=self.spent(),
                                plan=self.plan, verification=self.verification, final=self.final)
        summary["phase"] = self.phase
        self.study.set_user_attr(PHASE_ATTR, self.phase)  # a reader (the report) knows whether it finished
        summary["calibration_skipped"] = self.skipped
        if self.halving is not None:
            summary["halving"] = {"eta": self.settings.search.eta, "rungs": plan_dicts(self.halving)}
        if self.proxy_search is not None:
            summary["proxy_search"] = summary_section(self.proxy_search.study, self.settings.proxy_search,
                                                      self.settings.criterion)
        self.s.sweep_dir.mkdir(parents=True, exist_ok=True)
        path = write_summary(self.s.sweep_dir, summary)
        log.info(f"auto-proxy: {summary['answer']} Summary: {path}")
        return summary


def _text(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _skipped_text(skipped: list[dict[str, Any]]) -> str:
    return ", ".join(f"{k['rung']} of configuration {k['config']}" for k in skipped)


def _jsonable(obj: Any) -> Any:
    from .jsonable import jsonable

    return jsonable(obj)


__all__ = ["AutoProxyDriver", "PhaseLedger", "Sweep", "job_of", "search_only"]
