"""MnistNet: the model space of NNI's Retiarii "hello NAS" tutorial, for 1x28x28 MNIST images.

Labels (18 architectures = 2 * 3 * 3):

| label     | kind  | candidates                                            |
|-----------|-------|-------------------------------------------------------|
| `conv2`   | layer | `"conv3x3"`, `"depthwise_separable"` (32 -> 64 channels) |
| `dropout` | value | 0.25, 0.5, 0.75 (after the convolutions)               |
| `hidden`  | value | 64, 128, 256 (one decision: the width of fc1 and fc2's input) |

    from nas_cli import freeze
    model = freeze(MnistNet, {"conv2": "depthwise_separable", "dropout": 0.5, "hidden": 128})
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import nas_cli.nn as nn
from nas_cli import model_wrapper


class DepthwiseSeparableConv(nn.Module):
    """A 3x3 depthwise conv followed by a 1x1 pointwise conv (no padding, like nn.Conv2d(.., 3))."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.depthwise = nn.Conv2d(in_ch, in_ch, kernel_size=3, groups=in_ch)
        self.pointwise = nn.Conv2d(in_ch, out_ch, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


@model_wrapper
class MnistNet(nn.Module):
    """conv 3x3 (32) -> conv2 choice (64) -> max-pool -> dropout -> fc(hidden) -> fc(10)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.LayerChoice({
            "conv3x3": nn.Conv2d(32, 64, 3, 1),
            "depthwise_separable": DepthwiseSeparableConv(32, 64),
        }, label="conv2")
        self.dropout1 = nn.Dropout(nn.ValueChoice([0.25, 0.5, 0.75], label="dropout"))
        self.dropout2 = nn.Dropout(0.5)
        hidden = nn.ValueChoice([64, 128, 256], label="hidden")
        self.fc1 = nn.Linear(64 * 12 * 12, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)  # same label: one decision with fc1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(self.conv2(x), 2)
        x = torch.flatten(self.dropout1(x), 1)
        return self.fc2(self.dropout2(F.relu(self.fc1(x))))
