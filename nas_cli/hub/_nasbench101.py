"""NAS-Bench-101 (Ying et al., 2019): a cell is any DAG of at most 7 vertices (input and output
included) and 9 edges, each interior vertex one of 3 operations; the network stacks 3 stacks of
3 cells (`nas_cli.nn.NasBench101Cell`) with max-pooling between them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper


def _conv_bn_relu(c_in: int, c_out: int, kernel_size: int) -> nn.Sequential:
    conv = nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False)
    std = (1.0 / (kernel_size * kernel_size * c_in)) ** 0.5
    nn.init.trunc_normal_(conv.weight, std=std, a=-2 * std, b=2 * std)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.ReLU())


OPS: dict[str, Callable[[int], nn.Module]] = {
    "conv3x3-bn-relu": lambda c: _conv_bn_relu(c, c, 3),
    "conv1x1-bn-relu": lambda c: _conv_bn_relu(c, c, 1),
    "maxpool3x3": lambda c: nn.MaxPool2d(3, 1, 1),
}


@model_wrapper
class NasBench101(nn.Module):
    """The NAS-Bench-101 network: a 3x3 conv-BN-ReLU stem, `num_stacks` stacks of
    `num_modules_per_stack` cells (sharing the labels `cell/...`; each stack after the first
    starts with a 2x2 max-pool and doubles the width), global pooling and a linear classifier.

    18,766,576 cells: vertex i's op and inputs exist only when the cell has that many vertices,
    a cell has at most `max_num_edges` edges and every vertex at least one input. NNI counts
    3,057,647,616 (every label's candidates multiplied, empty input sets included).
    Extension: `in_channels` (NNI: 3).
    """

    def __init__(self, stem_out_channels: int = 128, num_stacks: int = 3,
                 num_modules_per_stack: int = 3, max_num_vertices: int = 7,
                 max_num_edges: int = 9, num_labels: int = 10, bn_eps: float = 1e-5,
                 bn_momentum: float = 0.003, in_channels: int = 3):
        super().__init__()
        self.stem_conv = _conv_bn_relu(in_channels, stem_out_channels, 3)
        layers: list[nn.Module] = []
        c_in = c_out = stem_out_channels
        for stack in range(num_stacks):
            if stack > 0:
                layers.append(nn.MaxPool2d(2, 2))
                c_out *= 2
            for _ in range(num_modules_per_stack):
                layers.append(nn.NasBench101Cell(OPS, c_in, c_out,
                                                 lambda a, b: _conv_bn_relu(a, b, 1),
                                                 max_num_vertices, max_num_edges, label="cell"))
                c_in = c_out
        self.features = nn.ModuleList(layers)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_out, num_labels)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eps, module.momentum = bn_eps, bn_momentum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_conv(x)
        for layer in self.features:
            x = layer(x)
        return self.classifier(self.gap(x).flatten(1))
