"""What a sweep leaves in its sweep directory: ``optimization_results.yaml`` (as
hydra-optuna-sweeper writes it: best parameters and value, or the Pareto front) and
``budget_summary.json`` (the ledger's totals and each trial's predicted and charged cost)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from budgetsweep.budget import trial_attrs as attrs
from budgetsweep.budget.storage import mask
from budgetsweep.budget.summary import build_summary, summary_table
from budgetsweep.records import write_json_atomic

log = logging.getLogger("hydra_plugins.budgetsweep_sweeper._impl")  # the sweeper's log, as before


def write_results(study: Any, n_objectives: int, sweep_dir: Path,
                  answer: tuple[dict[str, Any], float, str] | None = None) -> None:
    """``answer``: (params, value, what it is) that replaces the study's best trial (auto-proxy's verified
    final pick: the study's best trial may be a run at another rung)."""
    from omegaconf import OmegaConf

    if answer is not None and n_objectives == 1:
        params, value, what = answer
        results = {"name": "budget", "best_params": dict(params), "best_value": float(value)}
        log.info(f"Best parameters ({what}): {dict(params)}")
        log.info(f"Best value ({what}): {_shown(value)}")
    elif n_objectives == 1:
        try:
            best = study.best_trial
        except ValueError:
            log.warning("No trial completed: optimization_results.yaml has no best trial")
            results = {"name": "budget", "best_params": None, "best_value": None}
        else:
            results = {"name": "budget", "best_params": best.params, "best_value": best.value}
            log.info(f"Best parameters: {best.params}")
            log.info(f"Best value: {_shown(best.value)}  (optimization_results.yaml keeps every digit)")
    else:
        best_trials = study.best_trials
        results = {"name": "budget", "solutions": [{"params": t.params, "values": t.values} for t in best_trials]}
        log.info(f"Number of Pareto solutions: {len(best_trials)}")
        for t in best_trials:
            log.info(f"    Values: {t.values}, Params: {t.params}")
    OmegaConf.save(OmegaConf.create(results), sweep_dir / "optimization_results.yaml")


def write_summary(study: Any, ledger: Any, *, url: str, settings: Any, n_trials: int, stopped: str,
                  sweep_dir: Path) -> None:
    trials = {t.number: attrs.summary_info(t) for t in study.get_trials(deepcopy=False)}
    spent, held = ledger.totals()
    summary = build_summary(
        study_name=study.study_name, storage=mask(url), unit=settings.unit, limit=settings.limit,
        tolerance=settings.tolerance, spent=spent, reserved=held, charges=ledger.charges(),
        trials=trials, n_trials=n_trials, stopped=stopped)
    write_json_atomic(sweep_dir / "budget_summary.json", summary)
    log.info("Budget summary (budget_summary.json):\n" + summary_table(summary))


def _shown(value) -> str:
    """An objective at 4 significant digits, as every job's line shows it."""
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)
