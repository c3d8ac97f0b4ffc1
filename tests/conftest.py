"""Shared fixtures: compose the app's config, run jobs in-process or as real subprocesses."""
from __future__ import annotations

import json
import os
import re
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


# The documentation: README.md (the newcomer's page) and the reference pages under docs/. Tests that run
# a documented command or example read it from the page that holds it, so moving text between pages
# moves its test with it.
DOC_PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md"))]


def doc_text(page: str) -> str:
    """The text of one documentation page, ``"README.md"`` or ``"docs/<name>.md"``."""
    return (REPO / page).read_text(encoding="utf-8")


def doc_blocks(kind: str, pages=None) -> list[tuple[str, int, str]]:
    """Every fenced block of this kind (bash, python, text...) in ``pages`` (default: every page), in page order,
    as (page, line of the block's first text line, text)."""
    found = []
    for page in pages or DOC_PAGES:
        text = doc_text(page)
        for m in re.finditer(rf"```{kind}\n(.*?)```", text, flags=re.S):
            found.append((page, text.count("\n", 0, m.start(1)) + 1, m.group(1)))
    return found


def doc_commands(*prefixes: str, pages=None) -> list[tuple[str, str]]:
    """The command lines of the bash blocks (backslash continuations joined) that start with one of ``prefixes``,
    as (``page:line``, command line)."""
    found = []
    for page, first, block in doc_blocks("bash", pages):
        start, pending = first, ""
        for number, raw in enumerate(block.splitlines(), first):
            start = start if pending else number
            part = raw.strip()
            if part.endswith("\\"):  # as the shell reads it: backslash-newline joins the lines
                pending += part[:-1]
                continue
            line, pending = (pending + part).strip(), ""
            if line.startswith(prefixes):
                found.append((f"{page}:{start}", line))
    return found


def benchmark_module(name: str):
    """The script ``benchmarks/<name>.py`` loaded as a module (benchmarks/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_json(path):
    return json.loads(Path(path).read_text())
