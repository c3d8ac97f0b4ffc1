"""The job side of a run: reduced recipe values, metrics history, cost, stopping, the run record.

One path for every run: the built-in trainer reports through a ``RunContext`` exactly as a
user's own training loop does. For a user's Hydra app, one call sequence, for a config that counts
``train.steps`` and one that counts ``train.epochs`` alike (docs/own_loops.md)::

    @hydra.main(config_path="conf", config_name="config", version_base=None)
    def main(cfg):
        with budgetsweep.run_context(cfg, objective="val_loss") as run:
            keep = run.subset_indices(len(x), labels=y)       # the FULL set's size in, the subset out
            x, y = x[keep], y[keep]
            opt = torch.optim.AdamW(model.parameters(), **run.optimizer_kwargs())
            for step in range(run.steps()):                   # no argument: the size came above
                lr = run.set_lr(opt, step)                    # no argument either
                with run.autocast():
                    loss = ...
                run.add_cost(examples=run.batch_size)
                if (step + 1) % run.eval_every == 0:
                    run.report(step + 1, val_loss=evaluate(), lr=lr)   # raises TrialPruned / BudgetStopped
        return run.objective_value()

``steps`` and ``set_lr`` give the built-in trainer's step count and learning rates for the same
recipe; a call that would give another schedule (no size known with ``train.epochs``, a size that
differs from the one given before) raises ValueError saying what to pass.

On exit it writes ``record.json`` atomically with status completed / failed / pruned /
budget_stopped; an early stop is an outcome, so the ``with`` block swallows it.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import platform
import signal
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from budgetsweep.records import METRICS_FILE, Cost, MeasuredCost, Objective, RunRecord, RunStatus, write_record
from budgetsweep.storage_url import mask_overrides, mask_url

log = logging.getLogger("budgetsweep")


class StopRun(Exception):
    """Ends a run early; the ``with run_context(...)`` block swallows it and the record gets ``status``.

    Raised as such by a user's loop that decides to stop (its own early stopping), the run is
    ``completed``: what it measured is its result. The sweeper's reasons are the subclasses.
    """

    status: RunStatus = RunStatus.COMPLETED

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        # a stop must end in a final record status: a typo here would fail the record write
        if RunStatus.parse(cls.status, f"{cls.__name__}.status") is RunStatus.RUNNING:
            raise ValueError(f"{cls.__name__}.status=running is not a final status")
        cls.status = RunStatus(cls.status)


class TrialPruned(StopRun):
    """The budget sweeper's pruner stopped the trial (status ``pruned``)."""

    status = RunStatus.PRUNED


class BudgetStopped(StopRun):
    """The run's measured cost passed its reservation (status ``budget_stopped``)."""

    status = RunStatus.BUDGET_STOPPED


class RunInterrupted(BaseException):
    """SIGTERM, SIGINT or SIGHUP arrived during a run (a SLURM time limit, preemption, Ctrl-C, a
    closed terminal).

    A BaseException, so a loop's ``except Exception`` does not swallow it. The run context records
    the run as ``failed`` with the signal named in ``error`` (measured cost and metrics kept), then
    ends the process as the signal would have: SIGINT as KeyboardInterrupt, SIGTERM as exit 143,
    SIGHUP as exit 129.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.name}")


# SIGHUP: a closed terminal or dropped ssh session ends a run as surely as a SLURM time limit
INTERRUPTS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


# which run-context call honours which recipe section, to tell a user when a reduction had no effect
_HONOURED_BY = {
    "data.": ("subset_indices",),
    "train.batch_size": ("batch_size",),
    "train.run_fraction": ("steps",),
    "train.schedule_fraction": ("steps", "lr_at"),
    "train.warmup_steps": ("lr_at",),
    "train.eval_every": ("eval_every", "steps"),
    "train.steps": ("steps",),
    "train.precision": ("autocast",),
    "optim.": ("optimizer_kwargs", "lr_at", "lr"),
}


_NOT_PYTHON = object()  # a signal handler that was not set from Python (signal.signal returned None)


def _importing(frame) -> bool:
    """Whether ``frame`` runs inside an import (a frame of importlib's bootstrap on its stack)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _on_stack(frame, code) -> bool:
    """Whether ``code`` (a function's ``__code__``) runs in ``frame`` or a frame below it."""
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    from budgetsweep._version import __version__  # not the package: it imports this module

    found = {"budgetsweep": __version__, "python": platform.python_version()}
    try:
        import torch

        found["torch"] = torch.__version__
    except ImportError:  # a user's run context need not use torch
        pass
    return found


class RunContext:
    """One run's job side. Build it with ``run_context(cfg)`` (user apps) or from a ``RunPlan``."""

    def __init__(self, run_dir: str | Path, plan, *, objective: Objective, overrides: list[str] = (),
                 trial_link=None, trial_node=None, device_kind: str = "cpu", device_count: int = 1,
                 raise_on_stop: bool = True, keep_going: bool = False, loggers=()) -> None:
        """``keep_going``: record an exception as a failed run and swallow it, so a multirun goes on.
        ``loggers``: budgetsweep.loggers.MetricLogger instances fed every report, the config and the summary."""
        self.run_dir = Path(run_dir)
        from budgetsweep.loggers import Guarded

        # every logger guarded, also those passed here directly rather than built by build_loggers
        self.loggers = [lg if isinstance(lg, Guarded) else Guarded(lg) for lg in loggers]
        self.keep_going = keep_going
        self.plan = plan
        self.objective = objective
        self.overrides = mask_overrides(list(overrides))
        self.trial_link = trial_link
        self.trial_node = trial_node
        self.raise_on_stop = raise_on_stop
        self.measured = MeasuredCost(device_kind=device_kind, device_count=device_count)
        self.metrics: dict[str, float] = {}
        self.artifacts: dict[str, str] = {}
        self.info: dict[str, Any] = {}
        self.status = RunStatus.RUNNING
        self.error: str | None = None
        self.should_stop = False
        self._used: set[str] = set()
        self._t0 = 0.0
        self._started = None
        self._history = None
        self._previous_handlers: dict = {}
        self._finalising, self._late_signal = False, None
        self._n_train: int | None = None  # the full training set's size, once the user's loop gives it
        self.warnings: list[str] = list(getattr(plan, "warnings", ()))  # the guards' (budgetsweep.guards)
        # the task's trivial predictor's metrics, {metric: value, "source": text}, or one number for the
        # objective; None: the learned verdict is "unknown" (an own loop gives it: run.set_baseline)
        self.baseline: dict[str, Any] | float | None = None

    # -- the reduced recipe, for user code ------------------------------------------------
    @property
    def recipe(self):
        return self.plan.recipe

    @property
    def batch_size(self) -> int:
        self._used.add("batch_size")
        return self.recipe.train.batch_size

    @property
    def eval_every(self) -> int:
        self._used.add("eval_every")
        return self.recipe.train.eval_every

    @property
    def lr(self) -> float:
        self._used.add("lr")
        return self.recipe.optim.lr

    def optimizer_kwargs(self) -> dict[str, Any]:
        """Arguments for ``torch.optim.SGD`` or ``AdamW`` after the batch-scaling rule, exactly as the
        built-in trainer passes them."""
        self._used.add("optimizer_kwargs")
        from budgetsweep.train.optim import optimizer_kwargs

        return optimizer_kwargs(self.recipe.optim)

    def subset_indices(self, n: int, labels=None):
        """Indices of the training examples this run uses: nested across fractions for one seed,
        stratified when ``labels`` are given; ``subset_size(n, data.fraction)`` of them.

        ``n`` is the FULL training set's size (before the subset). It also tells ``steps`` and
        ``set_lr`` the size an epochs-based recipe counts its epochs over, so call this first.
        Raises ValueError when ``n`` differs from a size given before.
        """
        self._used.add("subset_indices")
        self._declare_n_train(n, "run.subset_indices(n)")
        from budgetsweep.tasks.subset import subset_indices

        d = self.recipe.data
        return subset_indices(n, d.fraction, d.subset_seed, labels=labels)

    def steps(self, n_train: int | None = None) -> int:
        """Steps this run takes (after every reduction), the same count the built-in trainer takes.

        An epochs-based recipe (``train.epochs``) needs the full training set's size: from an earlier
        ``run.subset_indices(len(train_set))`` (the sequence of docs/own_loops.md) or as ``n_train`` here (the full
        size, never the subset's). Raises ValueError when it is unknown or differs from the size given
        before. Planned examples (steps x ``batch_size``) go into the record's ``info``.
        """
        self._used.add("steps")
        n = self._n_train_for(n_train, "run.steps()")
        steps = self.recipe.run_steps(n)
        self.info["planned_examples"] = steps * self.recipe.train.batch_size
        return steps

    def lr_at(self, step: int, n_train: int | None = None) -> float:
        """Learning rate at ``step`` (0-based) for the recipe's schedule, warmup included: the rate
        the built-in trainer uses at that step. ``n_train`` as for ``steps``."""
        self._used.add("lr_at")
        from budgetsweep.train.schedules import lr_multiplier

        t, r = self.recipe.train, self.recipe
        length = r.schedule_steps(self._n_train_for(n_train, "run.set_lr(optimizer, step)"))
        return r.optim.lr * lr_multiplier(step, schedule=t.schedule, length=length, warmup=t.warmup_steps,
                                          cooldown_fraction=t.cooldown_fraction, min_ratio=t.min_lr_ratio)

    def set_lr(self, optimizer, step: int, n_train: int | None = None) -> float:
        """Set every parameter group's learning rate to ``lr_at(step)``; returns it."""
        lr = self.lr_at(step, n_train)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    def _declare_n_train(self, n: int, call: str) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{call}: n={n!r} is not allowed; it must be the full training set's size, an "
                             f"integer >= 1")
        if self._n_train is not None and n != self._n_train:
            raise ValueError(
                f"{call} got a training-set size of {n}, but {self._n_train} was given before: pass the FULL "
                f"training set's size (before the data subset) once, to run.subset_indices(len(train_set)); "
                f"run.steps() and run.set_lr(optimizer, step) then need no size (a subset's size would shrink "
                f"the schedule a second time)")
        self._n_train = n
        self.info["n_train_full"] = n

    def _n_train_for(self, n_train: int | None, call: str) -> int:
        if n_train is not None:
            self._declare_n_train(n_train, call)
        if self._n_train is None:
            if self.recipe.train.steps is None:
                raise ValueError(
                    f"{call} needs the full training set's size, because the config sets train.epochs: call "
                    f"run.subset_indices(len(train_set)) before it (or pass n_train=len(train_set), the full "
                    f"set's size, not the subset's)")
            return 1  # a steps-based recipe's length does not depend on it
        return self._n_train

    def autocast(self, device_type: str = "cpu"):
        """An autocast context for the recipe's precision (a no-op for fp32)."""
        self._used.add("autocast")
        precision = self.recipe.train.precision
        if precision == "fp32":
            return contextlib.nullcontext()
        import torch

        from budgetsweep.train.precision import DTYPES, check_precision

        check_precision(precision, torch.device(device_type))
        return torch.autocast(device_type=device_type, dtype=DTYPES[precision])

    def set_baseline(self, value: float, source: str | None = None) -> None:
        """The objective's value for the task's trivial predictor (class prior, unigram entropy, the
        targets' mean: ``budgetsweep.guards``), so the record's ``learned`` verdict can compare the run
        with it; without it the verdict is ``unknown``. Raises ValueError for a value that is no number."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"run.set_baseline: value={value!r} is not allowed; it must be a finite number "
                             f"(the objective {self.objective.name!r} of the trivial predictor)")
        self.baseline = {self.objective.name: float(value), "source": source or "given by the training code"}

    def warn(self, *messages: str) -> None:
        """Add guard warnings: logged now, kept in the record's ``warnings``."""
        for message in messages:
            if message not in self.warnings:
                self.warnings.append(message)
                log.warning("guard: %s", message)

    def learned(self) -> dict[str, Any]:
        """The record's ``learned`` entry: the objective against the trivial baseline
        (``budgetsweep.guards.learned_verdict``)."""
        from budgetsweep.guards import GuardSettings, learned_verdict

        base, source = self.baseline, None
        if isinstance(base, dict):
            base, source = base.get(self.objective.name), base.get("source")
        margin = getattr(self.plan, "guards", None) or GuardSettings()
        value = self.objective.value
        return learned_verdict(value, self.objective.direction, base, margin.learned_margin, source)

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> "RunContext":
        from budgetsweep.budget.job_timer import job_started

        for message in self.warnings:  # the plan's guards, said before any compute
            log.warning("guard: %s", message)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        now = time.perf_counter()
        # one clock from the job's start (TimedTask, in a budget sweep): the budget check and the
        # charge both see start-up (Hydra's job set-up, the app's imports and data loading)
        self._t0 = job_started() or now
        if self._t0 < now:
            self.info["startup_seconds"] = round(now - self._t0, 6)
        self._started = _now()
        self._history = open(self.run_dir / METRICS_FILE, "a", encoding="utf-8", buffering=1)
        self._write(RunStatus.RUNNING)  # a record left 'running' tells a reader the job died
        if self.loggers:
            from budgetsweep.loggers import flatten

            # what is trained (the reduced recipe, its reductions) and what it is called (overrides, key)
            config = flatten({"recipe": self.plan.recipe.to_dict(), "reductions": self.plan.reduction_label,
                              "overrides": " ".join(self.overrides), "config_key": self.plan.config_key})
            for logger in self.loggers:
                logger.start(str(self.run_dir), self.run_dir.name, config)
        self._install_signal_handlers()
        self._arm_deadline()
        return self

    def _arm_deadline(self) -> None:
        """In ``gpu_hours``, stop the run when its wall time reaches the reservation's deadline even
        between checks (a first step slower than the whole reservation): a SIGALRM timer raises
        ``BudgetStopped`` in the run. Only the main thread can take signals; elsewhere the checks in
        ``add_cost`` and ``report`` stop it."""
        link = self.trial_link
        seconds = link.stop_after_seconds(self.measured.device_count) if link is not None else None
        if seconds is None or seconds > 1e7 or threading.current_thread() is not threading.main_thread() \
                or not hasattr(signal, "setitimer"):
            return

        def deadline(signum, frame):
            if self._finalising or self.should_stop:
                return
            self._tick()
            left = seconds - self.measured.wall_seconds
            if left > 0 or _importing(frame) or _on_stack(frame, RunContext.__enter__.__code__):
                # early (a coarse timer); inside an import, which an exception would leave half done
                # in sys.modules for the next job of this process; or still inside __enter__ (a
                # start-up already past the deadline), where an exception would escape the with
                # block and leave the record 'running': try again shortly
                signal.setitimer(signal.ITIMER_REAL, max(left, 0.005))
                return
            self._stop(BudgetStopped(f"measured cost reached the reservation's deadline after "
                                     f"{self.measured.wall_seconds:.3f} s"))

        previous = signal.signal(signal.SIGALRM, deadline)
        self._previous_alarm = _NOT_PYTHON if previous is None else previous  # None: set outside Python
        # already past it (a long start-up): fire at once, inside the with block
        signal.setitimer(signal.ITIMER_REAL, max(1e-4, seconds - (time.perf_counter() - self._t0)))

    def _disarm_deadline(self) -> None:
        if self._previous_alarm is None:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        previous, self._previous_alarm = self._previous_alarm, None
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is _NOT_PYTHON else previous)

    def _install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT/SIGHUP raise RunInterrupted inside the run (unless ignored, as under nohup), so the record is finalised; the
        previous handlers come back on exit. Only the main thread can set handlers: elsewhere the
        run keeps the process's own (Python allows nothing else)."""
        self._previous_handlers = {}
        if threading.current_thread() is not threading.main_thread():
            return

        def interrupt(signum, frame):
            if self._finalising:  # the record is being written: finish it, then end (see __exit__)
                self._late_signal = self._late_signal or signum
                return
            raise RunInterrupted(signum)

        for sig in INTERRUPTS:
            if signal.getsignal(sig) is signal.SIG_IGN:  # nohup, or a background job: it stays ignored
                continue
            self._previous_handlers[sig] = signal.signal(sig, interrupt)

    def _restore_signal_handlers(self) -> None:
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._previous_handlers = {}

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._finalising = True  # a signal now must not cut the final record short
        self._disarm_deadline()
        try:
            swallow = self._finalise(exc_type, exc, tb)
        finally:
            self._restore_signal_handlers()
        if self._late_signal is not None:  # it came while the record was written: end as it would have
            if self._late_signal == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + self._late_signal)
        return swallow

    def _finalise(self, exc_type, exc, tb) -> bool:
        self._tick()
        stop = _wrapped_stop(exc)
        if stop is not None:  # e.g. the deadline fired inside hydra.utils.instantiate, which re-raises wrapped
            exc_type, exc, tb = type(stop), stop, stop.__traceback__
        unmetered = None
        if self.trial_link is not None and (exc is None or isinstance(exc, StopRun)):
            try:  # a run that metered nothing in its budget's unit would be charged 0: it fails
                self.trial_link.check_metered(self.measured, final=True)
            except ValueError as error:
                exc_type, exc, tb = type(error), error, error.__traceback__
                unmetered = error
        if exc is None:
            status = self._stop_status or RunStatus.COMPLETED  # a loop that checked run.should_stop and left
        elif isinstance(exc, StopRun):
            status = exc.status
        elif isinstance(exc, RunInterrupted):
            status = RunStatus.FAILED
            self.error = (f"interrupted by {exc.name} (signal {exc.signum}) after {self.measured.examples} examples "
                          f"and {self.measured.wall_seconds:.1f} s; the metrics and cost so far are kept")
        else:
            status = RunStatus.FAILED
            self.error = "".join(traceback.format_exception_only(exc_type, exc)).strip()
        self._warn_unhonoured()
        self._history.close()
        self._write(status, ended=True)
        self._finish_loggers(status)
        if isinstance(exc, RunInterrupted):  # end the process as the signal would have; never go on
            log.error("run %s; its record says so", self.error)
            if exc.signum == signal.SIGINT:
                raise KeyboardInterrupt from None
            raise SystemExit(128 + exc.signum) from None
        if status is RunStatus.FAILED and self.keep_going:
            log.error("run failed; its record says so and the multirun goes on:\n%s",
                      "".join(traceback.format_exception(exc_type, exc, tb)).rstrip())
            return True
        if unmetered is not None:
            raise unmetered
        return isinstance(exc, StopRun)  # an early stop is an outcome, not an error

    def _finish_loggers(self, status: RunStatus) -> None:
        """After the record is written: the status and summary to every logger."""
        summary = {"objective": self.objective.name, "objective_value": self.objective.value,
                   **self.metrics, "examples": self.measured.examples,
                   "flops": self.measured.flops, "wall_seconds": round(self.measured.wall_seconds, 4),
                   "learned": self.learned().get("verdict"), "config_key": self.plan.config_key}
        for logger in self.loggers:  # Guarded: a failure costs a warning, never the record
            logger.finish(str(status), summary)

    # -- during the run -----------------------------------------------------------------
    def add_cost(self, examples: int = 0, flops: float = 0.0) -> None:
        """Count work done; in a budget sweep, stop as soon as the reservation is used up (the
        check reads no database, so it runs every step, not only at evaluations)."""
        self.measured.examples += int(examples)
        self.measured.flops += float(flops)
        if self.trial_link is not None and not self.should_stop:
            self._tick()
            if self.trial_link.over_budget(self.measured):
                self._stop(BudgetStopped(f"measured cost passed the reservation after "
                                         f"{self.measured.examples} examples"))

    def report(self, step: int, metrics: dict[str, float] | None = None, **more: float) -> bool:
        """Append to metrics.jsonl and, in a budget sweep, report the objective to the trial.

        Raises ``TrialPruned`` / ``BudgetStopped`` when the pruner says so or the reservation is
        used up (with ``raise_on_stop=False`` it returns True instead and sets ``should_stop``).
        """
        metrics = {**(metrics or {}), **more}
        self._tick()
        self._last_step = max(self._last_step or 0, int(step))  # an own loop's steps and evaluations, recorded
        self._reports += 1
        row = {"step": step, "examples": self.measured.examples, **metrics,
               "wall_seconds": round(self.measured.wall_seconds, 4)}
        self._history.write(json.dumps(row) + "\n")
        for logger in self.loggers:  # the same row as metrics.jsonl
            logger.log_metrics(step, {**metrics, "examples": row["examples"], "wall_seconds": row["wall_seconds"]})
        self.metrics.update({k: v for k, v in metrics.items() if k not in ("epoch", "lr")})
        value = metrics.get(self.objective.name)
        if value is not None:
            self.objective.value = float(value)
        stop = self._check_trial(step, value)
        return False if stop is None else self._stop(stop)

    def _stop(self, stop: StopRun) -> bool:
        self.should_stop, self._stop_status = True, stop.status
        if self.raise_on_stop:
            raise stop
        return True

    def _check_trial(self, step: int, value) -> StopRun | None:
        link = self.trial_link
        if link is None:
            return None
        link.check_metered(self.measured, step=step)  # raises UnmeteredCost: the run fails, never charged 0
        if value is not None:
            link.report(step, float(value))
            if link.should_prune():
                return TrialPruned(f"pruned by the sweeper's pruner at step {step}")
        if link.over_budget(self.measured):
            return BudgetStopped(f"measured cost passed the reservation at step {step}")
        return None

    def finish(self, metrics: dict[str, float]) -> None:
        self.metrics.update(metrics)
        value = metrics.get(self.objective.name)
        if value is not None:
            self.objective.value = float(value)

    def objective_value(self) -> float:
        """What the Hydra main returns: the objective, NaN for a failed run."""
        value = self.objective.value
        return float("nan") if value is None or self.status is RunStatus.FAILED else value

    # -- internals ----------------------------------------------------------------------
    _stop_status = None
    _previous_alarm = None
    _last_step: int | None = None  # the highest step reported
    _reports = 0  # report() calls: the evaluations of a loop that reports when it evaluates

    def _tick(self) -> None:
        self.measured.wall_seconds = time.perf_counter() - self._t0

    def _warn_unhonoured(self) -> None:
        """A reduction whose values the user's loop never read did nothing: say so."""
        if getattr(self.plan, "task", None) is not None:
            return  # built-in tasks honour every recipe field through the trainer
        ignored = []
        for reduction in self.plan.described:
            apis = {api for field in reduction.get("changes", []) for prefix, names in _HONOURED_BY.items()
                    if field.startswith(prefix) for api in names}
            if apis and not apis & self._used:
                ignored.append(f"{reduction['name']} (read it through run.{' / run.'.join(sorted(apis))})")
        if ignored:
            self.info["unhonoured_reductions"] = ignored
            log.warning("these reductions had no effect, the training code never read their values: %s",
                        "; ".join(ignored))

    def _identity(self) -> dict[str, Any]:
        plan = self.plan
        ident = {"config_key": plan.config_key, "config": plan.config, "recipe": plan.recipe.to_dict(),
                 "full_recipe": plan.full_recipe.to_dict(), "reductions": plan.described,
                 "reduction_label": plan.reduction_label, "seed": plan.recipe.seed,
                 "predicted_factor": plan.predicted_factor, "trial": None, "predicted": None}
        node = self.trial_node
        if node is not None:
            ident["trial"] = {"number": int(node.number), "study_name": str(node.study_name),
                              "storage": mask_url(str(node.storage))}
            ident["predicted"] = {"unit": str(node.unit), "value": float(node.reservation)}
        return ident

    def _write(self, status: RunStatus, ended: bool = False) -> None:
        self.status = status
        if getattr(self.plan, "task", None) is None and self._last_step is not None:
            # an own loop: the steps and evaluations it reported (the built-in app records the trainer's)
            self.info["steps"], self.info["evaluations"] = self._last_step, self._reports
        ident = self._identity()
        value = self.objective.value
        if value is not None and not math.isfinite(value):
            value = None
        record = RunRecord(
            status=status, config_key=ident["config_key"], config=ident["config"], overrides=self.overrides,
            recipe=ident["recipe"], full_recipe=ident["full_recipe"], reductions=ident["reductions"],
            reduction_label=ident["reduction_label"], seed=ident["seed"],
            objective=Objective(self.objective.name, self.objective.direction, value),
            metrics=self.metrics,
            cost=Cost(predicted_factor=ident["predicted_factor"], predicted=ident["predicted"],
                      measured=self.measured),
            versions=versions(), started_at=self._started, ended_at=_now() if ended else None,
            error=self.error, trial=ident["trial"], artifacts=self.artifacts, info=self.info,
            warnings=list(self.warnings), learned=self.learned(),
        )
        write_record(self.run_dir, record)


def _wrapped_stop(exc: BaseException | None, depth: int = 8):
    """The StopRun or RunInterrupted that ``exc`` wraps (its ``__cause__``/``__context__`` chain),
    or None: a library that re-raises (Hydra's InstantiationException) must not turn a budget stop
    or a signal into a failed run."""
    seen = exc
    for _ in range(depth):
        if seen is None:
            return None
        if seen is not exc and isinstance(seen, (StopRun, RunInterrupted)):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class InvalidRun:
    """What ``run_context`` returns in a Hydra multirun for a configuration that cannot run.

    Exiting would end the whole sweep, and a ``with`` statement cannot skip its block; so entering
    works, any use of the run inside the block raises the ConfigError, and leaving the block writes a
    ``failed`` record with its message and swallows the error: the user's main returns NaN from
    ``objective_value()`` and the other jobs run.
    """

    def __init__(self, run_dir, cfg, overrides, error: Exception, objective: str) -> None:
        self._args = (run_dir, cfg, list(overrides), error, objective)
        self.error = error
        self.status = RunStatus.FAILED

    def __enter__(self) -> "InvalidRun":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        record_config_error(*self._args)
        log.error("invalid configuration, job skipped (its record says so): %s", self.error)
        return exc is None or isinstance(exc, Exception)

    def objective_value(self) -> float:
        return float("nan")

    def __getattr__(self, name: str):
        raise self.error


def record_config_error(run_dir: str | Path, cfg, overrides: list[str], error: Exception,
                        objective: str | None = None) -> Path:
    """A ``failed`` record for a job whose configuration cannot run (nothing was trained): the error
    text, the overrides, and the trial when a budget sweeper launched it, so the sweeper and the
    reports see the job as failed instead of missing. Returns the record's path."""
    import hashlib

    from budgetsweep.plan import readable_config
    from budgetsweep.records import write_record
    from budgetsweep.tasks.base import objective_direction

    def get(path: str, default=None):
        node = cfg
        for part in path.split("."):
            try:
                node = node.get(part) if hasattr(node, "get") else None
            except Exception:  # an interpolation that cannot resolve is part of the bad config
                return default
            if node is None:
                return default
        return node

    objective = objective or str(get("task.objective", "val_loss"))
    try:
        direction = objective_direction(objective)
    except ValueError:
        direction = "minimize"
    config = readable_config(list(overrides), str(get("task._target_", "user")).rsplit(".", 1)[-1])
    reductions = list(get("reduction", {}) or {})
    node = get("budgetsweep.trial")
    trial = predicted = None
    if node:
        trial = {"number": int(node.number), "study_name": str(node.study_name), "storage": mask_url(str(node.storage))}
        predicted = {"unit": str(node.unit), "value": float(node.reservation)}
    seed = get("seed", 0)
    now = _now()
    record = RunRecord(
        status=RunStatus.FAILED, config_key=hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
        .hexdigest()[:12], config=config, overrides=mask_overrides(list(overrides)), recipe={}, full_recipe={},
        reductions=[{"name": name} for name in reductions], reduction_label="+".join(reductions) or "full",
        seed=seed if isinstance(seed, int) else 0, objective=Objective(objective, direction),
        cost=Cost(predicted=predicted), versions=versions(), started_at=now, ended_at=now,
        error=f"invalid configuration: {error}", trial=trial)
    return write_record(run_dir, record)


def trial_link_from(cfg):
    """The budget sweeper's trial for this job (from ``cfg.budgetsweep.trial``), or None."""
    node = (cfg.get("budgetsweep") or {}).get("trial") if hasattr(cfg, "get") else None
    if not node:
        return None, None
    from budgetsweep.budget.trial_link import TrialLink  # only budget sweeps need Optuna

    return TrialLink.from_config(node), node


def run_context(cfg, *, objective: str = "val_loss", direction: str | None = None,
                run_dir: str | Path | None = None, overrides: list[str] | None = None,
                raise_on_stop: bool = True, baseline: float | None = None) -> RunContext:
    """A RunContext for a user's own Hydra app: the reduced recipe from ``cfg`` (its ``optim``,
    ``train`` and ``reduction`` sections), metrics, cost, stopping and the record.

    ``baseline``: the objective's value for the task's trivial predictor (see ``RunContext.set_baseline``),
    for the record's ``learned`` verdict; without it the verdict is ``unknown``.

    ``run_dir`` and ``overrides`` default to the current Hydra job's output dir and overrides; in
    a Hydra multirun an exception in the ``with`` block is recorded as a failed run and swallowed,
    so the other jobs go on (``objective_value()`` is then NaN).
    Raises ValueError (naming the key) when a reduction cannot apply to this config.
    """
    from budgetsweep.loggers import build_loggers
    from budgetsweep.plan import plan_user_run
    from budgetsweep.tasks.base import objective_direction

    from budgetsweep.plan import ConfigError

    keep_going = hydra_job = False
    if run_dir is None or overrides is None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
        run_dir = hc.runtime.output_dir if run_dir is None else run_dir
        overrides = list(hc.overrides.task) if overrides is None else overrides
        keep_going, hydra_job = hc.mode == RunMode.MULTIRUN, True
    try:
        plan = plan_user_run(cfg, overrides)
        loggers = build_loggers(cfg.get("logger") if hasattr(cfg, "get") else None)  # a bad one: ConfigError
    except ConfigError as exc:
        if not hydra_job:
            raise
        if not keep_going:  # a single run of a Hydra app: one paragraph and exit 2, as `budgetsweep` does
            import sys

            print(f"invalid configuration: {exc}", file=sys.stderr)
            sys.exit(2)
        # a multirun goes on: the with block fails at its first use of the run, the record says why
        return InvalidRun(run_dir, cfg, overrides, exc, objective)
    direction = direction or objective_direction(objective)
    link, node = trial_link_from(cfg)
    ctx = RunContext(run_dir, plan, objective=Objective(objective, direction), overrides=overrides,
                     trial_link=link, trial_node=node, raise_on_stop=raise_on_stop, keep_going=keep_going,
                     loggers=loggers)
    if baseline is not None:
        ctx.set_baseline(baseline)
    return ctx
