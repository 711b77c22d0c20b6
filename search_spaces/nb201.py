"""NB201Net: a NAS-Bench-201-like cell space for 1x8x8 images, 10 classes.

A cell is a DAG of 4 nodes; node `j` sums one operation applied to each earlier node `i`, and
node 3 is the cell's output. Each of the 6 edges `i -> j` is a decision labelled `"{j}_{i}"`
(NNI's naming), a LayerChoice over 5 operations keyed by name. Every cell of the network shares
the same 6 labels (one genotype, as in NAS-Bench-201), so the space has exactly 5**6 = 15,625
architectures.

Labels: `1_0`, `2_0`, `2_1`, `3_0`, `3_1`, `3_2`, each one of `"none"`, `"skip_connect"`,
`"conv_1x1"`, `"conv_3x3"`, `"avg_pool_3x3"`.

Network: stem conv 3x3 (C) -> `num_cells` cells (C, 8x8) -> residual reduction (2C, 4x4) ->
`num_cells` cells (2C) -> BN-ReLU -> global average pool -> linear(10).

    from nas_cli import freeze
    arch = {"1_0": "conv_3x3", "2_0": "skip_connect", "2_1": "conv_1x1",
            "3_0": "none", "3_1": "avg_pool_3x3", "3_2": "conv_3x3"}
    model = freeze(NB201Net, arch)
"""

from __future__ import annotations

import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper

OP_NAMES = ("none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3")
NUM_NODES = 4


class Zero(nn.Module):
    """The "none" operation: the edge contributes nothing (zeros of the input's shape)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def relu_conv_bn(channels: int, kernel_size: int) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(channels),
    )


def make_ops(channels: int) -> dict[str, nn.Module]:
    return {
        "none": Zero(),
        "skip_connect": nn.Identity(),
        "conv_1x1": relu_conv_bn(channels, 1),
        "conv_3x3": relu_conv_bn(channels, 3),
        "avg_pool_3x3": nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
    }


class NB201Cell(nn.Module):
    """Node j = sum over i < j of edge "{j}_{i}" applied to node i; returns the last node."""

    def __init__(self, channels: int):
        super().__init__()
        self.edges = nn.ModuleDict({
            f"{j}_{i}": nn.LayerChoice(make_ops(channels), label=f"{j}_{i}")
            for j in range(1, NUM_NODES) for i in range(j)
        })

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in range(1, NUM_NODES):
            nodes.append(sum(self.edges[f"{j}_{i}"](nodes[i]) for i in range(j)))
        return nodes[-1]


class ResidualReduction(nn.Module):
    """NAS-Bench-201's reduction block: two 3x3 convs (stride 2) plus a pooled 1x1 shortcut."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv_a = nn.Sequential(nn.ReLU(), nn.Conv2d(in_ch, out_ch, 3, 2, 1, bias=False),
                                    nn.BatchNorm2d(out_ch))
        self.conv_b = relu_conv_bn(out_ch, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(in_ch, out_ch, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


@model_wrapper
class NB201Net(nn.Module):
    """Stem, two stages of shared-genotype cells with a reduction between, and a linear head."""

    def __init__(self, channels: int = 16, num_cells: int = 1, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels))
        layers: list[nn.Module] = [NB201Cell(channels) for _ in range(num_cells)]
        layers.append(ResidualReduction(channels, 2 * channels))
        layers += [NB201Cell(2 * channels) for _ in range(num_cells)]
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(2 * channels), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(2 * channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(self.cells(self.stem(x))))
