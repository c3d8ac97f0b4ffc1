"""verify() on real records: the search's top configurations at full scale, exact values."""
from __future__ import annotations

import pytest

from budgetsweep.analysis import load_runs
from budgetsweep.auto_proxy.verify import top_configs, verify

from .synthetic import FAITHFUL, write_run

C = [(1e-3, 512), (1e-3, 128), (3e-4, 512), (1e-2, 32)]  # the search's order, best first
KEY = [f"lr={lr:g},hidden={w}" for lr, w in C]


def search(tmp_path):
    for (lr, w), value in zip(C, (0.1, 0.2, 0.3, 0.4)):
        write_run(tmp_path / "search", "faithful", lr, w, 0, value=value)
    return load_runs(tmp_path / "search")


def full(tmp_path, means, seeds=2, spread=0.01):
    for (lr, w), mean in zip(C, means):
        for seed in range(seeds):
            if mean is not None:
                write_run(tmp_path / "verify", "full", lr, w, seed, value=mean + (spread if seed else -spread))
    return load_runs(tmp_path / "verify")


def test_top_configs_by_the_search_ranking(tmp_path):
    assert top_configs(search(tmp_path), 3) == KEY[:3]


def test_ranking_held_and_the_pick_is_the_verified_best(tmp_path):
    result = verify(search(tmp_path), full(tmp_path, [1.0, 1.1, 1.2]), 3)
    assert (result.rung, result.pick, result.final) == (FAITHFUL, KEY[0], KEY[0])
    assert result.pick_is_best is True and result.ranking_held is True
    assert result.rho == pytest.approx(1.0) and result.regret == pytest.approx(0.0)
    first = result.configs[0]
    assert (first.proxy_rank, first.full_rank, first.seeds) == (1.0, 1.0, [0, 1])
    assert first.full_mean == pytest.approx(1.0) and first.proxy_score == pytest.approx(0.1)
    assert first.config == {"task": "synthetic", "optim.lr": 1e-3, "model.hidden": 512}


def test_ranking_broken_the_final_answer_is_the_verified_best(tmp_path):
    result = verify(search(tmp_path), full(tmp_path, [1.2, 1.0, 1.1]), 3)
    assert (result.pick, result.final, result.pick_is_best, result.ranking_held) == (KEY[0], KEY[1], False, False)
    assert result.rho == pytest.approx(-0.5)
    assert result.regret == pytest.approx(0.2)  # objective units
    # seed sd of each configuration: 0.02 / sqrt(2); regret over it
    assert result.regret_sd == pytest.approx(0.2 / (0.02 / 2 ** 0.5))
    assert [c.full_rank for c in result.configs] == [3.0, 1.0, 2.0]


def test_a_tie_at_the_top_goes_to_the_proxy_s_pick(tmp_path):
    result = verify(search(tmp_path), full(tmp_path, [1.0, 1.0, 1.2]), 3)
    assert (result.final, result.pick_is_best) == (KEY[0], True)


def test_an_unverified_configuration_is_named_and_left_out_of_the_answer(tmp_path):
    result = verify(search(tmp_path), full(tmp_path, [None, 1.1, 1.0]), 3)
    assert result.final == KEY[2] and result.pick_is_best is None
    assert result.configs[0].full_rank is None and result.configs[0].seeds == []
    assert "1 of the top 3 have no completed full-scale run" in result.notes[0]
    assert result.to_dict()["rho"] is None  # two configurations: no rank correlation, JSON null


def test_nothing_verified(tmp_path):
    (tmp_path / "verify").mkdir()
    write_run(tmp_path / "verify", "full", *C[0], 0, status="failed")
    result = verify(search(tmp_path), load_runs(tmp_path / "verify"), 3)
    assert result.final is None and "no verification run completed" in result.notes[-1]


def test_search_runs_of_several_rungs_are_refused(tmp_path):
    runs = search(tmp_path)
    write_run(tmp_path / "search", "biased", *C[0], 0)
    with pytest.raises(ValueError, match="search_runs.reduction_label has 2 values"):
        verify(load_runs(tmp_path / "search"), runs, 3)


def test_after_a_full_scale_fallback_the_search_s_top_is_verified_with_fresh_seeds(tmp_path):
    for (lr, w), value in zip(C, (1.0, 1.1, 1.2, 1.3)):
        write_run(tmp_path / "search", "full", lr, w, 0, value=value)
    result = verify(load_runs(tmp_path / "search"), full(tmp_path, [1.15, 1.05, 1.25]), 3)
    assert (result.rung, result.final, result.pick_is_best, result.ranking_held) == ("full", KEY[1], False, False)
    assert result.regret == pytest.approx(0.1)
