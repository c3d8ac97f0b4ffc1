"""Which examples each step trains on, by default: a fresh permutation per epoch, the ragged last
batch dropped. A reduction's ``sampler`` hook may replace it (curriculum's paced sampler)."""
from __future__ import annotations

from typing import Any

import torch


class ShuffledEpochs:
    info: dict[str, Any] = {}

    def __init__(self, n: int, batch: int, seed: int, device: torch.device) -> None:
        self.n, self.batch, self.device = n, batch, device
        self.gen = torch.Generator().manual_seed(seed)
        self.order, self.pos = None, n

    def next(self, step: int) -> torch.Tensor:
        if self.pos + self.batch > self.n:  # new epoch: reshuffle, drop the ragged last batch
            self.order, self.pos = torch.randperm(self.n, generator=self.gen).to(self.device), 0
        idx = self.order[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return idx
