"""Learning-rate schedules as a multiplier of the base rate, each with linear warmup."""
from __future__ import annotations

import math

from budgetsweep.recipe import SCHEDULES


def lr_multiplier(step: int, *, schedule: str, length: int, warmup: int = 0, cooldown_fraction: float = 0.2,
                  min_ratio: float = 0.0) -> float:
    """Multiplier at ``step`` (0-based) of a schedule ``length`` steps long.

    Steps past ``length`` hold the final value. ``wsd`` (warmup-stable-decay) is flat until its
    last ``cooldown_fraction`` of the schedule, then decays linearly to ``min_ratio``.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"train.schedule={schedule!r} is not allowed; allowed: {SCHEDULES}")
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    if schedule == "wsd":
        decay_start = max(warmup, length - round(cooldown_fraction * length))
        span = max(1, length - decay_start)
        progress = min(1.0, max(0.0, (step - decay_start) / span))
        return 1.0 - (1.0 - min_ratio) * progress
    progress = min(1.0, max(0.0, (step - warmup) / max(1, length - warmup)))
    if schedule == "linear":
        return 1.0 - (1.0 - min_ratio) * progress
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
