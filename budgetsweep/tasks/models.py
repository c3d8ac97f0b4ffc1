"""Small built-in models. Chosen by ``model._target_``; the task passes the data shapes."""
from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, in_features: int, out_features: int, hidden: int = 128, depth: int = 2,
                 dropout: float = 0.0, activation: str = "relu") -> None:
        super().__init__()
        if hidden < 1 or depth < 1:
            raise ValueError(f"model.hidden={hidden!r}, model.depth={depth!r}; both must be >= 1")
        acts = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}
        if activation not in acts:
            raise ValueError(f"model.activation={activation!r}; allowed: {sorted(acts)}")
        layers: list[nn.Module] = []
        width = in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), acts[activation]()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


class CNN(nn.Module):
    """A small conv net for square single-channel images (digits: 8x8)."""

    def __init__(self, in_features: int, out_features: int, channels: int = 32, hidden: int = 64,
                 image_size: int = 8) -> None:
        super().__init__()
        if image_size * image_size != in_features:
            raise ValueError(f"model.image_size={image_size} does not match {in_features} input features")
        self.image_size = image_size
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        side = image_size // 2
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * side * side, hidden), nn.ReLU(),
                                  nn.Linear(hidden, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(-1, 1, self.image_size, self.image_size)
        return self.head(self.features(x))
