"""The wheel works on its own: built, installed into a fresh venv, run from outside the checkout."""
import json
import subprocess
import sys
import sysconfig
import venv

from tests.conftest import REPO


def test_wheel_installs_and_runs_outside_checkout(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(REPO)], check=True, capture_output=True)
    (wheel,) = dist.glob("budgetsweep-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # torch and the other dependencies come from the project's .venv, seen through a .pth file
    with open(f"{site}/project_venv.pth", "w") as fh:
        fh.write(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, capture_output=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = subprocess.run([str(py), "-c", "import budgetsweep.conf, hydra_plugins.budgetsweep_sweeper as p; "
                            "print(budgetsweep.conf.__file__)"],
                           cwd=outside, check=True, capture_output=True, text=True).stdout
    assert where.startswith(site), where  # the wheel's copy, not the checkout
    proc = subprocess.run([str(env_dir / "bin" / "budgetsweep"), "task=digits", "train.epochs=1",
                           "hydra.run.dir=run"], cwd=outside, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    record = json.loads((outside / "run" / "record.json").read_text())
    assert record["status"] == "completed" and record["recipe"]["train"]["epochs"] == 1
