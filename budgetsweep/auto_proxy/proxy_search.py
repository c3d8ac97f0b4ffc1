"""Proxy search (issue 15, point 1's third way): Optuna samples settings of reduction parameters
(``auto_proxy.proxy_search``), each calibrated like a candidate rung; fidelity (up) and cost factor
(down) are its two objectives, and the choice step then picks among all rungs as usual.

Why a study of its own, ``<sweep study>:proxy_search``, in the sweep's storage: the sweep's study
has the search's one objective and its trials are runs, while a proxy setting is a rung whose two
values are known only once all its calibration runs are in (Spearman over the calibration
configurations, and its measured cost against full scale). One storage keeps the sweep resumable as
a whole; the ledger stays the sweep study's (the settings' runs are its calibration trials).

The sampler is Optuna's multi-objective TPE (``TPESampler`` on two directions): the first half of
``trials`` at random, then proposals that improve the Pareto front of fidelity against cost.
Settings are asked one at a time, each told before the next is asked, so the sampler learns from
every calibrated setting.

Resume: a setting asked and not told (the sweeper was killed while calibrating it) stays RUNNING in
that study; ``next`` hands it back with the same number (so the same rung name), never asking anew.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

from budgetsweep.budget.search_space import build_search_space

from .settings import ProxySearch

SUFFIX = ":proxy_search"
DIRECTIONS = ("maximize", "minimize")  # fidelity, cost factor
SEED_STREAM = 0x9A05  # the sampler's random stream, apart from calibration's and the search's
# the setting's trial user attrs (the report may read them)
RUNG_ATTR, LABEL_ATTR, SAME_AS_ATTR = "rung", "reduction_label", "same_as"


def rung_name(number: int) -> str:
    """The rung of the proxy study's trial ``number`` (its jobs' tag, its summary row's name)."""
    return f"proxy_search[{number}]"


def study_name(sweep_study: str) -> str:
    return sweep_study + SUFFIX


@dataclass(frozen=True)
class Setting:
    """One sampled proxy setting: the proxy study's trial number, the sampled values (keys as in
    ``proxy_search.params``, e.g. ``data_subset.fraction``) and the overrides that run it."""

    number: int
    params: dict[str, Any]
    overrides: tuple[str, ...]

    @property
    def name(self) -> str:
        return rung_name(self.number)


class ProxySearchStudy:
    """The proxy settings' Optuna study: ``next`` asks (or hands back an unfinished) setting, ``tell``
    records its fidelity and cost factor.

    Args:
        search: the validated ``ProxySearch`` settings.
        storage: an Optuna storage (the sweep's; ``budget.storage.open_optuna_storage``).
        sweep_study: the sweep study's name; this study is named ``<sweep_study>:proxy_search``.
        seed: the sampler's seed; reseeded with the number of settings already asked, so that a resumed
            sweep does not replay the first random proposals.
    """

    def __init__(self, search: ProxySearch, storage: Any, sweep_study: str, seed: int) -> None:
        import optuna

        self.search = search
        self.space = build_search_space({f"reduction.{k}": v for k, v in search.params.items()}, [])
        self.study = optuna.create_study(storage=storage, study_name=study_name(sweep_study),
                                         directions=list(DIRECTIONS), load_if_exists=True)
        asked = len(self.study.get_trials(deepcopy=False))
        self.study.sampler = optuna.samplers.TPESampler(seed=_seed(seed, asked),
                                                        n_startup_trials=max(1, search.trials // 2))

    def _setting(self, trial: Any) -> Setting:
        params = {name.removeprefix("reduction."): value for name, value in trial.params.items()}
        overrides = (f"reduction=[{','.join(self.search.reduction)}]",
                     *(self.space.override(name, value) for name, value in trial.params.items()))
        return Setting(trial.number, params, overrides)

    def next(self) -> Optional[Setting]:
        """The setting to calibrate next: one asked and not told (a killed sweep's), else a new one while
        fewer than ``trials`` were asked; None when all are told."""
        import optuna

        trials = self.study.get_trials(deepcopy=False)
        running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
        if running:
            return self._setting(running[0])
        if len(trials) >= self.search.trials:
            return None
        return self._setting(self.study.ask(dict(self.space.distributions)))

    def tell(self, setting: Setting, fidelity: Optional[float], cost_factor: Optional[float],
             attrs: dict[str, Any]) -> None:
        """Record the setting's values (both finite) and ``attrs``; a missing value fails the trial
        (its runs failed, or too few configurations paired): the sampler learns nothing from it."""
        import optuna

        frozen = self.study.get_trials(deepcopy=False)[setting.number]
        trial = optuna.trial.Trial(self.study, frozen._trial_id)  # a running trial, by id (as the sweeper does)
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        values = (fidelity, cost_factor)
        if all(v is not None and math.isfinite(v) for v in values):
            self.study.tell(setting.number, list(values))
        else:
            self.study.tell(setting.number, state=optuna.trial.TrialState.FAIL)

    def told(self) -> list[Any]:
        """The settings told so far (FrozenTrials, by number)."""
        return told(self.study)

    def pareto(self) -> list[int]:
        """The trial numbers on the Pareto front of fidelity against cost factor."""
        return pareto(self.study)


def told(study: Any) -> list[Any]:
    """The settings of a proxy study told so far (FrozenTrials, by number)."""
    return [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]


def pareto(study: Any) -> list[int]:
    """The trial numbers on a proxy study's Pareto front of fidelity against cost factor."""
    return sorted(t.number for t in study.best_trials)


def with_settings(candidates: list[dict[str, Any]], study: Any, rungs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The choice's candidate rows, each sampled one carrying its setting: parameter values, fidelity and cost
    factor as told to the proxy ``study``, and whether it is on its Pareto front (the driver writes these, the
    report reads them back: one function for both)."""
    by_rung = {t.user_attrs.get(RUNG_ATTR): t for t in told(study)}
    front = set(pareto(study))
    rows = []
    for row in candidates:
        trial = by_rung.get(row["name"])
        if trial is not None:
            row = {**row, "proxy_search": {"trial": trial.number, "params": rungs[row["name"]]["params"],
                                           "fidelity": trial.user_attrs.get("fidelity"),
                                           "cost_factor": trial.user_attrs.get("cost_factor"),
                                           "pareto": trial.number in front}}
        rows.append(row)
    return rows


def summary_section(study: Any, search: ProxySearch, criterion: str) -> dict[str, Any]:
    """The summary's ``proxy_search`` section: every setting the proxy ``study`` sampled (also those drawn again
    or failed)."""
    front = set(pareto(study))
    settings = [{"trial": t.number, "rung": t.user_attrs.get(RUNG_ATTR), "state": t.state.name,
                 "params": {k.removeprefix("reduction."): v for k, v in t.params.items()},
                 "reduction_label": t.user_attrs.get(LABEL_ATTR), "same_as": t.user_attrs.get(SAME_AS_ATTR),
                 "fidelity": t.user_attrs.get("fidelity"), "cost_factor": t.user_attrs.get("cost_factor"),
                 "pareto": t.number in front} for t in told(study)]
    return {"study": study.study_name, "reduction": list(search.reduction), "space": dict(search.params),
            "trials": search.trials, "criterion": criterion,
            "sampler": "optuna TPESampler, two objectives: fidelity (maximize), cost factor (minimize)",
            "settings": settings}


def _seed(seed: int, asked: int) -> int:
    import numpy as np

    return int(np.random.SeedSequence([seed, SEED_STREAM, asked]).generate_state(1)[0])


__all__ = ["ProxySearchStudy", "Setting", "pareto", "rung_name", "study_name", "summary_section", "told",
           "with_settings"]
