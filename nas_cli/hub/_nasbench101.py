"""NAS-Bench-101 (Ying et al., 2019): a cell is any DAG of at most 7 vertices (input and output
included) and 9 edges, each interior vertex one of 3 operations; the network stacks 3 stacks of
3 cells with max-pooling between them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

import nas_cli.nn as nn
from nas_cli import basic_unit, model_wrapper
from nas_cli.errors import ArchError


@basic_unit
class _Decision(nn.Module):
    """Holds one choice so that discovery sees it; frozen, `value` is the chosen candidate."""

    def __init__(self, value: Any):
        super().__init__()
        self.value = value


def _subsets(n: int) -> list[list[int]]:
    """Every subset of range(n), the empty one first, by size (NNI's order)."""
    return [list(c) for r in range(n + 1) for c in itertools.combinations(range(n), r)]


def prune(inputs: Sequence[Sequence[int]], ops: Sequence[str]) -> tuple[list[list[int]], list[str]]:
    """Drop the vertices not on a path from the input (vertex 0) to the output (the last):
    returns the renumbered in-edges of vertices 1.. and the surviving ops. `inputs[i - 1]`
    lists the in-edges of vertex i; `ops` names vertices 1 .. n-2."""
    n = len(inputs) + 1
    preds = [[]] + [list(p) for p in inputs]
    from_input = {0}
    for v in range(1, n):
        if any(p in from_input for p in preds[v]):
            from_input.add(v)
    to_output = {n - 1}
    for v in range(n - 2, -1, -1):
        if any(v in preds[w] for w in to_output):
            to_output.add(v)
    keep = sorted(from_input & to_output)
    if 0 not in keep or n - 1 not in keep:
        raise ArchError("NAS-Bench-101 cell: the input is not connected to the output")
    index = {v: i for i, v in enumerate(keep)}
    pruned = [[index[p] for p in preds[v] if p in index] for v in keep[1:]]
    return pruned, [ops[v - 1] for v in keep[1:-1]]


def vertex_channels(c_in: int, c_out: int, inputs: Sequence[Sequence[int]]) -> list[int]:
    """NAS-Bench-101's widths: the vertices feeding the output split `c_out` between them (the
    first ones one channel more when it does not divide), every other interior vertex takes
    the widest of its successors."""
    n = len(inputs) + 1
    channels = [c_in] + [0] * (n - 2) + [c_out]
    if n == 2:
        return channels
    feeds_output = [v for v in range(1, n - 1) if v in inputs[-1]]
    share, extra = divmod(c_out, len(feeds_output))
    for rank, v in enumerate(feeds_output):
        channels[v] = share + (rank < extra)
    for v in range(n - 3, 0, -1):
        if v not in feeds_output:
            channels[v] = max(channels[w] for w in range(v + 1, n - 1) if v in inputs[w - 1])
    return channels


class NasBench101FixedCell(nn.Module):
    """One NAS-Bench-101 cell: vertex t sums its in-edges (interior ones truncated to its width,
    the cell input through a projection) and applies its op; the output concatenates the
    interior vertices that feed it, plus the projected input when that feeds it too."""

    def __init__(self, ops: Sequence[Callable[[int], nn.Module]], inputs: Sequence[Sequence[int]],
                 c_in: int, c_out: int, projection: Callable[[int, int], nn.Module]):
        super().__init__()
        self.inputs = [list(p) for p in inputs]
        self.channels = vertex_channels(c_in, c_out, self.inputs)
        n = len(self.inputs) + 1
        self.projections = nn.ModuleDict({
            str(v): projection(c_in, self.channels[v]) for v in range(1, n) if 0 in self.inputs[v - 1]
        })
        self.ops = nn.ModuleList(make(self.channels[v]) for v, make in enumerate(ops, start=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tensors = [x]
        for v, op in enumerate(self.ops, start=1):
            width = self.channels[v]
            parts = [tensors[p][:, :width] for p in self.inputs[v - 1] if p > 0]
            if 0 in self.inputs[v - 1]:
                parts.append(self.projections[str(v)](x))
            tensors.append(op(sum(parts[1:], parts[0])))
        into_output = self.inputs[-1]
        if into_output == [0]:
            return self.projections[str(len(tensors))](x)
        out = torch.cat([tensors[p] for p in into_output if p > 0], 1)
        return out + self.projections[str(len(tensors))](x) if 0 in into_output else out


class NasBench101Cell(nn.Module):
    """The NAS-Bench-101 cell space, labelled as NNI does: `{label}/num_nodes` (2 ..
    `max_num_nodes`, input and output included), `{label}/op{i}` for interior vertex i (one of
    `op_candidates`, factories `f(num_features)`), `{label}/input{i}` (the list of earlier
    vertices feeding vertex i, possibly empty). A vertex's labels only count when the cell has
    it. An architecture with more than `max_num_edges` edges, or whose input does not reach
    its output, is refused when frozen. Built as a space, the cell cannot run: freeze it.
    """

    def __init__(self, op_candidates: Mapping[str, Callable[[int], nn.Module]], in_features: int,
                 out_features: int, projection: Callable[[int, int], nn.Module],
                 max_num_nodes: int = 7, max_num_edges: int = 9, label: str = "cell"):
        super().__init__()
        names = list(op_candidates)
        num_nodes = nn.ValueChoice(list(range(2, max_num_nodes + 1)), label=f"{label}/num_nodes")
        # Vertex i's op exists when num_nodes > i + 1, its inputs when num_nodes > i: slots of
        # two Repeats on the same label.
        ops = nn.Repeat(lambda k: _Decision(
            nn.ValueChoice(names, label=f"{label}/op{k - 1}") if k >= 2 else None), num_nodes)
        edges = nn.Repeat(lambda k: _Decision(
            nn.ValueChoice(_subsets(k), label=f"{label}/input{k}") if k >= 1 else None), num_nodes)
        if isinstance(ops, nn.Repeat):  # the space: keep the decisions where discovery finds them
            self.ops, self.edges = ops, edges
            self.fixed = None
            return
        chosen_ops = [slot.value for slot in list(ops)[2:]]
        chosen_inputs = [slot.value for slot in list(edges)[1:]]
        count = sum(len(p) for p in chosen_inputs)
        if count > max_num_edges:
            raise ArchError(f"NAS-Bench-101 cell '{label}': {count} edges, more than "
                            f"max_num_edges={max_num_edges}")
        inputs, kept = prune(chosen_inputs, chosen_ops)
        self.fixed = NasBench101FixedCell([op_candidates[name] for name in kept], inputs,
                                          in_features, out_features, projection)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed is None:
            raise RuntimeError("a NAS-Bench-101 cell runs only frozen: freeze() the model first")
        return self.fixed(x)


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

    NNI counts 3,057,647,616 architectures (every label's candidates multiplied); the exact
    count before the edge limit is 512,290,394: vertex i's op and inputs exist only when the
    cell has that many vertices. Extension: `in_channels` (NNI: 3).
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
                layers.append(NasBench101Cell(OPS, c_in, c_out,
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
