"""Console entry points: ``budgetsweep-report`` and ``budgetsweep-plan``.

Heavy imports (pandas, scipy, matplotlib; torch for the plan) happen after the arguments parse, so
``--help`` is instant and a usage error costs nothing. Nothing at module level imports torch.
"""
from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence
from pathlib import Path

FORMATS = ("md", "html", "csv")


def _formats(text: str) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise argparse.ArgumentTypeError(
            f"unknown format {','.join(bad) or repr(text)} in --format; allowed: {','.join(FORMATS)} "
            "(comma-separated, e.g. md,html)"
        )
    return out


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not -1 <= value <= 1:
        raise argparse.ArgumentTypeError(f"--threshold={text!r}; must be a rank correlation in [-1, 1], e.g. 0.8")
    return value


def report_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="budgetsweep-report",
        description="Measure how well proxy runs rank configurations the way full-scale runs do, and write a "
                    "report (Markdown, self-contained HTML, CSV). Without --full: a report of one set of runs.",
    )
    p.add_argument("proxy_paths", nargs="*", metavar="PROXY_PATHS",
                   help="job, sweep or multirun directories (searched at any depth for record.json); runs "
                        "labelled 'full' found here join the full set")
    p.add_argument("--full", nargs="+", default=[], metavar="FULL_PATHS", dest="full_paths",
                   help="directories of the full-scale (reference) runs; where they also hold runs of other "
                        "labels beside those labelled 'full' (a grid over both scales), those are compared as proxies")
    p.add_argument("--storage", help="Optuna storage URL of a budget sweep, e.g. sqlite:///outputs/study.db")
    p.add_argument("--study", help="study name in --storage")
    p.add_argument("--threshold", type=_threshold, default=0.8,
                   help="fidelity a proxy needs to be recommended (default 0.8)")
    p.add_argument("--criterion", choices=("rho", "rho_rel"), default="rho",
                   help="rho, or rho relative to the noise ceiling (default rho)")
    p.add_argument("--cost-by", choices=("time", "examples", "flops"), default="time",
                   help="measured cost that ranks proxies as cheap (default time)")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000; 0: no intervals)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap (default 0)")
    p.add_argument("--by", nargs="+", default=None, metavar="COLUMN",
                   help="compare within each group of these columns or hyperparameters (e.g. --by task: "
                        "config.task), with a summary across groups")
    p.add_argument("--top", type=int, default=5, help="configurations with learning curves (default 5)")
    p.add_argument("--out", default="report", help="output folder (default ./report)")
    p.add_argument("--format", type=_formats, default=("md", "html"), dest="formats",
                   help="comma-separated: md, html, csv (default md,html)")
    return p


def _holds_records(path: str) -> bool:
    folder = Path(path)
    return folder.is_dir() and next(folder.rglob("record.json"), None) is not None


def _fail(message: str) -> int:
    print(f"budgetsweep-report: error: {message}", file=sys.stderr)
    return 2


def report_main(argv: Sequence[str] | None = None) -> int:
    """Run budgetsweep-report; returns the exit status (0 ok, 2 bad arguments or data, or full-scale runs
    given but no configuration compared: the report is still written, the reason is printed)."""
    parser = report_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message
        return int(exc.code or 0)
    # --by takes every word after it: `--by task outputs/sweeps/grid` reads the sweep as a column name
    if taken := next((c for c in args.by or () if _holds_records(c)), None):
        return _fail(f"--by {' '.join(args.by)}: {taken!r} is a directory of runs, not a column; --by takes every "
                     f"word after it, so put run directories before it: budgetsweep-report {taken} --by "
                     f"{' '.join(c for c in args.by if c != taken)}")
    if not args.proxy_paths and not args.full_paths and args.storage is None:
        # argparse's convention for missing arguments: the usage, then the error, on stderr; exit 2
        parser.print_usage(sys.stderr)
        return _fail("no runs given: pass run directories (PROXY_PATHS, --full) and/or --storage URL --study NAME")
    if args.resamples < 0:
        return _fail(f"--resamples={args.resamples}; must be >= 0")

    import warnings

    from budgetsweep.analysis import RecordWarning, mask_url
    from budgetsweep.analysis.report import report_from_paths

    skipped: list[str] = []

    def show(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
        # one line per warning, without Python's file:line prefix
        if issubclass(category, RecordWarning):
            skipped.append(str(message))
        print(f"budgetsweep-report: warning: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", RecordWarning)
            warnings.showwarning = show
            report = report_from_paths(args.proxy_paths, args.full_paths, storage=args.storage, study=args.study,
                                       threshold=args.threshold, criterion=args.criterion, cost_by=args.cost_by,
                                       n_resamples=args.resamples, rng=args.seed, top_n=args.top, by=args.by)
            out = report.write(args.out, args.formats)
    except (FileNotFoundError, ValueError) as exc:
        text = str(exc)
        if args.storage and not Path(args.storage).is_file():  # a file path holds no password: shown as given
            text = text.replace(args.storage, mask_url(args.storage))
        return _fail(text)
    if args.storage:
        print(f"read study {args.study!r} from {mask_url(args.storage)}")
    if skipped:
        print(f"skipped {len(skipped)} unreadable record file(s); see the report")
    # the verdict and the strategy table where the user looks: on the terminal
    print(report.terminal_text())
    print()
    names = {"md": "report.md", "html": "report.html", "csv": "tables/"}
    for fmt in args.formats:
        print(f"report written to {out / names[fmt]}")
    if report.nothing_compared is not None:
        # a report was asked to compare proxies with full runs and compared nothing: not a success
        return _fail(report.nothing_compared)
    return 0


def report_console() -> None:
    """The ``budgetsweep-report`` command: ``report_main``, then the process ends."""
    code = report_main()
    # The interpreter's last garbage collections would walk every object the report left behind
    # (pandas, scipy, matplotlib, the run frames) only to free memory the OS takes back at exit:
    # about 0.3 CPU seconds. Frozen objects are not walked; the report's files are closed by now.
    gc.freeze()
    sys.exit(code)


# -- budgetsweep-plan -------------------------------------------------------------------------------
def plan_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="budgetsweep-plan",
        description="Plan runs without training: for each recipe (one, or with -m one per job of the grid) its "
                    "steps, batch, examples, tokens, FLOPs, evaluations and their cost, predicted cost factors "
                    "against the full recipe (examples, flops, time; time calibrated on the records under "
                    "--records when there are any), a peak-memory estimate and the plan's warnings. Takes "
                    "budgetsweep's overrides. Writes nothing.")
    p.add_argument("overrides", nargs="*", metavar="OVERRIDE", help="Hydra overrides, as for budgetsweep")
    p.add_argument("-m", "--multirun", action="store_true",
                   help="expand comma lists and ranges into a grid, one row per job (as budgetsweep -m)")
    p.add_argument("-cp", "--config-path", default=None,
                   help="folder of a user's own config (e.g. examples/own_loop/conf); default: budgetsweep's")
    p.add_argument("-cn", "--config-name", default="config", help="config name (default config)")
    p.add_argument("--units", default=None,
                   help="comma-separated cost units to predict: examples, flops, time (default: all three for a "
                        "built-in task, examples for a user's own loop, whose FLOPs the planner cannot count)")
    p.add_argument("--records", default="outputs",
                   help="folder of run records that calibrate the time model (default outputs)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    return p


def _plan_fail(message: str) -> int:
    print(f"budgetsweep-plan: invalid configuration: {message}", file=sys.stderr)
    return 2


def plan_main(argv: Sequence[str] | None = None) -> int:
    """Run budgetsweep-plan; returns the exit status (0 ok, 2 bad input: one message naming the key)."""
    args = plan_parser().parse_args(argv)
    from budgetsweep.plan_table import UNITS

    units = None
    if args.units is not None:
        units = tuple(dict.fromkeys(u.strip() for u in args.units.split(",") if u.strip()))
        bad = [u for u in units if u not in UNITS]
        if bad or not units:
            return _plan_fail(f"--units={args.units!r}: unknown unit {','.join(bad) or '(none)'}; allowed: "
                              f"{','.join(UNITS)}")
    import json

    from budgetsweep.plan import ConfigError
    from budgetsweep.plan_compose import ComposeError, compose_jobs
    from budgetsweep.plan_table import plan_row

    if args.config_path is None:  # the same checks and messages as budgetsweep (budgetsweep/options.py)
        from budgetsweep.options import reduction_conflict, unknown_option

        if message := unknown_option(args.overrides) or reduction_conflict(args.overrides):
            return _plan_fail(message)

    from budgetsweep import config_keys

    config_keys.install(())  # a mistyped key's error names the allowed keys (here as Hydra's exception, caught below)
    try:
        jobs = compose_jobs(args.overrides, multirun=args.multirun, config_path=args.config_path,
                            config_name=args.config_name)
        rows, full_cache = [], {}
        for number, (cfg, overrides, varying) in enumerate(jobs):
            # by default, what the config can count: a user's own loop (no task) has no FLOPs
            job_units = units or (UNITS if "task" in cfg else ("examples",))
            rows.append(plan_row(number, cfg, overrides, varying, args.records, job_units, full_cache))
    except (ComposeError, ConfigError) as exc:
        return _plan_fail(str(exc))
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=1))
    else:
        from budgetsweep.plan_table import format_table

        print(format_table(rows))
    return 0


if __name__ == "__main__":
    report_console()
