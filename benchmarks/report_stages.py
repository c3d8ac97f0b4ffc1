"""Where a budgetsweep-report process spends its time: one fresh process, stage by stage.

The stages of ``budgetsweep-report PROXY --full FULL`` (``cli.report_main``) in order, each timed
in wall seconds and in CPU seconds of this process and of the worker processes it forks (record
readers, bootstraps, figure renderers). The command imports scipy.stats while its readers read,
and matplotlib before its renderers fork; here both are imported up front, as stages of their
own, so that their cost is seen apart. Interpreter start-up is the CPU this process used before
its first line ran; it exits as the command does (``cli.report_console``). Prints one JSON object: {"stages": [[name, wall, cpu, children cpu], ...]}.
Run by benchmarks/analysis_scale.py; alone:

    .venv/bin/python benchmarks/report_stages.py PROXY_DIR FULL_DIR [--resamples 2000]
"""
import resource
import time

START_WALL = time.perf_counter()
_self = resource.getrusage(resource.RUSAGE_SELF)
START_CPU = _self.ru_utime + _self.ru_stime  # the interpreter's start-up, before this line

import argparse  # noqa: E402  (after the start-up clock)
import gc  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402


def _cpu() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("proxy")
    p.add_argument("full")
    p.add_argument("--resamples", type=int, default=2000)
    args = p.parse_args()
    stages: list[list] = [["interpreter start-up", float("nan"), START_CPU, 0.0]]
    mark = [time.perf_counter(), *_cpu()]

    def done(name: str) -> None:
        now = [time.perf_counter(), *_cpu()]
        stages.append([name, now[0] - mark[0], now[1] - mark[1], now[2] - mark[2]])
        mark[:] = now

    from budgetsweep.analysis.report import build_report, load_sets  # what report_main imports
    done("import budgetsweep.analysis.report (numpy, pandas, msgspec, budgetsweep)")
    import scipy.stats  # noqa: F401
    done("import scipy.stats (the command: while its readers read)")
    from budgetsweep.analysis.plots import import_matplotlib
    import_matplotlib()
    done("import matplotlib (the command: before its renderers fork)")
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
        warnings.simplefilter("ignore")
        proxy, full, sources, skipped = load_sets([args.proxy], [args.full])
        done(f"find + read {len(proxy) + len(full):,} record files (load_sets)")
        report = build_report(proxy, full, n_resamples=args.resamples, sources=sources, skipped_files=skipped)
        done("pair, bootstrap, statistics (build_report)")
        report.write(tmp, ("md", "html"))
        done("figures, report.md + report.html (write)")
        report.terminal_text()
        done("verdict and strategy table (terminal_text)")
    print(json.dumps({"stages": stages, "wall": time.perf_counter() - START_WALL}), flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    gc.freeze()  # the command's exit (cli.report_console)
    sys.exit(code)
