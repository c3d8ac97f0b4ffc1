"""Every `budgetsweep...` command in the README's bash blocks runs as written."""
import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import REPO, cli

README = (REPO / "README.md").read_text()


def commands():
    found = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.strip()
            if line.startswith(("budgetsweep", "python examples/")):
                found.append(line)
    return found


def test_readme_opens_with_the_two_commands():
    first_block = re.search(r"```bash\n(.*?)```", README, flags=re.S).group(1).split()
    assert first_block == ["make", "demo", "make", "test"]


@pytest.mark.parametrize("line", commands())
def test_readme_command_runs(line, tmp_path):
    command, _, comment = line.partition("#")
    args = shlex.split(command)
    program = args.pop(0)
    if program == "python":  # an example script, run from a copy of the repo's examples
        import shutil
        import subprocess
        import sys

        shutil.copytree(REPO / "examples", tmp_path / "examples")
        proc = subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    elif program == "budgetsweep":
        proc = cli(args, cwd=tmp_path, check=False, timeout=600)
    else:
        pytest.skip(f"{program} is tested in its own module")
    if "fails cleanly" in comment:
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert list(tmp_path.rglob("record.json")), "the command wrote no record"
