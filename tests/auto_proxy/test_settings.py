"""Auto-proxy settings: defaults, overrides of candidates, and one error per bad key naming it."""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from budgetsweep.auto_proxy.settings import AutoProxyConfigError, AutoProxySettings, Candidate, Fallback


def test_defaults_are_the_task_keeping_presets_and_shares_summing_to_one():
    s = AutoProxySettings()
    assert [c.label for c in s.candidates] == ["small_batch", "mup_width", "proxy50"]
    assert s.candidates[2].overrides() == ["experiment=proxy50"]
    assert (s.shares.calibrate, s.shares.search, s.shares.verify) == (0.5, 0.2, 0.3)
    assert (s.target, s.criterion, s.fallback) == (0.8, "rho", Fallback.MILDER)
    assert s.calibrate.configs == 10  # the analysis module's MIN_CONFIGS_VERDICT


def test_a_reduction_list_candidate_becomes_overrides():
    s = AutoProxySettings.from_mapping({"candidates": [
        "proxy50", {"reduction": ["data_subset", "short_schedule"],
                    "params": {"data_subset.fraction": 0.1, "short_schedule.mode": "compress"}}]})
    assert s.candidates[0] == Candidate(preset="proxy50")
    assert s.candidates[1].label == "data_subset+short_schedule"
    assert s.candidates[1].overrides() == ["reduction=[data_subset,short_schedule]",
                                           "reduction.data_subset.fraction=0.1",
                                           "reduction.short_schedule.mode=compress"]


def test_from_an_omegaconf_container():
    cfg = OmegaConf.create({"target": 0.7, "fallback": "full", "proxy_search": {
        "reduction": ["data_subset"], "params": {"data_subset.fraction": "tag(log, interval(0.02, 0.5))"}}})
    s = AutoProxySettings.from_mapping(OmegaConf.to_container(cfg))
    assert (s.target, s.fallback, s.proxy_search.trials) == (0.7, Fallback.FULL, 6)


@pytest.mark.parametrize("node, message", [
    ({"target": 1.5}, "auto_proxy.target=1.5 is not allowed; it must be in (0, 1]"),
    ({"target": 0}, "auto_proxy.target=0 is not allowed; it must be in (0, 1]"),
    ({"target": "high"}, "auto_proxy.target='high' is not allowed; it must be a finite number"),
    ({"criterion": "tau"}, "auto_proxy.criterion='tau' is not allowed; allowed: rho, rho_rel"),
    ({"fallback": "none"}, "auto_proxy.fallback='none' is not allowed; allowed: milder, full"),
    ({"confidence_level": 1.0}, "auto_proxy.confidence_level=1.0 is not allowed"),
    ({"shares": {"calibrate": 0.6}}, "sums to 1.1; the shares of the budget must sum to 1"),
    ({"shares": {"calibrate": 0.0, "search": 0.7}},
     "auto_proxy.shares.calibrate=0.0 is not allowed; it must be in (0, 1)"),
    ({"calibrate": {"configs": 2}}, "auto_proxy.calibrate.configs=2 is not allowed; it must be an integer >= 3"),
    ({"calibrate": {"full_seeds": 1, "min_full_seeds": 2}}, "auto_proxy.calibrate.min_full_seeds=2 is not allowed"),
    ({"verify": {"top_k": 0}}, "auto_proxy.verify.top_k=0 is not allowed; it must be an integer >= 1"),
    ({"verify": {"topk": 3}}, "auto_proxy.verify.topk is not an auto-proxy setting; allowed: min_seeds, seeds, top_k"),
    ({"budget": 3}, "auto_proxy.budget is not an auto-proxy setting"),
    ({"candidates": []}, "auto_proxy.candidates=[] is not allowed; give at least one candidate proxy"),
    ({"candidates": [{"preset": "proxy50", "reduction": ["data_subset"]}]}, "give exactly one"),
    ({"candidates": [{"reduction": ["full"]}]}, "auto_proxy.candidates[0].reduction=['full'] is not allowed"),
    ({"candidates": [{"reduction": ["data_subset"], "params": {"fraction": 0.1}}]},
     "each key must be <reduction>.<parameter> of a reduction in ['data_subset']"),
    ({"candidates": ["proxy50", {"preset": "proxy50"}]}, "candidates[0] has the same name"),
    ({"candidates": [{"name": "full", "reduction": ["data_subset"]}]},
     "auto_proxy.candidates[0].name='full' is not allowed; 'full' is full scale's rung"),
    ({"verify": {"top_k": 5}, "search": {"min_trials": 4}},
     "auto_proxy.verify.top_k=5 is not allowed; it must be <= auto_proxy.search.min_trials=4"),
    ({"proxy_search": {"reduction": ["data_subset"], "params": {"data_subset.fraction": "0.1"}}},
     "auto_proxy.proxy_search.params.data_subset.fraction='0.1' is not allowed; it must be a search space"),
])
def test_bad_input_is_one_error_naming_the_key(node, message):
    with pytest.raises(AutoProxyConfigError) as err:
        AutoProxySettings.from_mapping(node)
    assert message in str(err.value)


def test_a_structured_config_merges_overrides_and_validates_on_to_object():
    """The sweeper registers the dataclass in Hydra's ConfigStore: user overrides merge into it and
    ``OmegaConf.to_object`` runs the same validation."""
    base = OmegaConf.structured(AutoProxySettings)
    merged = OmegaConf.merge(base, {"fallback": "full", "verify": {"top_k": 5},
                                    "candidates": [{"reduction": ["data_subset"],
                                                    "params": {"data_subset.fraction": 0.05}}]})
    s = OmegaConf.to_object(merged)
    assert (s.fallback, s.verify.top_k) == (Fallback.FULL, 5)
    assert s.candidates[0].overrides() == ["reduction=[data_subset]", "reduction.data_subset.fraction=0.05"]
    with pytest.raises(AutoProxyConfigError, match=r"auto_proxy.target=1.5 is not allowed"):
        OmegaConf.to_object(OmegaConf.merge(base, {"target": 1.5}))
