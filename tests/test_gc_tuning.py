"""The collector's work in a sweeper's process (budgetsweep/gc_tuning.py): what is frozen when, what is
restored, and that the process ends as it would without it (a file a script left open is flushed)."""
from __future__ import annotations

import gc
import json
import weakref

import pytest

from budgetsweep.gc_tuning import FrozenHeap
from tests.sweeper.conftest import REPO, run_app


@pytest.fixture(autouse=True)
def _restore_gc():
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


class _Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the collector frees it


def test_start_up_is_paused_and_frozen_then_collection_resumes_and_the_end_restores_everything():
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    with FrozenHeap() as heap:
        assert heap.frozen and not gc.isenabled() and gc.get_freeze_count() > 0
        imported = [[] for _ in range(1000)]  # lists: tracked by the collector  # what the start-up allocates
        before = gc.get_freeze_count()
        heap.settle()
        assert gc.isenabled() and gc.get_freeze_count() >= before + 1000
    assert not heap.frozen and gc.get_freeze_count() == 0 and gc.isenabled()
    del imported


def test_a_disabled_collector_stays_disabled_and_a_heap_frozen_by_someone_else_is_left_alone():
    gc.disable()
    with FrozenHeap() as heap:
        heap.settle()
        assert not gc.isenabled()  # resumed as it was: off
    assert not gc.isenabled() and gc.get_freeze_count() == 0
    gc.enable()
    gc.freeze()
    count = gc.get_freeze_count()
    with FrozenHeap() as heap:
        assert not heap.frozen and gc.isenabled()
        heap.settle()
        heap.warm_up()
    assert gc.get_freeze_count() > count - 100  # not unfrozen: it was not ours


def test_an_error_in_start_up_restores_the_collector():
    with pytest.raises(RuntimeError):
        with FrozenHeap():
            raise RuntimeError("the study cannot be opened")
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_warm_up_collects_the_first_jobs_garbage_before_freezing_once():
    with FrozenHeap() as heap:
        heap.settle()
        garbage = _Node()
        gone = weakref.ref(garbage)
        del garbage
        kept = [[] for _ in range(500)]  # what the first job loaded
        before = gc.get_freeze_count()
        heap.warm_up()
        assert gone() is None  # collected, not frozen for the rest of the sweep
        assert gc.get_freeze_count() >= before + 500
        after = gc.get_freeze_count()
        heap.warm_up()  # once: later batches are not frozen
        assert gc.get_freeze_count() == after
    assert gc.get_freeze_count() == 0
    del kept


APP = '''
import gc
import json
import os

import hydra


@hydra.main(version_base=None, config_path=".", config_name="gc_app")
def main(cfg) -> float:
    with open(os.path.join(os.getcwd(), "gc.json"), "w") as fh:  # chdir: the job's folder
        json.dump({"frozen": gc.get_freeze_count(), "enabled": gc.isenabled()}, fh)
    return float(cfg.x)


if __name__ == "__main__":
    main()
    print("after the sweep:", json.dumps({"frozen": gc.get_freeze_count(), "enabled": gc.isenabled()}))
'''

LOG_APP = '''
import os

import hydra

LOG = open(os.environ["LOG_FILE"], "w")  # never closed: the interpreter's teardown flushes and closes it


@hydra.main(version_base=None, config_path=".", config_name="gc_app")
def main(cfg) -> float:
    LOG.write(f"x={cfg.x}\\n")
    return float(cfg.x)


if __name__ == "__main__":
    main()
'''


def test_a_sweep_runs_its_jobs_on_a_frozen_heap_with_collection_on_and_gives_it_back(tmp_path):
    (tmp_path / "gc_app.py").write_text(APP)
    (tmp_path / "gc_app.yaml").write_text("x: 0.5\n")
    proc = run_app(tmp_path, "x=interval(0, 1)", "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=1",
                   "hydra.job.chdir=true", module="gc_app", env={"PYTHONPATH": f"{tmp_path}:{REPO}"})
    seen = [json.loads((tmp_path / "sweep" / str(n) / "gc.json").read_text()) for n in range(3)]
    assert len(seen) == 3
    assert all(s["frozen"] > 10_000 and s["enabled"] for s in seen)  # Optuna's, SQLAlchemy's objects: frozen
    assert seen[1]["frozen"] > seen[0]["frozen"]  # after the first batch, what it loaded too
    after = json.loads(proc.stdout.split("after the sweep:")[1].strip().splitlines()[0])
    assert after == {"frozen": 0, "enabled": True}


def test_a_file_the_script_left_open_is_flushed_at_exit_as_under_any_other_sweeper(tmp_path):
    # a module global of __main__ sits in a reference cycle (its dict and its functions): only teardown's
    # collection closes the file, so a heap still frozen at exit would lose everything it buffered
    (tmp_path / "log_app.py").write_text(LOG_APP)
    (tmp_path / "gc_app.yaml").write_text("x: 0.5\n")
    log = tmp_path / "jobs.log"
    run_app(tmp_path, "x=interval(0, 1)", "hydra.sweeper.n_trials=3", module="log_app",
            env={"PYTHONPATH": f"{tmp_path}:{REPO}", "LOG_FILE": str(log)})
    assert len(log.read_text().splitlines()) == 3
