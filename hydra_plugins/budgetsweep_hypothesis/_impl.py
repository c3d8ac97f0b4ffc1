"""The hypothesis sweeper: the registered paired jobs, launched in whole pairs, with resume and early stop.

On start it reads every ``record.json`` under ``hydra.sweep.dir`` and keeps the completed runs of this
registration (:func:`budgetsweep.hypothesis.jobs.result_from_record`): those jobs are done (resume).
What is left (:func:`~budgetsweep.hypothesis.jobs.job_order`: scale by scale, seed by seed, baseline
then candidate) runs in batches of whole pairs through ``self.launcher`` (basic, joblib, submitit),
each job in the fixed folder ``<scale>/<seed>/<arm>`` (a per-job ``hydra.sweep.subdir`` override), so a
rerun finds it again. After each batch ``verdict.json`` is rebuilt from the records; with sequential
looks a scale stops when :func:`~budgetsweep.hypothesis.sequential.decide` says so. With a registered
budget (``examples``, ``flops``, ``gpu_hours``: the records' measured cost) a batch holds only the pairs
that fit in what is left at the costliest complete pair's cost (the first batch: one pair), and the run
stops when not one more fits; ``verdict.json`` then carries ``budget: {limit, unit, spent, stopped}``. At the end
``report.md``/``report.html`` (budgetsweep.analysis.hypothesis_report) are written beside verdict.json and the
verdict sentence and key numbers are printed. The launcher's
return values are not used: the records are the results, whichever process wrote them.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, List, Optional

from hydra.core.plugins import Plugins
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from budgetsweep.hypothesis import verdict as verdict_mod
from budgetsweep.hypothesis.jobs import job_order, job_overrides, record_tag, result_from_record

log = logging.getLogger("budgetsweep.hypothesis")


def job_subdir(scale: str, seed: int, arm: str) -> str:
    """The job's folder under the sweep dir: the same on every resume."""
    return f"{scale}/seed{seed}/{arm}"


def read_results(sweep_dir: Path, registration: dict) -> list[dict]:
    """Results of this registration from ``sweep_dir/**/record.json`` (other hashes and unfinished runs skipped)."""
    h = registration["registration_sha256"]
    metric = registration["analysis_plan"]["metric"]
    out = []
    for path in sorted(sweep_dir.rglob("record.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # a record being written or cut by a crash: its job reruns
            continue
        res = result_from_record(record, metric)
        if res is not None and res["registration"] == h:
            out.append(res)
    return out


def job_cost(record: dict, unit: str) -> float:
    """A record's measured cost in ``unit`` (examples, flops, or gpu_hours = wall seconds x devices / 3600)."""
    measured = (record.get("cost") or {}).get("measured") or {}
    if unit == "gpu_hours":
        return float(measured.get("wall_seconds") or 0.0) * float(measured.get("device_count") or 1) / 3600
    return float(measured.get(unit) or 0.0)


def spent(sweep_dir: Path, registration: dict, unit: str) -> tuple[float, float]:
    """(cost of every record of this registration, failed runs included; the largest completed pair's cost)."""
    h = registration["registration_sha256"]
    total, by_pair = 0.0, {}
    for path in sweep_dir.rglob("record.json"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        tag = record_tag(record)
        if not tag or str(tag.get("registration")) != h:
            continue
        cost = job_cost(record, unit)
        total += cost
        key = (tag.get("scale"), record.get("seed"))
        by_pair.setdefault(key, []).append(cost)
    pair_costs = [sum(c) for c in by_pair.values() if len(c) == 2]
    return total, max(pair_costs, default=0.0)


def batches(todo: list[tuple[str, int, str]], pairs_per_batch: int) -> list[list[tuple[str, int, str]]]:
    """Split jobs into batches of at most ``pairs_per_batch`` pairs; a pair's two jobs are never split
    (a pair half done by an earlier run counts as one pair)."""
    out: list[list] = []
    current: list = []
    keys: set = set()
    for job in todo:
        key = job[:2]
        if key not in keys and len(keys) == pairs_per_batch:
            out.append(current)
            current, keys = [], set()
        keys.add(key)
        current.append(job)
    if current:
        out.append(current)
    return out


class HypothesisSweeperImpl:
    def __init__(self, registration: Optional[str], pairs_per_batch: Optional[int]) -> None:
        if not registration:
            raise ValueError("hydra.sweeper.registration=None is not allowed; it must be the path of a "
                             "registration.json (run the file with budgetsweep-hypothesis FILE)")
        if pairs_per_batch is not None and pairs_per_batch < 1:
            raise ValueError(f"hydra.sweeper.pairs_per_batch={pairs_per_batch!r} is not allowed; it must be >= 1 or null")
        self.registration_path = Path(registration)
        self.pairs_per_batch = pairs_per_batch
        self.config: Optional[DictConfig] = None
        self.launcher: Any = None
        self.budget_stopped = False

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function)

    def _pairs_per_batch(self) -> int:
        if self.pairs_per_batch is not None:
            return self.pairs_per_batch
        n_jobs = OmegaConf.select(self.config, "hydra.launcher.n_jobs", default=None)
        if n_jobs is None:
            return 1  # the basic launcher runs one job at a time
        if n_jobs < 0:  # joblib: -1 = all CPUs
            n_jobs = max(1, (os.cpu_count() or 1) + 1 + n_jobs)
        return max(1, n_jobs // 2)

    def sweep(self, arguments: List[str]) -> dict:
        extra = [a for a in arguments if not a.lstrip("+~").startswith("hydra")]
        if extra:  # they would change what the arms run behind the registration's back
            raise ValueError(f"override {extra[0]!r} is not allowed with hydra/sweeper=hypothesis; what the arms run "
                             "belongs in the hypothesis file (common/baseline/candidate), so its registration holds it")
        reg = json.loads(self.registration_path.read_text(encoding="utf-8"))
        folder = self.registration_path.parent
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        results = read_results(sweep_dir, reg)
        done = {(r["scale"], r["seed"], r["arm"]) for r in results}
        n_done, job_idx = len(done), 0
        if n_done:
            log.info("resuming %s: %d job(s) already completed", reg["name"], n_done)
        current = self._write(folder, reg, results)
        for scale in reg["configurations"]:
            if self._stopped(current, scale):
                continue
            todo = [j for j in job_order(reg, done) if j[0] == scale]
            while todo:
                n_pairs = self._pairs_within_budget(reg, sweep_dir, self._pairs_per_batch())
                if n_pairs == 0:
                    break
                batch = batches(todo, n_pairs)[0]
                todo = todo[len(batch):]
                jobs = [tuple([*job_overrides(reg, s, arm, seed),
                               f"hydra.sweep.subdir={job_subdir(s, seed, arm)}"]) for s, seed, arm in batch]
                self.launcher.launch(jobs, initial_job_idx=job_idx)
                job_idx += len(jobs)
                results = read_results(sweep_dir, reg)
                done = {(r["scale"], r["seed"], r["arm"]) for r in results}
                current = self._write(folder, reg, results)
                if self._stopped(current, scale):
                    log.info("%s: %s", scale, current["scales"][scale]["sequential"]["reason"])
                    break
        budget = reg["analysis_plan"].get("budget")
        if budget:
            total, _ = spent(sweep_dir, reg, budget["unit"])
            current["budget"] = {**budget, "spent": total, "stopped": self.budget_stopped}
            verdict_mod.write(folder, current)
        if job_idx == 0 and not self.budget_stopped:
            log.info("%s: every planned job already has its record; nothing to run", reg["name"])
        from budgetsweep.analysis.hypothesis_report import terminal_summary, write_report

        md, page = write_report(folder, current)
        print(terminal_summary(current))
        if self.budget_stopped:
            print(f"budget: spent {current['budget']['spent']:.6g} of {budget['limit']:.6g} {budget['unit']}; "
                  "stopped before the planned seeds were all run")
        print(f"verdict: {folder / verdict_mod.VERDICT_FILE}\nreport: {md} and {page}")
        return current

    def _pairs_within_budget(self, reg: dict, sweep_dir: Path, wanted: int) -> int:
        """Pairs the next batch may hold under the registered budget: what is left over the costliest
        complete pair so far (one pair when none is complete yet: its cost is unknown). 0: stop."""
        budget = reg["analysis_plan"].get("budget")
        if not budget:
            return wanted
        total, per_pair = spent(sweep_dir, reg, budget["unit"])
        left = budget["limit"] - total
        fits = 1 if per_pair == 0 and left > 0 else int(left // per_pair) if per_pair > 0 else 0
        if fits <= 0:
            self.budget_stopped = True
            log.info("budget: spent %.6g of %.6g %s; the next pair (about %.6g) does not fit: stopping",
                     total, budget["limit"], budget["unit"], per_pair)
            return 0
        return min(wanted, fits)

    @staticmethod
    def _stopped(current: dict, scale: str) -> bool:
        seq = current["scales"][scale].get("sequential")
        return bool(seq and seq["stop"])

    @staticmethod
    def _write(folder: Path, reg: dict, results: list[dict]) -> dict:
        current = verdict_mod.build(reg, results)
        verdict_mod.write(folder, current)
        return current
