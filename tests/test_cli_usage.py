"""Every console script run without the arguments it requires prints its usage and the error on stderr, nothing
on stdout, and exits 2 (argparse's convention); ``--help`` prints the usage on stdout and exits 0."""
from __future__ import annotations

import subprocess
import tomllib

import pytest

from tests.conftest import BIN, REPO

# scripts with nothing required: budgetsweep runs the default recipe, budgetsweep-plan plans it
NOTHING_REQUIRED = {"budgetsweep", "budgetsweep-plan"}
SCRIPTS = sorted(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"])
REQUIRED = [s for s in SCRIPTS if s not in NOTHING_REQUIRED]


def _run(script: str, *args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / script), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_every_script_is_classified():
    assert set(REQUIRED) == {"budgetsweep-hypothesis", "budgetsweep-report"}, SCRIPTS


@pytest.mark.parametrize("script", REQUIRED)
def test_no_arguments_is_a_usage_error_on_stderr(script, tmp_path):
    proc = _run(script, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout
    assert proc.stderr.startswith(f"usage: {script} ") and f"{script}: error: " in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("script", REQUIRED)
def test_help_is_the_usage_on_stdout(script, tmp_path):
    proc = _run(script, "--help", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith(f"usage: {script} ") and proc.stderr == ""
