"""``budgetsweep-hypothesis FILE [hydra overrides]``: register a hypothesis file, then run its pairs.

Steps: :func:`~budgetsweep.hypothesis.spec.load` the file and
:func:`~budgetsweep.hypothesis.registration.register` it under ``outputs/hypotheses/<name>/<hash[:16]>/``
(a bad file, a metric the task does not report or identical arms: one message, exit 2, nothing run);
then the unchanged ``budgetsweep`` app runs in multirun mode with ``hydra/sweeper=hypothesis``
(hydra_plugins/budgetsweep_hypothesis), its runs under that folder's ``runs/``, so Hydra's launchers
(``hydra/launcher=joblib``, submitit) run the jobs. Rerunning the same command resumes.

Only ``hydra...`` overrides are accepted on the command line: what the arms run is the file's
(``common:``), so the registration hashes everything that changes a result.
"""
from __future__ import annotations

import sys
from typing import Sequence

ROOT = "outputs/hypotheses"
USAGE = "usage: budgetsweep-hypothesis FILE [hydra overrides, e.g. hydra/launcher=joblib]"


def _fail(message: str) -> int:
    print(f"budgetsweep-hypothesis: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """The console script. Returns the exit status (0, or 2 for bad input before anything ran)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):  # asked for: the usage on stdout, success
        print(USAGE)
        return 0
    if not args:  # argparse's convention for a missing argument: the usage and the error on stderr, exit 2
        print(USAGE, file=sys.stderr)
        return _fail("error: the hypothesis FILE is required (a YAML file: see docs/hypotheses.md)")
    path, overrides = args[0], args[1:]
    foreign = [o for o in overrides if not o.lstrip("+~").startswith("hydra")]
    if foreign:
        return _fail(f"override {foreign[0]!r} is not allowed on the command line; only hydra overrides "
                     "(hydra/launcher=joblib, hydra.launcher.n_jobs=4): put what the arms run in the file's "
                     "common/baseline/candidate, so the registration holds it")
    from budgetsweep.hypothesis.registration import REGISTRATION_FILE, register
    from budgetsweep.hypothesis.spec import HypothesisError, load

    try:
        hyp = load(path)
        folder, reg = register(hyp, ROOT, path=path)
    except HypothesisError as exc:
        return _fail(str(exc))
    print(f"registered {hyp.name}: sha256 {reg['registration_sha256']} ({reg['created_utc']}) in {folder}")
    sys.argv = [sys.argv[0], "-m", "hydra/sweeper=hypothesis",
                f"hydra.sweeper.registration={folder / REGISTRATION_FILE}", f"hydra.sweep.dir={folder / 'runs'}",
                *overrides]
    from budgetsweep.app import main as app_main

    app_main()
    return 0


def console() -> None:
    sys.exit(main())
