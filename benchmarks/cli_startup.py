"""Start-up time of the command-line entry points against importing Hydra alone.

Target (issue 10): ``budgetsweep --help`` and ``budgetsweep-report --help`` within 1.5x of
``python -c "import hydra"``. Each command runs as a real subprocess, interleaved, ``--repeat`` times;
the median wall time of each is kept (the machine may be shared). Prints a Markdown table.

    python benchmarks/cli_startup.py [--repeat 7]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = {
    'python -c "import hydra"': [sys.executable, "-c", "import hydra"],
    "budgetsweep --help": [str(BIN / "budgetsweep"), "--help"],
    "budgetsweep-report --help": [str(BIN / "budgetsweep-report"), "--help"],
    "budgetsweep --hydra-help": [str(BIN / "budgetsweep"), "--hydra-help"],
}


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeat):
        for name, cmd in COMMANDS.items():
            times[name].append(wall(cmd))
    base = statistics.median(times['python -c "import hydra"'])
    print("| command | median s | x import hydra |\n|---|---|---|")
    for name, values in times.items():
        print(f"| `{name}` | {statistics.median(values):.3f} | {statistics.median(values) / base:.2f} |")


if __name__ == "__main__":
    main()
