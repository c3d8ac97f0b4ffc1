"""The collector's work in a sweeper's process (budgetsweep/gc_tuning.py): what is frozen when, what is
restored, and that the exit hook still finalizes garbage (the ``__del__`` of an object in a cycle runs)."""
from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
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


def test_the_exit_hook_still_finalizes_garbage_the_del_of_an_object_in_a_cycle_runs(tmp_path):
    out = tmp_path / "finalized.txt"
    script = textwrap.dedent(f"""
        import gc
        from budgetsweep.gc_tuning import install_exit_hook

        class Holder:
            def __init__(self, path):
                self.path = path
                self.me = self  # a cycle: only a collection finalizes it

            def __del__(self):
                with open(self.path, "w") as fh:
                    fh.write("finalized")

        install_exit_hook()
        holder = Holder({str(out)!r})
        del holder
        gc.disable()  # nothing collects it before the exit hook
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "finalized"  # a bare gc.freeze() at exit would leave it unfinalized


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
