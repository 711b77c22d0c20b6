"""SignalNet: the model space of the one-shot benchmark (bench/bench_oneshot.py), for the
1 x 48 signals of `bench.data.signals` (4 classes).

A stem conv, then 1-3 blocks (a `Repeat`), each an operation followed by batch norm and ReLU,
then a global max pool and a linear classifier. Width is shared by every layer (a ValueChoice:
the supernet slices convolutions, batch norms and the classifier).

| label      | kind   | candidates                                          | active when     |
|------------|--------|-----------------------------------------------------|-----------------|
| `width`    | value  | 8, 16, 24                                           |                 |
| `depth`    | repeat | 1, 2, 3                                             |                 |
| `op{b}`    | layer  | `conv`, `dilconv` (3, dilation 2), `maxpool` (3)     | `depth > b`     |
| `kernel{b}`| value  | 3, 5 (the conv's kernel)                            | `op{b}` is conv |

Each block has 4 settings, so the space has 3 * (4 + 4**2 + 4**3) = 252 architectures.
`SignalNet(widths=(16,), kernels=(3,))` fixes the width and the conv kernel (plain arguments,
no ValueChoice: the sub-space ProxylessNAS can search, 39 of the table's architectures).
"""

from __future__ import annotations

import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper


@model_wrapper
class SignalNet(nn.Module):
    def __init__(self, classes: int = 4, widths: tuple[int, ...] = (8, 16, 24),
                 kernels: tuple[int, ...] = (3, 5)):
        super().__init__()
        width = nn.ValueChoice(list(widths), label="width") if len(widths) > 1 else widths[0]
        self.stem = nn.Sequential(nn.Conv1d(1, width, 3, padding=1), nn.BatchNorm1d(width),
                                  nn.ReLU())

        def block(b: int) -> nn.Module:
            kernel = (nn.ValueChoice(list(kernels), label=f"kernel{b}") if len(kernels) > 1
                      else kernels[0])
            return nn.Sequential(
                nn.LayerChoice({
                    "conv": nn.Conv1d(width, width, kernel, padding=kernel // 2),
                    "dilconv": nn.Conv1d(width, width, 3, padding=2, dilation=2),
                    "maxpool": nn.MaxPool1d(3, stride=1, padding=1),
                }, label=f"op{b}"),
                nn.BatchNorm1d(width), nn.ReLU())

        self.blocks = nn.Repeat(block, nn.ValueChoice([1, 2, 3], label="depth"))
        self.pool = nn.AdaptiveMaxPool1d(1)
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.blocks(self.stem(x))).flatten(1))
