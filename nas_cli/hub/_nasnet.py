"""The NASNet family of cell spaces, unified as in "On Network Design Spaces for Visual
Recognition" (Radosavovic et al., 2019): NASNet, ENAS, AmoebaNet, PNAS and DARTS differ only in
their operations, nodes per cell and how a cell merges its nodes.

A network is a stem and three stages of cells; the first cell of stages 2 and 3 is a reduction
cell (stride 2, twice the channels). Every normal cell shares the labels `normal/...`, every
reduction cell `reduce/...`: node `n` (2, 3, ... after the two inputs) has two operations, each
picking one earlier tensor (`{cell}/input_{n}_{k}`) and one operation (`{cell}/op_{n}_{k}`).
`width` and `num_cells` given as tuples become the decisions `width` and `depth`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch

import nas_cli.nn as nn
from nas_cli import basic_unit, model_wrapper
from nas_cli.hub._ops import DropPath, FactorizedReduce, Zero, relu_conv_bn
from nas_cli.hub._published import SearchedModels


def _sep_conv(c: int, k: int, stride: int, dilation: int = 1) -> list[nn.Module]:
    """ReLU, depthwise k x k (dilated), pointwise 1x1, BN: one half of a separable conv."""
    pad = dilation * (k - 1) // 2
    return [nn.ReLU(),
            nn.Conv2d(c, c, k, stride=stride, padding=pad, dilation=dilation, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c)]


def _factorized_conv(c: int, k: int, stride: int) -> nn.Module:
    """ReLU, a 1 x k then a k x 1 conv (the stride split between them), BN."""
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c, c, (1, k), stride=(1, stride), padding=(0, k // 2), bias=False),
        nn.Conv2d(c, c, (k, 1), stride=(stride, 1), padding=(k // 2, 0), bias=False),
        nn.BatchNorm2d(c),
    )


OPERATIONS = ("none", "skip_connect", "avg_pool_2x2", "avg_pool_3x3", "avg_pool_5x5",
              "max_pool_2x2", "max_pool_3x3", "max_pool_5x5", "max_pool_7x7", "conv_1x1",
              "conv_3x3", "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7", "dil_conv_3x3",
              "dil_conv_5x5", "dil_sep_conv_3x3", "conv_3x1_1x3", "conv_7x1_1x7")


def operation(name: str, c: int, stride: int) -> nn.Module:
    """The NDS operation `name` (one of `OPERATIONS`) on `c` channels; `stride` is 2 for the
    ops of a reduction cell that read one of the cell's two inputs."""
    kind, _, size = name.rpartition("_")
    k = int(size.split("x")[0]) if "x" in size else 0
    if name == "none":
        return Zero(stride)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if kind in ("avg_pool", "max_pool"):
        pad = 0 if k == 2 else k // 2
        if kind == "avg_pool":
            return nn.AvgPool2d(k, stride=stride, padding=pad, count_include_pad=False)
        return nn.MaxPool2d(k, stride=stride, padding=pad)
    if kind == "conv":
        return relu_conv_bn(c, c, k, stride=stride, padding=k // 2)
    if kind == "sep_conv":
        return nn.Sequential(*_sep_conv(c, k, stride), *_sep_conv(c, k, 1))
    if kind == "dil_conv":
        return nn.Sequential(*_sep_conv(c, k, stride, dilation=2))
    if kind == "dil_sep_conv":
        return nn.Sequential(*_sep_conv(c, k, stride, dilation=2), *_sep_conv(c, k, 1, dilation=2))
    if name in ("conv_3x1_1x3", "conv_7x1_1x7"):
        return _factorized_conv(c, int(name[5]), stride)
    raise ValueError(f"unknown NDS operation {name!r}")


class AuxiliaryHead(nn.Module):
    """The auxiliary classifier after the first cell of the last stage (training only)."""

    def __init__(self, c: int, num_labels: int, dataset: str):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(),
            nn.AvgPool2d(5, stride=2 if dataset == "imagenet" else 3, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(),
        )
        self.classifier = nn.Linear(768, num_labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class NDSCell(nn.Module):
    """A cell with its preprocessing: both inputs are brought to `c` channels (the older one by
    a factorized reduction when the previous cell halved the resolution), the cell runs, and
    the pair (previous output, this output) goes on to the next cell."""

    def __init__(self, ops: Sequence[str], c_pprev: int, c_prev: int, c: int, num_nodes: int,
                 merge_op: str, reduction: bool, after_reduction: bool, drop_path_prob: float):
        super().__init__()
        self.pre0 = (FactorizedReduce(c_pprev, c) if after_reduction
                     else relu_conv_bn(c_pprev, c, 1))
        self.pre1 = relu_conv_bn(c_prev, c, 1)

        def op(name: str, stride: int) -> nn.Module:
            built = operation(name, c, stride)
            if drop_path_prob > 0 and not isinstance(built, nn.Identity):
                return nn.Sequential(built, DropPath(drop_path_prob))
            return built

        def factory(name: str):
            # In a reduction cell an op on one of the two cell inputs has stride 2, so its
            # factory takes the input's index (the space then holds one op per possible
            # input); in a normal cell the op is the same whatever its input.
            if reduction:
                return lambda node, slot, source: op(name, 2 if source is None or source < 2 else 1)
            return lambda node, slot: op(name, 1)

        self.cell = nn.Cell({name: factory(name) for name in ops}, num_nodes,
                            num_ops_per_node=2, num_predecessors=2, merge_op=merge_op,
                            label="reduce" if reduction else "normal")
        # frozen, a loose-end cell concatenates only the nodes no other node reads
        self.out_channels = c * len(self.cell.output_node_indices)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return s1, self.cell(self.pre0(s0), self.pre1(s1))


@basic_unit
class NDSStage(nn.Module):
    """`depth` cells; the first one reduces unless this is the first stage. `depth` and the
    widths may be choices (this unit is built with concrete values, like a frozen model)."""

    def __init__(self, depth: int, ops: Sequence[str], c_pprev: int, c_prev: int, c: int,
                 num_nodes: int, merge_op: str, reduce_first: bool, after_reduction: bool,
                 drop_path_prob: float):
        super().__init__()
        self.cells = nn.ModuleList()
        for index in range(depth):
            reduction = index == 0 and reduce_first
            cell = NDSCell(ops, c_pprev, c_prev, c, num_nodes, merge_op, reduction,
                           after_reduction, drop_path_prob)
            self.cells.append(cell)
            c_pprev, c_prev, after_reduction = c_prev, cell.out_channels, reduction
        self.c_pprev, self.c_prev, self.after_reduction = c_pprev, c_prev, after_reduction

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for cell in self.cells:
            s0, s1 = cell(s0, s1)
        return s0, s1


def _choice(value: int | Sequence[int], label: str):
    """A tuple or list of ints becomes a decision, an int stays fixed."""
    return value if isinstance(value, int) else nn.ValueChoice(list(value), label=label)


@model_wrapper
class NDS(SearchedModels, nn.Module):
    """The unified NASNet-style space. `op_candidates` names operations of `OPERATIONS`;
    `merge_op` is "all" (concatenate every node) or "loose_end" (only the nodes no other node
    uses); `width` and `num_cells` are ints or tuples to choose from; `dataset` "cifar" has a
    single stride-1 stem, "imagenet" two stride-4 stems.

    Extensions (defaults give NNI's network): `in_channels`; `num_labels` (NNI: 10 for cifar,
    1000 for imagenet).
    """

    def __init__(self, op_candidates: Sequence[str], merge_op: str = "all",
                 num_nodes_per_cell: int = 4, width: int | Sequence[int] = 16,
                 num_cells: int | Sequence[int] = 20, dataset: str = "imagenet",
                 auxiliary_loss: bool = False, drop_path_prob: float = 0.0,
                 in_channels: int = 3, num_labels: int | None = None):
        super().__init__()
        if dataset not in ("cifar", "imagenet"):
            raise ValueError(f"dataset must be 'cifar' or 'imagenet', got {dataset!r}")
        if merge_op not in ("all", "loose_end"):
            raise ValueError(f"merge_op must be 'all' or 'loose_end', got {merge_op!r}")
        unknown = [op for op in op_candidates if op not in OPERATIONS]
        if unknown:
            raise ValueError(f"unknown operations {unknown} (known: {', '.join(OPERATIONS)})")
        self.dataset = dataset
        self.auxiliary_loss = auxiliary_loss
        num_labels = num_labels if num_labels is not None else (10 if dataset == "cifar" else 1000)
        c = _choice(width, "width")
        depth = _choice(num_cells, "depth")
        if dataset == "imagenet":
            self.stem0 = nn.Sequential(
                nn.Conv2d(in_channels, c // 2, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c // 2), nn.ReLU(),
                nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c))
            self.stem1 = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False),
                                       nn.BatchNorm2d(c))
            c_pprev = c_prev = c
            after_reduction = True
        else:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, 3 * c, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(3 * c))
            c_pprev = c_prev = 3 * c
            after_reduction = False
        self.stages = nn.ModuleList()
        for index in range(3):
            cells = (index + 1) * depth // 3 - index * depth // 3
            stage = NDSStage(cells, list(op_candidates), c_pprev, c_prev, c * 2 ** index,
                             num_nodes_per_cell, merge_op, index > 0, after_reduction,
                             drop_path_prob)
            self.stages.append(stage)
            c_pprev, c_prev, after_reduction = stage.c_pprev, stage.c_prev, stage.after_reduction
        if auxiliary_loss:
            first = cast(NDSCell, cast(NDSStage, self.stages[2]).cells[0])  # ModuleList: Module
            self.auxiliary_head = AuxiliaryHead(first.out_channels, num_labels, dataset)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_labels)

    def forward(self, x: torch.Tensor):
        if self.dataset == "imagenet":
            s0 = self.stem0(x)
            s1 = self.stem1(s0)
        else:
            s0 = s1 = self.stem(x)
        aux = None
        for index, stage in enumerate(self.stages):
            if index == 2 and self.auxiliary_loss and self.training:
                for block, cell in enumerate(cast(NDSStage, stage).cells):
                    s0, s1 = cell(s0, s1)
                    if block == 0:
                        aux = self.auxiliary_head(s1)
            else:
                s0, s1 = stage(s0, s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return (logits, aux) if aux is not None else logits


class _Preset(NDS):
    """An NDS space with fixed operations, nodes per cell and merge; subclasses set them."""

    OPS: tuple[str, ...] = ()
    NODES = 5
    MERGE = "loose_end"

    def __init__(self, width: int | Sequence[int] = (16, 24, 32),
                 num_cells: int | Sequence[int] = (4, 8, 12, 16, 20), dataset: str = "cifar",
                 auxiliary_loss: bool = False, drop_path_prob: float = 0.0,
                 in_channels: int = 3, num_labels: int | None = None):
        super().__init__(list(self.OPS), self.MERGE, self.NODES, width, num_cells, dataset,
                         auxiliary_loss, drop_path_prob, in_channels, num_labels)


@model_wrapper
class NASNet(_Preset):
    """NASNet's space (Zoph et al., 2018): 13 operations, 5 nodes, loose ends concatenated.
    `width` is a choice of (16, 24, 32), `num_cells` of (4, 8, 12, 16, 20) unless given as
    ints; `dataset` defaults to "cifar"; the rest as in `NDS`."""

    OPS = ("skip_connect", "conv_3x1_1x3", "conv_7x1_1x7", "dil_conv_3x3", "avg_pool_3x3",
           "max_pool_3x3", "max_pool_5x5", "max_pool_7x7", "conv_1x1", "conv_3x3",
           "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7")


@model_wrapper
class ENAS(_Preset):
    """ENAS's space (Pham et al., 2018): 5 operations, 5 nodes, loose ends concatenated;
    otherwise as `NASNet`."""

    OPS = ("skip_connect", "sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3")


@model_wrapper
class AmoebaNet(_Preset):
    """AmoebaNet's space (Real et al., 2019): 8 operations, 5 nodes, loose ends concatenated;
    otherwise as `NASNet`."""

    OPS = ("skip_connect", "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7", "avg_pool_3x3",
           "max_pool_3x3", "dil_sep_conv_3x3", "conv_7x1_1x7")


@model_wrapper
class PNAS(_Preset):
    """PNAS's space (Liu et al., 2018): 8 operations, 5 nodes, every node concatenated;
    otherwise as `NASNet`."""

    OPS = ("sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7", "conv_7x1_1x7", "skip_connect",
           "avg_pool_3x3", "max_pool_3x3", "dil_conv_3x3")
    MERGE = "all"


@model_wrapper
class DARTS(_Preset):
    """DARTS's space (Liu et al., 2019): 7 operations ("none" left out, as NNI does), 4 nodes,
    every node concatenated; otherwise as `NASNet`."""

    OPS = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
           "dil_conv_3x3", "dil_conv_5x5")
    NODES = 4
    MERGE = "all"
