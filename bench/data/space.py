"""DigitsBenchNet: the model space of the tabular search benchmark (bench/bench_search.py).

A small CNN for sklearn's 1x8x8 digits with 648 architectures and one nested decision:

| label      | kind  | candidates                                            |
|------------|-------|-------------------------------------------------------|
| `channels` | value | 4, 8, 16 (width of every conv)                        |
| `kernel`   | layer | `conv3x3`, `conv5x5` (the first conv)                 |
| `norm`     | layer | `none`, `batchnorm` (after every conv and the hidden fc) |
| `act`      | layer | `relu`, `tanh`, `sigmoid` (every activation)          |
| `block`    | layer | `skip`, `conv` (an optional second conv block)        |
| `block_op` | layer | `conv3x3`, `dwsep3x3` (active when block is `conv`)   |
| `hidden`   | value | 16, 64, 128 (the hidden fully connected layer)        |
| `dropout`  | value | 0.0, 0.5                                              |

3 * 2 * 2 * 3 * (1 + 2) * 3 * 2 = 648 architectures.
"""

from __future__ import annotations

import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper

ACTIVATIONS = ("relu", "tanh", "sigmoid")


def _norm(width, dims: int = 2) -> nn.LayerChoice:
    batchnorm = nn.BatchNorm2d(width) if dims == 2 else nn.BatchNorm1d(width)
    return nn.LayerChoice({"none": nn.Identity(), "batchnorm": batchnorm}, label="norm")


def _act() -> nn.LayerChoice:
    return nn.LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()},
                          label="act")


@model_wrapper
class DigitsBenchNet(nn.Module):
    """conv (3x3 | 5x5) -> norm -> act -> [conv block] -> fc(hidden) -> norm -> act -> dropout
    -> fc(10)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        channels = nn.ValueChoice([4, 8, 16], label="channels")
        hidden = nn.ValueChoice([16, 64, 128], label="hidden")
        self.conv = nn.LayerChoice({
            "conv3x3": nn.Conv2d(1, channels, 3, padding=1),
            "conv5x5": nn.Conv2d(1, channels, 5, padding=2),
        }, label="kernel")
        self.norm1 = _norm(channels)
        self.act1 = _act()
        self.block = nn.LayerChoice({
            "skip": nn.Identity(),
            "conv": nn.Sequential(
                nn.LayerChoice({
                    "conv3x3": nn.Conv2d(channels, channels, 3, padding=1),
                    "dwsep3x3": nn.Sequential(
                        nn.Conv2d(channels, channels, 3, padding=1, groups=channels),
                        nn.Conv2d(channels, channels, 1),
                    ),
                }, label="block_op"),
                _norm(channels),
                _act(),
            ),
        }, label="block")
        self.fc1 = nn.Linear(channels * 8 * 8, hidden)
        self.norm2 = _norm(hidden, dims=1)
        self.act2 = _act()
        self.dropout = nn.Dropout(nn.ValueChoice([0.0, 0.5], label="dropout"))
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block(self.act1(self.norm1(self.conv(x))))
        x = self.act2(self.norm2(self.fc1(x.flatten(1))))
        return self.fc2(self.dropout(x))
