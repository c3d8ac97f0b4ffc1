"""Scale-out with hydra-ray-launcher (issue 17 point 6): a 2-job multirun on a local Ray started on
127.0.0.1 by the launcher itself. Slow (Ray's start-up); skipped where the plugin is not installed
(``pip install hydra-ray-launcher``: not in the test extras, it pins cloudpickle<3 and brings Ray)."""
import json

import pytest

from tests.conftest import cli


@pytest.mark.slow
def test_two_jobs_run_on_a_local_ray(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="hydra-ray-launcher is not installed")
    cli(["-m", "hydra/launcher=ray", "hydra.launcher.ray.init.address=null",
         "+hydra.launcher.ray.init._node_ip_address=127.0.0.1", "+hydra.launcher.ray.init.include_dashboard=false",
         "+hydra.launcher.ray.init.num_cpus=2", "task=digits", "train.epochs=null", "train.steps=40",
         "optim.lr=0.01,0.03", f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path, timeout=900)
    records = [json.loads((tmp_path / "sweep" / str(n) / "record.json").read_text()) for n in (0, 1)]
    assert [r["status"] for r in records] == ["completed", "completed"]
    assert [r["recipe"]["optim"]["lr"] for r in records] == [0.01, 0.03]
    assert all(r["cost"]["measured"]["examples"] == 40 * 32 for r in records)
