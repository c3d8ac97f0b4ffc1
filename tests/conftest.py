"""Shared fixtures: compose the app's config, run jobs in-process or as real subprocesses."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture
def compose_cfg():
    """compose_cfg(overrides) -> DictConfig of the real app config."""

    def _compose(overrides=()):
        with initialize_config_module(config_module="budgetsweep.conf", version_base=None):
            return compose(config_name="config", overrides=list(overrides))

    return _compose


def cli(args, cwd, check=True, timeout=300, env=None):
    """Run the installed ``budgetsweep`` console script as a user would."""
    full_env = {**os.environ, "HYDRA_FULL_ERROR": "0", **(env or {})}
    proc = subprocess.run([str(BIN / "budgetsweep"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"budgetsweep {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def run_cli():
    return cli


def benchmark_module(name: str):
    """The script ``benchmarks/<name>.py`` loaded as a module (benchmarks/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_json(path):
    return json.loads(Path(path).read_text())
