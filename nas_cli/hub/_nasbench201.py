"""NAS-Bench-201 (Dong & Yang, 2020): one cell genotype (`nas_cli.nn.NasBench201Cell`) of 6
edges x 5 operations, 15,625 architectures, stacked in three stages separated by residual
reduction blocks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper
from nas_cli.hub._ops import Zero, relu_conv_bn

OPERATIONS = ("none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3")


def _operation(name: str, c_in: int, c_out: int) -> nn.Module:
    if name == "none":
        return Zero(c_out=c_out)
    if name == "skip_connect":
        if c_in != c_out:
            raise ValueError(f"skip_connect needs equal widths, got {c_in} -> {c_out}")
        return nn.Identity()
    if name in ("conv_1x1", "conv_3x3"):
        k = 1 if name == "conv_1x1" else 3
        return relu_conv_bn(c_in, c_out, k, padding=k // 2)
    if name == "avg_pool_3x3":
        pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        return pool if c_in == c_out else nn.Sequential(relu_conv_bn(c_in, c_out, 1), pool)
    raise ValueError(f"unknown NAS-Bench-201 operation {name!r}")


OPS: dict[str, Callable[[int, int], nn.Module]] = {
    name: functools.partial(_operation, name) for name in OPERATIONS
}


class ResNetBasicBlock(nn.Module):
    """Two ReLU-conv-BN 3x3 (the first with `stride`) plus a shortcut: avg-pool + 1x1 conv
    when downsampling, a ReLU-conv-BN 1x1 when only the width changes."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv_a = relu_conv_bn(c_in, c_out, 3, stride=stride, padding=1)
        self.conv_b = relu_conv_bn(c_out, c_out, 3, padding=1)
        self.downsample: nn.Module | None
        if stride == 2:
            self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2),
                                            nn.Conv2d(c_in, c_out, 1, bias=False))
        elif c_in != c_out:
            self.downsample = relu_conv_bn(c_in, c_out, 1)
        else:
            self.downsample = None  # the shortcut is the input itself

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))


@model_wrapper
class NasBench201(nn.Module):
    """The NAS-Bench-201 space: stem conv, then `num_modules_per_stack` cells at width C, a
    residual reduction to 2C, as many cells, a reduction to 4C, as many cells, BN-ReLU, global
    pooling and a linear classifier. All cells share the 6 labels `cell/{i}_{j}`.

    >>> freeze(NasBench201, {"cell/0_1": "conv_3x3", "cell/0_2": "none", ...})
    """

    def __init__(self, stem_out_channels: int = 16, num_modules_per_stack: int = 5,
                 num_labels: int = 10, in_channels: int = 3):
        super().__init__()
        c, n = stem_out_channels, num_modules_per_stack
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c))
        widths = [c] * n + [2 * c] * (n + 1) + [4 * c] * (n + 1)
        reductions = [False] * n + [True] + [False] * n + [True] + [False] * n
        self.cells = nn.ModuleList()
        c_prev = c
        for width, reduction in zip(widths, reductions):
            self.cells.append(ResNetBasicBlock(c_prev, width, 2) if reduction
                              else nn.NasBench201Cell(OPS, c_prev, width, label="cell"))
            c_prev = width
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU())
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.classifier(self.global_pooling(self.lastact(x)).flatten(1))
