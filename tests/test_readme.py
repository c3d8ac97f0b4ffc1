"""Every `budgetsweep ...` command and example script in the bash blocks of README.md and docs/*.md runs as
written (the other console scripts' documented commands are run by their own modules: budgetsweep-plan in
test_cli_plan.py, budgetsweep-report in analysis/test_report_docs.py, budgetsweep-hypothesis in
hypothesis/test_cli.py)."""
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.conftest import DOC_PAGES, REPO, cli, doc_blocks, doc_commands, doc_text

# Documented commands that take minutes on a 2-core CPU, or start a process per job: run with -m slow.
SLOW = ("hydra/launcher=submitit_local",)


def commands():
    return [pytest.param(line, id=where, marks=[pytest.mark.slow] if any(s in line for s in SLOW) else [])
            for where, line in doc_commands("budgetsweep ", "python examples/")]


def test_readme_opens_with_the_two_commands():
    (_, _, first_block), *_ = doc_blocks("bash", ["README.md"])
    assert first_block.split() == ["make", "demo", "make", "test"]


def test_every_docs_page_is_linked_from_the_readme():
    readme = doc_text("README.md")
    pages = DOC_PAGES[1:]
    assert pages and [p for p in pages if f"({p})" not in readme] == []


def test_relative_links_between_pages_resolve():
    broken = []
    for page in DOC_PAGES:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc_text(page)):
            if not ((REPO / page).parent / target).exists():
                broken.append(f"{page} -> {target}")
    assert broken == []


@pytest.mark.parametrize("line", commands())
def test_readme_command_runs(line, tmp_path):
    command, _, comment = line.partition("#")
    args = shlex.split(command)
    program = args.pop(0)
    if program == "python":  # an example script, run from a copy of the repo's examples
        shutil.copytree(REPO / "examples", tmp_path / "examples")
        proc = subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    else:
        proc = cli(args, cwd=tmp_path, check=False, timeout=600)
    if "fails cleanly" in comment:
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert list(tmp_path.rglob("record.json")), "the command wrote no record"
