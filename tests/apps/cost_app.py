"""A tiny Hydra app for sweeper tests: its cost in examples is exact (steps x examples_per_step).

It plays the job's side of the contract the way budgetsweep's run context does: it reports the
objective at each step through ``TrialLink``, stops when the pruner or the budget says so, and
writes ``record.json`` in its output directory. Run it as ``python -m tests.apps.cost_app``.
"""
from __future__ import annotations

import math
import os
import time
from datetime import datetime, timezone

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from budgetsweep.records import Cost, MeasuredCost, Objective, RunRecord, write_record


def _value(cfg: DictConfig, number: int, step: int) -> float:
    if cfg.objective == "trial_number":
        return float(number) + 1.0 / (1 + step)
    return (float(cfg.x) - 1.0) ** 2 + 0.1 * float(cfg.y) + 1.0 / (1 + step)


@hydra.main(version_base=None, config_path="conf", config_name="cost_app")
def main(cfg: DictConfig):
    node = (cfg.get("budgetsweep") or {}).get("trial")
    link = None
    if node:
        from budgetsweep.budget.trial_link import TrialLink

        link = TrialLink.from_config(node)
    number = int(node.number) if node else -1
    mode = cfg.modes.get(number, cfg.mode)
    if mode == "raise":
        raise RuntimeError("the app failed on purpose")
    measured = MeasuredCost()
    started = datetime.now(timezone.utc).isoformat()
    status, value, t0 = "completed", None, time.perf_counter()

    def write(status, value):
        record = RunRecord(
            status=status, config_key=f"x={cfg.x},y={cfg.y}", config={"x": cfg.x, "y": cfg.y},
            overrides=list(HydraConfig.get().overrides.task), recipe={}, full_recipe={}, reductions=[],
            reduction_label="full", seed=0, objective=Objective("loss", "minimize", value),
            cost=Cost(measured=measured), error="failed on purpose" if status == "failed" else None,
            trial={"number": number} if node else None, started_at=started,
            ended_at=None if status == "running" else datetime.now(timezone.utc).isoformat(),
            info={"pid": os.getpid()})
        write_record(HydraConfig.get().runtime.output_dir, record)

    if cfg.running_record and mode != "norecord":
        write("running", None)
    for step in range(int(cfg.steps)):
        time.sleep(float(cfg.sleep))
        measured.examples += int(cfg.examples_per_step)
        measured.flops += 1000.0 * int(cfg.examples_per_step)
        measured.wall_seconds = time.perf_counter() - t0
        value = _value(cfg, number, step)
        if link is not None:
            link.report(step, value)
            if link.should_prune():
                status = "pruned"
                break
            if link.over_budget(measured):
                status = "budget_stopped"
                break
    if mode == "fail":
        status, value = "failed", None
    if mode != "norecord":
        write(status, value)
    if status == "failed":
        return math.nan
    if cfg.objective == "pair":
        return value, float(cfg.y)
    return value


if __name__ == "__main__":
    main()
