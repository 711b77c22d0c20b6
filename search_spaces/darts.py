"""DartsNet: a DARTS-like cell space for 1x8x8 images, 10 classes.

A cell takes the outputs of the two previous cells (`s0`, `s1`) and computes `num_nodes`
nodes. Node `i` picks 2 of the tensors before it with `nn.InputChoice(i + 2, n_chosen=2)`
(index 0 is `s0`, 1 is `s1`, `k + 2` is node `k`) and sums two edges, each a LayerChoice over
6 operations keyed by name, applied to the chosen inputs in index order. The cell outputs the
concatenation of its nodes (`num_nodes * channels` channels). There are no reduction cells:
the 8x8 input keeps its resolution up to the global average pool.

All cells share one genotype, as DARTS's normal cells do: the same labels in every cell, so
`num_cells` changes the network, not the space. Labels for node `i` in `0..num_nodes-1`:

| label            | kind  | candidates                                             |
|------------------|-------|--------------------------------------------------------|
| `node{i}/inputs` | input | the C(i + 2, 2) sorted pairs of indices in `0..i+1`    |
| `node{i}/op0`    | layer | the 6 operations, on the lower chosen index            |
| `node{i}/op1`    | layer | the 6 operations, on the higher chosen index           |

The operations: `"sep_conv_3x3"`, `"dil_conv_3x3"`, `"max_pool_3x3"`, `"avg_pool_3x3"`,
`"skip_connect"`, `"none"`.

Size with the default `num_nodes=4`: C(2,2) * C(3,2) * C(4,2) * C(5,2) * 6**8
= 1 * 3 * 6 * 10 * 1,679,616 = 302,330,880 architectures.

    from nas_cli import search_space
    space = search_space(DartsNet)            # or init_kwargs={"num_nodes": 3}
"""

from __future__ import annotations

import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper

OP_NAMES = ("sep_conv_3x3", "dil_conv_3x3", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
            "none")


class Zero(nn.Module):
    """The "none" operation: zeros of the input's shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def sep_conv(channels: int, dilation: int = 1) -> nn.Module:
    """ReLU -> depthwise 3x3 (dilated) -> pointwise 1x1 -> BN: a DARTS sep/dil conv."""
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, groups=channels,
                  bias=False),
        nn.Conv2d(channels, channels, 1, bias=False),
        nn.BatchNorm2d(channels),
    )


def make_ops(channels: int) -> dict[str, nn.Module]:
    return {
        "sep_conv_3x3": sep_conv(channels),
        "dil_conv_3x3": sep_conv(channels, dilation=2),
        "max_pool_3x3": nn.MaxPool2d(3, stride=1, padding=1),
        "avg_pool_3x3": nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
        "skip_connect": nn.Identity(),
        "none": Zero(),
    }


def relu_conv_bn(in_ch: int, out_ch: int) -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.Conv2d(in_ch, out_ch, 1, bias=False),
                         nn.BatchNorm2d(out_ch))


class Node(nn.Module):
    """Chooses 2 of the earlier states and sums an operation on each."""

    def __init__(self, index: int, channels: int):
        super().__init__()
        self.inputs = nn.InputChoice(index + 2, n_chosen=2, reduction="none",
                                     label=f"node{index}/inputs")
        self.op0 = nn.LayerChoice(make_ops(channels), label=f"node{index}/op0")
        self.op1 = nn.LayerChoice(make_ops(channels), label=f"node{index}/op1")

    def forward(self, states: list[torch.Tensor]) -> torch.Tensor:
        first, second = self.inputs(states)
        return self.op0(first) + self.op1(second)


class DartsCell(nn.Module):
    """Preprocesses both inputs to `channels`, runs the nodes, concatenates them."""

    def __init__(self, prev_prev: int, prev: int, channels: int, num_nodes: int):
        super().__init__()
        self.pre0 = relu_conv_bn(prev_prev, channels)
        self.pre1 = relu_conv_bn(prev, channels)
        self.nodes = nn.ModuleList(Node(i, channels) for i in range(num_nodes))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for node in self.nodes:
            states.append(node(states))
        return torch.cat(states[2:], dim=1)


@model_wrapper
class DartsNet(nn.Module):
    """Stem conv -> `num_cells` shared-genotype cells -> global average pool -> linear."""

    def __init__(self, channels: int = 8, num_cells: int = 2, num_nodes: int = 4,
                 num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels))
        prev_prev, prev = channels, channels
        self.cells = nn.ModuleList()
        for _ in range(num_cells):
            self.cells.append(DartsCell(prev_prev, prev, channels, num_nodes))
            prev_prev, prev = prev, num_nodes * channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(self.pool(s1).flatten(1))
