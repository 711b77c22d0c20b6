"""DigitsNet: a small CNN space for sklearn's 8x8 digits (1x8x8 in [0, 1], 10 classes).

The quickstart space: with Adam (lr 1e-3..3e-3, batch 32-64) every architecture reaches 0.95+
validation accuracy in 3 epochs (most in 2), and a trial trains in under a second or two
on one CPU thread. Normalization after every layer (batch norm after the convs, layer norm
after fc1) is what makes so few steps enough.

Labels (72 architectures = 2 * 3 * 2 * 3 * 2):

| label      | kind  | candidates                                  |
|------------|-------|---------------------------------------------|
| `conv1`    | layer | `"conv3x3"`, `"conv5x5"` (the first conv)    |
| `channels` | value | 8, 16, 32 (width of both convs)              |
| `conv2`    | layer | `"skip"`, `"conv3x3"` (optional second conv) |
| `hidden`   | value | 64, 128, 256 (the hidden fully connected layer) |
| `dropout`  | value | 0.0, 0.25                                   |

    from nas_cli import freeze
    model = freeze(DigitsNet, {"conv1": "conv3x3", "channels": 16, "conv2": "conv3x3",
                               "hidden": 128, "dropout": 0.0})
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import nas_cli.nn as nn
from nas_cli import model_wrapper


@model_wrapper
class DigitsNet(nn.Module):
    """conv (3x3 | 5x5) -> [conv 3x3] -> fc(hidden) -> dropout -> fc(10), normalized."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        channels = nn.ValueChoice([8, 16, 32], label="channels")
        hidden = nn.ValueChoice([64, 128, 256], label="hidden")
        self.conv1 = nn.LayerChoice({
            "conv3x3": nn.Conv2d(1, channels, 3, padding=1),
            "conv5x5": nn.Conv2d(1, channels, 5, padding=2),
        }, label="conv1")
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.LayerChoice({
            "skip": nn.Identity(),
            "conv3x3": nn.Sequential(
                nn.Conv2d(channels, channels, 3, padding=1),
                nn.BatchNorm2d(channels),
                nn.ReLU(),
            ),
        }, label="conv2")
        self.fc1 = nn.Linear(channels * 8 * 8, hidden)  # derived from `channels`: not a decision
        self.norm = nn.LayerNorm(hidden)  # not BatchNorm1d: any batch size works
        self.dropout = nn.Dropout(nn.ValueChoice([0.0, 0.25], label="dropout"))
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.conv2(x)
        x = self.dropout(F.relu(self.norm(self.fc1(x.flatten(1)))))
        return self.fc2(x)
