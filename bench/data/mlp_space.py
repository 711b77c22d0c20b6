"""DigitsMLPNet: the model space of the learning-curve table (bench/data/mlp_curves.csv).

An MLP for sklearn's 8x8 digits (64 inputs) with 3,024 architectures: a shared width, a depth
of 1 to 3 hidden layers, an activation per layer (active only when that layer exists), one
normalization and one dropout for every layer.

| label      | kind  | candidates                                        |
|------------|-------|---------------------------------------------------|
| `width`    | value | 32, 64, 128, 256 (every hidden layer)             |
| `depth`    | value | 1, 2, 3 (hidden layers)                           |
| `act1..3`  | layer | `relu`, `tanh`, `sigmoid`, `elu` (layer i's, when depth >= i) |
| `norm`     | layer | `none`, `batchnorm`, `layernorm`                  |
| `dropout`  | value | 0.0, 0.2, 0.5                                     |

4 * (4 + 4**2 + 4**3) * 3 * 3 = 3,024 architectures.
"""

from __future__ import annotations

import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu")


@model_wrapper
class DigitsMLPNet(nn.Module):
    """64 -> depth x [linear(width) -> norm -> act_i -> dropout] -> linear(10)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        width = nn.ValueChoice([32, 64, 128, 256], label="width")
        dropout = nn.ValueChoice([0.0, 0.2, 0.5], label="dropout")

        def layer(index: int) -> nn.Module:
            return nn.Sequential(
                nn.Linear(64 if index == 0 else width, width),
                nn.LayerChoice({"none": nn.Identity(), "batchnorm": nn.BatchNorm1d(width),
                                "layernorm": nn.LayerNorm(width)}, label="norm"),
                nn.LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(),
                                "elu": nn.ELU()}, label=f"act{index + 1}"),
                nn.Dropout(dropout),
            )

        self.body = nn.Repeat(layer, nn.ValueChoice([1, 2, 3], label="depth"))
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.flatten(1)))
