"""MobileNetSpace: a MobileNetV2-like space of inverted-residual blocks, 1x8x8 in, 10 classes.

A stem conv, two stages of inverted-residual blocks, a 1x1 conv head and a linear classifier.
Each stage has a searchable width and depth; each block in a stage has its own expansion ratio
and kernel size (the stage is an `nn.Repeat` over a factory, so copy `b` gets labels of its
own, active only when the depth reaches it). The block is a `@basic_unit` that takes
ValueChoice arguments, so it can decide its residual connection from the chosen widths.

| label           | kind   | candidates | active when            |
|-----------------|--------|------------|------------------------|
| `stem_width`    | value  | 8, 16      |                        |
| `s1_width`      | value  | 16, 24     |                        |
| `s1_depth`      | repeat | 1, 2       |                        |
| `s1_b{b}_expand`| value  | 3, 6       | `s1_depth > b`         |
| `s1_b{b}_kernel`| value  | 3, 5       | `s1_depth > b`         |
| `s2_width`      | value  | 24, 32     |                        |
| `s2_depth`      | repeat | 1, 2, 3    |                        |
| `s2_b{b}_expand`| value  | 3, 6       | `s2_depth > b`         |
| `s2_b{b}_kernel`| value  | 3, 5       | `s2_depth > b`         |

Stage 1 runs at 8x8 (stride 1), stage 2 at 4x4 (its first block has stride 2). Each block has
2 * 2 = 4 settings, so stage 1 has 2 * (4 + 4**2) = 40 settings, stage 2 has
2 * (4 + 4**2 + 4**3) = 168, and the space 2 * 40 * 168 = 13,440 architectures.
"""

from __future__ import annotations

import torch

import nas_cli.nn as nn
from nas_cli import basic_unit, model_wrapper

EXPAND_RATIOS = [3, 6]
KERNEL_SIZES = [3, 5]


@basic_unit
class InvertedResidual(nn.Module):
    """1x1 expand -> kxk depthwise (stride) -> 1x1 project; residual when shapes match."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand_ratio: int,
                 kernel_size: int):
        super().__init__()
        hidden = in_ch * expand_ratio
        self.use_residual = stride == 1 and in_ch == out_ch
        self.block = nn.Sequential(
            nn.Conv2d(in_ch, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, hidden, kernel_size, stride, padding=kernel_size // 2,
                      groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_residual else out


def stage(name: str, in_ch, out_ch, stride: int, depth) -> nn.Module:
    """`depth` inverted-residual blocks; block `b` has its own `{name}_b{b}_*` decisions."""

    def block(b: int) -> nn.Module:
        return InvertedResidual(
            in_ch if b == 0 else out_ch, out_ch, stride if b == 0 else 1,
            nn.ValueChoice(EXPAND_RATIOS, label=f"{name}_b{b}_expand"),
            nn.ValueChoice(KERNEL_SIZES, label=f"{name}_b{b}_kernel"),
        )

    return nn.Repeat(block, depth, label=f"{name}_depth")


@model_wrapper
class MobileNetSpace(nn.Module):
    """stem (8|16) -> stage 1 (16|24, depth 1-2) -> stage 2 (24|32, depth 1-3, stride 2) -> head."""

    def __init__(self, head_width: int = 64, num_classes: int = 10):
        super().__init__()
        stem = nn.ValueChoice([8, 16], label="stem_width")
        w1 = nn.ValueChoice([16, 24], label="s1_width")
        w2 = nn.ValueChoice([24, 32], label="s2_width")
        self.stem = nn.Sequential(nn.Conv2d(1, stem, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(stem), nn.ReLU6())
        self.stage1 = stage("s1", stem, w1, 1, (1, 2))
        self.stage2 = stage("s2", w1, w2, 2, nn.ValueChoice([1, 2, 3], label="s2_depth"))
        self.head = nn.Sequential(nn.Conv2d(w2, head_width, 1, bias=False),
                                  nn.BatchNorm2d(head_width), nn.ReLU6(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(head_width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(self.stage2(self.stage1(self.stem(x)))))
