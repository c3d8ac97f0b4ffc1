"""What the measuring wrappers of this folder share: run ``python WRAPPER.py MODULE ARGS`` as
``python -m MODULE ARGS`` would, with ``report`` called at exit (before the interpreter's teardown)."""
from __future__ import annotations

import atexit
import runpy
import sys
from typing import Callable


def run_with_report(report: Callable[[], None]) -> None:
    atexit.register(report)
    module, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
