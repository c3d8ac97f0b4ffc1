"""The final answer of an auto-proxy sweep: the best configuration it measured at full scale.

Two phases run configurations at full scale: verification (the proxy search's top k) and calibration
(random configurations, for the fidelity estimate). Both are full-scale evidence the budget paid for, so
the answer is the best seed-mean objective over their union (``analysis.summary.ranking``, in the study's
direction; a configuration run in both phases pools its seeds). Like is compared with like: a calibration
configuration measured on fewer full-scale seeds than the verification gave each of its configurations is
left out, since the best of many one-seed means is mostly the luckiest seed (the winner's curse: at a
budget of 30 full runs on digits a calibration configuration at 0.0899 on one seed, picked over verified
ones at 0.093 on two, scored 0.109 on two fresh seeds; analysis/auto_proxy_budget30.md). A tie at
the top goes to the verified configuration the proxy ranked higher, then to the calibration one tried
first. ``Verification`` itself
is unchanged: it judges the proxy's top k among themselves.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from budgetsweep.analysis.schema import usable
from budgetsweep.analysis.summary import ranking

from .jsonable import plain
from .verify import Verification, config_values

VERIFICATION, CALIBRATION = "verification", "calibration"


@dataclass(frozen=True)
class FinalPick:
    """``source``: the phase that measured it at full scale (``verification`` wins a configuration run in
    both); ``proxy_rank``: its rank in the search (None for a calibration one); ``calibration_configs``:
    how many calibration configurations completed at full scale on as many seeds as the verification ran
    (what it was compared with); ``calibration_fewer_seeds``: how many others were left out for fewer seeds,
    and ``verify_seeds`` that number of seeds."""

    config_key: str
    config: dict[str, Any]
    full_mean: float
    full_std: float | None
    seeds: list[int]
    source: Literal["verification", "calibration"]
    proxy_rank: float | None
    calibration_configs: int
    calibration_fewer_seeds: int = 0
    verify_seeds: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items()
                if k not in ("calibration_configs", "calibration_fewer_seeds", "verify_seeds")}


def final_pick(verification: Verification | None, verified_runs: pd.DataFrame,
               calibration_runs: pd.DataFrame) -> FinalPick | None:
    """The best configuration measured at full scale by the verification and the calibration.

    Args:
        verification: ``verify``'s result; None (not verified yet) or without a verified best (no
            verification run completed) gives None: the sweep has no answer before it verified one.
        verified_runs: the verification's full-scale runs (the frame ``verify`` was given).
        calibration_runs: the calibration's runs, every rung; those at the verification runs' reduction
            label (full scale) count.
    """
    if verification is None or verification.final is None:
        return None
    rank = {c.config_key: c.proxy_rank for c in verification.configs}
    verified = verified_runs[verified_runs["config_key"].isin(rank) & usable(verified_runs)]
    labels = set(verified["reduction_label"])
    calib = calibration_runs[calibration_runs["reduction_label"].isin(labels) & usable(calibration_runs)]
    # like with like: a calibration configuration on fewer seeds than every verified one is not compared
    need = int(verified.groupby("config_key")["seed"].nunique().min()) if len(verified) else 0
    seeds_of = calib.groupby("config_key")["seed"].nunique()
    fewer = {str(k) for k, n in seeds_of.items() if n < need and k not in rank}
    calib = calib[~calib["config_key"].isin(fewer)]
    pooled = pd.concat([verified, calib], ignore_index=True) if len(calib) else verified
    ranked = ranking(pooled).set_index("config_key")
    first = calib.groupby("config_key")["trial_number"].min().astype(float).fillna(np.inf)  # records: no trial
    best = ranked.index[ranked["rank"] == ranked["rank"].min()]
    # ties: verified ones by proxy rank first, then calibration ones by the trial that ran them first
    key = str(min(best, key=lambda k: (0, rank[k], "") if k in rank else (1, float(first[k]), str(k))))
    row = ranked.loc[key]
    seeds = sorted({int(s) for s in pooled.loc[pooled["config_key"] == key, "seed"].dropna()})
    source = VERIFICATION if key in rank else CALIBRATION
    config = next(c.config for c in verification.configs if c.config_key == key) if key in rank \
        else config_values(calib, key)
    return FinalPick(key, config, plain(float(row["mean"])), plain(float(row["std"])), seeds, source,
                     rank.get(key), int(calib["config_key"].nunique()), len(fewer), need)


__all__ = ["CALIBRATION", "VERIFICATION", "FinalPick", "final_pick"]
