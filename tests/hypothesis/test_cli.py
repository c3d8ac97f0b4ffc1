"""``budgetsweep-hypothesis FILE``: real Hydra, the real app, tiny teacher_student runs (about a second each)."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from budgetsweep.analysis.hypothesis_report import fmt4
from budgetsweep.hypothesis.jobs import record_tag
from tests.conftest import BIN, REPO, cli, doc_commands

EXAMPLE = REPO / "examples" / "hypotheses" / "warmup_helps.yaml"
BASE = yaml.safe_load(EXAMPLE.read_text())


def run_cmd(tmp_path, *args, data=None, timeout=300):
    path = tmp_path / "h.yaml"
    if data is not None:
        path.write_text(yaml.safe_dump(data))
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(BIN / "budgetsweep-hypothesis"), str(path), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=timeout, env=env)


def folder_of(tmp_path, name="warmup_helps") -> Path:
    (folder,) = (tmp_path / "outputs" / "hypotheses" / name).iterdir()
    return folder


def records(folder: Path) -> dict:
    return {str(p.parent.relative_to(folder / "runs")): json.loads(p.read_text())
            for p in (folder / "runs").rglob("record.json")}


def readme_command() -> list[str]:
    """The docs' ``budgetsweep-hypothesis`` command (docs/hypotheses.md; tests/test_readme.py leaves it to this
    module)."""
    (line,) = [line for _, line in doc_commands("budgetsweep-hypothesis ")]
    return shlex.split(line.partition("#")[0])


def test_the_readme_command_runs_its_pairs_and_writes_registration_and_verdict(tmp_path):
    args = readme_command()
    shutil.copytree(REPO / "examples" / "hypotheses", tmp_path / "examples" / "hypotheses")
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = folder_of(tmp_path)
    reg = json.loads((folder / "registration.json").read_text())
    h = reg["registration_sha256"]
    assert folder.name == h[:16]
    recs = records(folder)
    # each job in its fixed folder, every record tagged with this registration
    assert sorted(recs) == sorted(f"full/seed{s}/{a}" for s in range(3) for a in ("baseline", "candidate"))
    for sub, rec in recs.items():
        scale, seed, arm = sub.split("/")
        tag = record_tag(rec)
        assert (tag["registration"], tag["scale"], tag["arm"], rec["seed"]) == (h, scale, arm, int(seed[4:]))
        assert rec["status"] == "completed"
        assert rec["config"]["train.warmup_steps"] == (0 if arm == "baseline" else 8)
    verdict = json.loads((folder / "verdict.json").read_text())
    assert verdict["registration_sha256"] == h
    pairs = verdict["scales"]["full"]["pairs"]
    assert [p["seed"] for p in pairs] == [0, 1, 2] and verdict["scales"]["full"]["incomplete_seeds"] == []
    for p in pairs:
        assert p["baseline"] == recs[f"full/seed{p['seed']}/baseline"]["metrics"]["val_loss"]
        assert p["candidate"] == recs[f"full/seed{p['seed']}/candidate"]["metrics"]["val_loss"]
    # an 8-step warmup helps here (docs/hypotheses.md: p = 0.0025 on a CPU)
    assert verdict["verdict"] == "supported" and verdict["sentence"] in proc.stdout
    # the report beside verdict.json, and the key numbers at 4 significant digits on the terminal
    md = (folder / "report.md").read_text()
    assert md.startswith(f"**{verdict['sentence']}**") and h in md and (folder / "report.html").is_file()
    assert (folder / "figures" / "pairs_full.png").is_file()
    mean = fmt4(verdict["scales"]["full"]["effect"]["mean_improvement"])
    assert f"mean improvement {mean};" in proc.stdout and f"registration sha256 {h}" in proc.stdout

    # the same command again: nothing new runs, the verdict is the same
    again = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=tmp_path, capture_output=True, text=True,
                           timeout=300, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing to run" in again.stdout + again.stderr
    assert records(folder) == recs
    assert json.loads((folder / "verdict.json").read_text())["scales"] == verdict["scales"]


@pytest.mark.parametrize("change, message", [
    ({"seeds": 1}, "seeds=1 is not allowed"),
    ({"seeds": [4]}, "seeds=[4] is not allowed"),
    ({"candidate": ["train.warmup_steps=0"]}, "identical to baseline"),
    # the same overrides in another order are the same arm
    ({"common": ["task=teacher_student"], "baseline": ["train.epochs=2", "train.warmup_steps=0"],
      "candidate": ["train.warmup_steps=0", "train.epochs=2"]}, "identical to baseline"),
    ({"alpha": 0.5}, "alpha=0.5 is not allowed"),
    ({"alpha": 0}, "alpha=0 is not allowed"),
    ({"alpha": -0.05}, "alpha=-0.05 is not allowed"),
    # an exact sign-flip design that can never reach alpha (5 seeds two-sided: p >= 0.0625)
    ({"seeds": 5, "sides": 2, "test": "permutation"}, "smallest 2-sided p is 0.0625"),
    ({"metric": "val_accuracy"}, "val_accuracy"),
    # different overrides, same composed configuration (20 is teacher_student's own warmup)
    ({"baseline": [], "candidate": ["train.warmup_steps=20"], "common": [*BASE["common"], "train.warmup_steps=20"]},
     "composes to the same configuration"),
])
def test_bad_input_exits_2_with_one_message_and_runs_nothing(tmp_path, change, message):
    proc = run_cmd(tmp_path, data={**BASE, **change})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("record.json")) and not list(tmp_path.rglob("registration.json"))


def test_a_diverging_candidate_is_a_result_and_makes_the_verdict_inconclusive(tmp_path):
    # the record's error names budgetsweep.train.NonFiniteLoss: the job is done (not rerun), its pair not finite
    data = dict(BASE, seeds=2, candidate=["optim.lr=1.0e+30", "train.warmup_steps=0"],
                common=[*BASE["common"][:4], "train.epochs=1", *BASE["common"][5:]])
    proc = run_cmd(tmp_path, data=data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    v = json.loads((folder_of(tmp_path) / "verdict.json").read_text())
    full = v["scales"]["full"]
    assert v["verdict"] == "inconclusive" and full["nonfinite_seeds"] == [0, 1] and full["incomplete_seeds"] == []
    assert [p["candidate"] for p in full["pairs"]] == [None, None] and "not finite" in proc.stdout


def test_only_hydra_overrides_on_the_command_line(tmp_path):
    proc = run_cmd(tmp_path, "train.epochs=5", data=BASE)
    assert proc.returncode == 2 and "train.epochs=5" in proc.stderr
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_a_run_killed_after_the_first_pair_resumes_with_complete_pairs(tmp_path):
    data = dict(BASE, seeds=3)
    path = tmp_path / "h.yaml"
    path.write_text(yaml.safe_dump(data))
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([str(BIN / "budgetsweep-hypothesis"), str(path)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:  # the first pair done, the second pair's baseline started
        runs = list((tmp_path / "outputs" / "hypotheses").glob("*/*/runs"))
        if runs and (runs[0] / "full" / "seed1" / "baseline").exists():
            break
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    folder = folder_of(tmp_path)
    first = records(folder)
    done_first = {k for k, r in first.items() if r.get("status") == "completed"}
    assert {"full/seed0/baseline", "full/seed0/candidate"} <= done_first
    assert "full/seed1/candidate" not in done_first

    resumed = run_cmd(tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    recs = records(folder)
    assert sorted(recs) == sorted(f"full/seed{s}/{a}" for s in range(3) for a in ("baseline", "candidate"))
    assert all(r["status"] == "completed" for r in recs.values())
    # the first pair was not rerun: its records are unchanged
    for k in ("full/seed0/baseline", "full/seed0/candidate"):
        assert recs[k] == first[k]
    verdict = json.loads((folder / "verdict.json").read_text())
    pairs = verdict["scales"]["full"]["pairs"]
    assert [p["seed"] for p in pairs] == [0, 1, 2] and verdict["scales"]["full"]["incomplete_seeds"] == []
    assert [(p["baseline"], p["candidate"]) for p in pairs] == [
        (recs[f"full/seed{s}/baseline"]["metrics"]["val_loss"], recs[f"full/seed{s}/candidate"]["metrics"]["val_loss"])
        for s in range(3)]


@pytest.mark.slow
def test_sequential_looks_stop_once_the_verdict_is_decided(tmp_path):
    # decided at the first look (2 pairs) whichever way: the 8-step warmup's effect (~0.013, tiny sd) is
    # either significant (supported) or its interval lies below smallest_effect=1 (refuted); seeds 2, 3 never run
    data = dict(BASE, seeds=4, smallest_effect=1.0, sequential={"looks": [2, 4], "spending": "pocock"})
    proc = run_cmd(tmp_path, data=data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = folder_of(tmp_path)
    assert sorted(records(folder)) == sorted(f"full/seed{s}/{a}" for s in range(2) for a in ("baseline", "candidate"))
    verdict = json.loads((folder / "verdict.json").read_text())
    full = verdict["scales"]["full"]
    assert verdict["verdict"] in ("supported", "refuted") and full["n_pairs"] == 2
    assert full["sequential"]["stop"] is True and full["sequential"]["look"] == 0


@pytest.mark.slow
def test_a_budget_in_examples_runs_only_the_pairs_that_fit(tmp_path):
    # each job trains on 512 examples x 2 epochs = 1024: a pair costs 2048; 5000 holds two pairs
    data = dict(BASE, seeds=4, budget={"limit": 5000, "unit": "examples"})
    proc = run_cmd(tmp_path, data=data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = folder_of(tmp_path)
    assert sorted(records(folder)) == sorted(f"full/seed{s}/{a}" for s in range(2) for a in ("baseline", "candidate"))
    verdict = json.loads((folder / "verdict.json").read_text())
    assert verdict["budget"] == {"limit": 5000.0, "unit": "examples", "spent": 4096.0, "stopped": True}
    assert "budget: spent 4096 of 5000 examples" in proc.stdout


@pytest.mark.slow
def test_the_joblib_launcher_runs_whole_pairs_in_parallel(tmp_path):
    # n_jobs=4: two pairs per batch, so seeds 0-1 run as one batch and seed 2 as the next
    proc = run_cmd(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=4", data=dict(BASE, seeds=3), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert "is launching 4 jobs" in log and "is launching 2 jobs" in log
    folder = folder_of(tmp_path)
    recs = records(folder)
    assert sorted(recs) == sorted(f"full/seed{s}/{a}" for s in range(3) for a in ("baseline", "candidate"))
    verdict = json.loads((folder / "verdict.json").read_text())
    assert [p["seed"] for p in verdict["scales"]["full"]["pairs"]] == [0, 1, 2]


def test_the_sweeper_refuses_overrides_the_registration_does_not_hold(tmp_path):
    # budgetsweep -m hydra/sweeper=hypothesis directly, with a task override: refused before any job
    proc = cli(["-m", "hydra/sweeper=hypothesis", "hydra.sweeper.registration=r.json", "train.epochs=3"],
               cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "'train.epochs=3' is not allowed with hydra/sweeper=hypothesis" in proc.stderr
    assert not list(tmp_path.rglob("record.json"))


@pytest.mark.slow
def test_the_submitit_local_launcher_runs_the_pairs(tmp_path):
    # submitit runs each job in its own process (as on SLURM): the verdict reads their records
    proc = run_cmd(tmp_path, "hydra/launcher=submitit_local", data=dict(BASE, seeds=2), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = folder_of(tmp_path)
    assert sorted(records(folder)) == sorted(f"full/seed{s}/{a}" for s in range(2) for a in ("baseline", "candidate"))
    verdict = json.loads((folder / "verdict.json").read_text())
    assert [p["seed"] for p in verdict["scales"]["full"]["pairs"]] == [0, 1]
    assert len(verdict["registration_sha256"]) == 64
