"""Which trials each phase still has to launch, from the trials a study already holds: the pure core of
resuming an auto-proxy sweep in the phase it was in.

Every auto-proxy trial carries a ``Job`` tag (phase, rung, configuration, seed) in its user attrs
(``Job.attrs``). After an interrupt, the sweeper reads the tags of the study's trials back
(``Job.from_attrs``) and asks ``current_phase`` / ``remaining``: a job already tried, whatever its
state (completed, failed, pruned, budget-stopped, or running under a live reservation), is never
launched again, so nothing is charged twice; calibration resumes with the jobs it had not started.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .phases import PhasePlan

ATTR = "auto_proxy"  # the trial user attr that holds a Job's fields
CALIBRATE, CHOOSE, SEARCH, VERIFY, DONE = "calibrate", "choose", "search", "verify", "done"
FULL = "full"


@dataclass(frozen=True)
class Job:
    """One planned trial. ``config``: in calibration, the index of a sampled configuration (the sampled
    parameters are stored once, in the study's attrs, so a resumed sweep reuses them); in verification,
    the config key of a search configuration; in the search, the trial's own number. ``rung``: a
    candidate's name or ``full``."""

    phase: str
    rung: str
    config: int | str
    seed: int

    def attrs(self) -> dict[str, Any]:
        return {ATTR: asdict(self)}

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> "Job | None":
        """The tag of a trial's user attrs; None for a trial auto-proxy did not plan."""
        data = attrs.get(ATTR)
        if not isinstance(data, Mapping):
            return None
        return cls(str(data["phase"]), str(data["rung"]), data["config"], int(data["seed"]))


def unrun(jobs: Mapping[int, Job | None], launched: Collection[int], phase: str) -> list[dict[str, Any]]:
    """The trials of ``phase`` that never ran, ``{"trial", "rung", "config"}`` by trial number. ``jobs``:
    trial number -> its tag; ``launched``: the trials the ledger charged (``summary.launched``). The
    charge, not the trial's state, says it: a trial asked and put back is RUNNING until the sweeper's run
    ends, and only then WAITING."""
    return [{"trial": n, "rung": job.rung, "config": job.config} for n, job in sorted(jobs.items())
            if job is not None and job.phase == phase and n not in launched]


def calibration_jobs(plan: PhasePlan, candidates: Sequence[str]) -> list[Job]:
    """The calibration's trials, configuration by configuration (its full-scale seeds, then each
    candidate's seeds), so that a calibration stopped early still has complete pairs. Seeds are
    0, 1, ... per rung."""
    c = plan.calibration
    jobs = []
    for config in range(c.configs):
        jobs += [Job(CALIBRATE, FULL, config, seed) for seed in range(c.full_seeds)]
        for name in candidates:
            jobs += [Job(CALIBRATE, name, config, seed) for seed in range(c.proxy_seeds)]
    return jobs


def rung_jobs(plan: PhasePlan, name: str) -> list[Job]:
    """The calibration trials of one rung added after the others (a proxy search's sampled setting): every
    calibration configuration with the planned proxy seeds."""
    c = plan.calibration
    return [Job(CALIBRATE, name, config, seed) for config in range(c.configs) for seed in range(c.proxy_seeds)]


def verification_jobs(plan: PhasePlan, top_keys: Sequence[str]) -> list[Job]:
    """The verification's trials: each of the search's top configurations (best first) at full scale
    with the planned seeds. Seeds start at 1000 so that they differ from the search's and the
    calibration's (the verified score is a fresh measurement, not a rerun of a seed already seen)."""
    v = plan.verification
    return [Job(VERIFY, FULL, key, 1000 + seed) for key in list(top_keys)[:v.top_k] for seed in range(v.seeds)]


def remaining(planned: Sequence[Job], tried: Iterable[Job | None]) -> list[Job]:
    """``planned`` less the jobs already tried (each tried tag cancels one planned job), in order."""
    left = Counter(j for j in tried if j is not None)
    out = []
    for job in planned:
        if left[job] > 0:
            left[job] -= 1
        else:
            out.append(job)
    return out


def current_phase(plan: PhasePlan, candidates: Sequence[str], tried: Iterable[Job | None], *, chosen: bool,
                  search_done: bool, top_keys: Sequence[str] | None = None) -> str:
    """The phase a (resumed) sweep is in: ``calibrate`` while calibration jobs are left, then
    ``choose`` until the choice is written, ``search`` until the sweeper says it is done (its budget or
    trials are used up), ``verify`` while verification jobs are left, else ``done``.

    ``top_keys``: the search's top configurations (``verify.top_configs``), once the search is done.
    """
    tried = list(tried)
    if remaining(calibration_jobs(plan, candidates), tried):
        return CALIBRATE
    if not chosen:
        return CHOOSE
    if not search_done:
        return SEARCH
    if top_keys is None or remaining(verification_jobs(plan, top_keys), tried):
        return VERIFY
    return DONE


__all__ = ["ATTR", "CALIBRATE", "CHOOSE", "DONE", "Job", "SEARCH", "VERIFY", "calibration_jobs", "current_phase",
           "remaining", "rung_jobs", "unrun", "verification_jobs"]
