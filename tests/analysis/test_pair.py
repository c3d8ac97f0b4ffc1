from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from budgetsweep.analysis import aggregate_seeds, pair_runs, split_runs


def test_seeds_are_aggregated_over_completed_runs_only(runs, make_record):
    df = runs([
        make_record("a", seed=0, value=1.0),
        make_record("a", seed=1, value=3.0),
        make_record("a", seed=2, value=None, status="failed"),
        make_record("a", seed=3, value=100.0, status="pruned"),
        make_record("b", seed=0, value=2.0, examples=500),
    ])
    agg = aggregate_seeds(df).set_index("config_key")
    assert agg.loc["a", "mean"] == 2.0 and agg.loc["a", "n"] == 2
    assert agg.loc["a", "std"] == pytest.approx(np.std([1.0, 3.0], ddof=1))
    assert np.isnan(agg.loc["b", "std"]) and agg.loc["b", "examples"] == 500
    assert agg.loc["a", "config.optim.lr"] == 0.01


def test_pairs_join_by_config_key_and_count_both_sides(tables):
    proxy, full = tables({"a": [1.0], "b": [2.0], "only_full": [3.0]},
                         {"a": [5.0, 7.0], "b": [4.0], "only_proxy": [1.0]})
    pairs = pair_runs(proxy, full).set_index("config_key")
    assert pairs["paired"].to_dict() == {"a": True, "b": True, "only_full": False, "only_proxy": False}
    assert pairs.loc["a", "proxy_mean"] == 6.0 and pairs.loc["a", "proxy_n"] == 2
    assert pairs.loc["only_full", "proxy_n"] == 0 and pairs.loc["only_proxy", "full_n"] == 0
    # ranks among paired rows only, 1 = best (lowest loss)
    assert pairs.loc["a", "full_rank"] == 1 and pairs.loc["b", "full_rank"] == 2
    assert pairs.loc["a", "proxy_rank"] == 2 and pairs.loc["b", "proxy_rank"] == 1
    assert np.isnan(pairs.loc["only_full", "full_rank"])


def test_maximized_objective_ranks_the_highest_first(tables):
    proxy, full = tables({"a": [0.9], "b": [0.5], "c": [0.7]}, {"a": [0.6], "b": [0.2], "c": [0.4]},
                         direction="maximize")
    pairs = pair_runs(proxy, full).set_index("config_key")
    assert pairs["full_rank"].to_dict() == {"a": 1.0, "b": 3.0, "c": 2.0}
    assert (pairs["proxy_score"] == pairs["proxy_mean"]).all()


def test_each_strategy_is_paired_separately(tables):
    p1, full = tables({"a": [1.0], "b": [2.0]}, {"a": [1.0]}, label="one")
    p2, _ = tables({"a": [1.0], "b": [2.0]}, {"a": [1.0], "b": [3.0]}, label="two")
    pairs = pair_runs(pd.concat([p1, p2]), full)
    assert pairs.groupby("strategy")["paired"].sum().to_dict() == {"one": 1, "two": 2}
    # "b" has no run of strategy "one": it is a full-only configuration for it
    assert len(pairs[(pairs["strategy"] == "one") & ~pairs["paired"]]) == 1


def test_full_set_of_two_strategies_is_rejected(tables):
    proxy, full = tables({"a": [1.0]}, {"a": [1.0]})
    with pytest.raises(ValueError, match=r"full.reduction_label has values \['data_subset"):
        pair_runs(proxy, pd.concat([full, proxy]))


def test_mixed_directions_in_one_set_are_rejected(tables):
    proxy, full = tables({"a": [1.0], "b": [2.0]}, {"a": [1.0], "b": [1.0]})
    full.loc[0, "objective_direction"] = "maximize"
    with pytest.raises(ValueError, match="full.objective_direction has value"):
        pair_runs(proxy, full)


def test_a_frame_without_run_columns_is_rejected():
    with pytest.raises(ValueError, match="proxy lacks the run column"):
        pair_runs(pd.DataFrame({"x": [1]}), pd.DataFrame({"x": [1]}))
    with pytest.raises(TypeError, match="proxy must be a pandas DataFrame"):
        pair_runs([1, 2], pd.DataFrame())


def test_split_runs_by_label(tables):
    proxy, full = tables({"a": [1.0]}, {"a": [2.0]})
    p, f = split_runs(pd.concat([proxy, full], ignore_index=True))
    assert set(p["reduction_label"]) == {"data_subset(fraction=0.1)"} and set(f["reduction_label"]) == {"full"}


def test_seed_means_equal_up_to_float_error_share_a_rank(tables):
    # one score over 1, 5 and 7 seeds gives means that differ in the last bits
    proxy, full = tables({"a": [1.0], "b": [2.0], "c": [3.0], "d": [4.0]},
                         {"a": [0.9636], "b": [0.9636] * 5, "c": [0.9636] * 7, "d": [0.5]})
    pairs = pair_runs(proxy, full).set_index("config_key")
    assert pairs.loc[["a", "b", "c"], "proxy_mean"].nunique() == 3
    assert pairs["proxy_rank"].to_dict() == {"a": 3.0, "b": 3.0, "c": 3.0, "d": 1.0}


def _how_not_what_duplicates(make_record, label="full", shares=(0.1, 0.3), seeds=(0, 1), base=1.0):
    """Records of three configurations, each seed run once per train.eval_budget_share: a
    setting that changes how, not what, is trained (recipe.HOW_NOT_WHAT), so the config key
    (and the seed) of the duplicates is the same."""
    out = []
    for i, key in enumerate(("a", "b", "c")):
        for seed in seeds:
            for j, share in enumerate(shares):
                # the duplicates measure the same run twice: values a hair apart, costs differ
                out.append(make_record(key, label, seed, base + i + 0.1 * seed + 0.001 * j,
                                       wall=10.0 * (1 + j), config={"optim.lr": 0.01 * (i + 1),
                                                                    "train.eval_budget_share": share}))
    return out


def test_a_seed_run_twice_with_how_not_what_settings_counts_once(runs, make_record):
    df = runs(_how_not_what_duplicates(make_record))
    agg = aggregate_seeds(df).set_index("config_key")
    assert agg["n"].tolist() == [2, 2, 2]  # 2 seeds, not 4 runs
    # each seed is the mean of its duplicates; std is over the two seed means
    seed0, seed1 = 1.0005, 1.1005
    assert agg.loc["a", "mean"] == pytest.approx((seed0 + seed1) / 2)
    assert agg.loc["a", "std"] == pytest.approx(np.std([seed0, seed1], ddof=1))
    assert agg.loc["a", "wall_seconds"] == pytest.approx(15.0)
    # and whatever the row order
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(aggregate_seeds(shuffled).set_index("config_key")[["mean", "std", "n"]],
                                  agg[["mean", "std", "n"]])


def test_duplicate_seeds_count_once_in_pairs_and_noise_ceiling(runs, make_record):
    from budgetsweep.analysis import noise_ceiling

    full = runs(_how_not_what_duplicates(make_record))
    proxy = runs(_how_not_what_duplicates(make_record, label=PROXY_LABEL, shares=(0.5,), seeds=(0,)))
    pairs = pair_runs(proxy, full).set_index("config_key")
    assert pairs["full_n"].tolist() == [2, 2, 2] and pairs["proxy_n"].tolist() == [1, 1, 1]
    ceiling = noise_ceiling(full)
    assert ceiling.seeds == 2 and ceiling.seed_pairs == 1


def test_runs_without_a_seed_are_not_merged(runs, make_record):
    df = runs([make_record("a", seed=0, value=1.0), make_record("a", seed=0, value=2.0)])
    df["seed"] = pd.array([pd.NA, pd.NA], dtype="Int64")
    assert aggregate_seeds(df).loc[0, "n"] == 2


PROXY_LABEL = "data_subset(fraction=0.1)"
