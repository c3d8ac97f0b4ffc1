"""A tiny real proxy and full grid on digits; the report's numbers must match the records."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from budgetsweep.cli import report_main
from tests.conftest import cli


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    common = ["-m", "task=digits", "optim.lr=0.001,0.01,0.1", "model.hidden=16,64", "train.epochs=3",
              "train.eval_every=20"]
    cli([*common, "reduction=full", "seed=0,1", f"hydra.sweep.dir={root / 'full'}"], cwd=root)
    cli([*common, "reduction=data_subset", "reduction.data_subset.fraction=0.25", f"hydra.sweep.dir={root / 'proxy'}"],
        cwd=root)
    return root


def seed_means(folder):
    rows = [json.loads(p.read_text()) for p in folder.glob("*/record.json")]
    frame = pd.DataFrame({"key": [r["config_key"] for r in rows], "value": [r["objective"]["value"] for r in rows],
                          "examples": [r["cost"]["measured"]["examples"] for r in rows]})
    return frame.groupby("key").mean()


def test_report_numbers_match_the_records(grid):
    out = grid / "report"
    assert report_main([str(grid / "proxy"), "--full", str(grid / "full"), "--out", str(out),
                        "--format", "md,html,csv"]) == 0
    row = pd.read_csv(out / "tables" / "fidelity.csv").iloc[0]
    proxy, full = seed_means(grid / "proxy"), seed_means(grid / "full")
    joined = proxy.merge(full, left_index=True, right_index=True, suffixes=("_proxy", "_full"))
    assert row["configs"] == len(joined) == 6
    assert row["rho"] == pytest.approx(stats.spearmanr(joined.value_proxy, joined.value_full).statistic)
    assert row["tau"] == pytest.approx(stats.kendalltau(joined.value_proxy, joined.value_full).statistic)
    assert row["cost_reduction_examples"] == pytest.approx(joined.examples_full.mean() / joined.examples_proxy.mean())
    assert row["cost_reduction_examples"] == pytest.approx(4, rel=0.1)
    best_full = joined.value_full.min()
    proxy_pick = joined.value_full[joined.value_proxy.idxmin()]
    assert row["regret"] == pytest.approx(proxy_pick - best_full)
    assert row["full_seeds"] == 2 and np.isfinite(row["seed_rho"])
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html.replace("http://www.w3.org", "")
