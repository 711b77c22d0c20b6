"""The MobileNetV3 space of TuNAS (Bender et al., 2020), the largest of NNI's hub: per-stage
width multipliers and depths, per-block expansion ratios, kernel sizes and optional
squeeze-and-excite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper
from nas_cli.hub._mobile import (
    DepthwiseSeparableConv,
    InvertedResidual,
    conv_bn_act,
    make_divisible,
    reset_parameters,
)
from nas_cli.hub._published import SearchedModels

ACTIVATIONS = {"hswish": nn.Hardswish, "swish": nn.SiLU, "relu": nn.ReLU}


def _activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


@model_wrapper
class MobileNetV3Space(SearchedModels, nn.Module):
    """Stem conv (kernel `stem_ks`), stage 0 a depthwise-separable conv (kernel `s0_i0_ks`),
    stages 1 .. n-3 of `depth_range` inverted residuals (`s{i}_depth`; block `j` has
    `s{i}_i{j}_exp`, `s{i}_i{j}_ks` and, where `squeeze_excite` says "optional",
    `s{i}_i{j}_se`), a 1x1 conv, global pooling, a 1x1 conv without normalization, dropout and
    a linear classifier. Each width is `make_divisible(base_width * s{i}_width_mult)` (the
    stem shares stage 0's multiplier) unless `width_multipliers` is one float.

    With the defaults (8 blocks) NNI counts 1.85e39 architectures (the product of every
    label's candidates); the exact count is 2.20e36, because a block's labels only count when
    its stage is deep enough. Extension: `in_channels` (NNI: 3).
    """

    def __init__(self, num_labels: int = 1000,
                 base_widths: Sequence[int] = (16, 16, 16, 32, 64, 128, 256, 512, 1024),
                 width_multipliers: float | Sequence[float] = (0.5, 0.625, 0.75, 1.0, 1.25, 1.5, 2.0),
                 expand_ratios: Sequence[float] = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0),
                 squeeze_excite: Sequence[str] = ("none", "none", "optional", "none", "optional",
                                                  "optional"),
                 depth_range: Sequence[int] | Sequence[Sequence[int]] = (1, 4),
                 stride: Sequence[int] = (2, 1, 2, 2, 2, 1, 2, 1, 1),
                 activation: Sequence[str] = ("hswish", "relu", "relu", "relu", "hswish", "hswish",
                                              "hswish", "hswish", "hswish"),
                 se_from_exp: bool = True, dropout_rate: float = 0.2, bn_eps: float = 1e-3,
                 bn_momentum: float = 0.1, in_channels: int = 3):
        super().__init__()
        blocks = len(base_widths) - 1
        if blocks < 4 or not len(stride) == len(activation) == blocks + 1:
            raise ValueError("base_widths, stride and activation need one entry per block plus "
                             f"the stem (at least 5), got {len(base_widths)}, {len(stride)}, "
                             f"{len(activation)}")
        if len(squeeze_excite) != blocks - 2:
            raise ValueError(f"squeeze_excite needs {blocks - 2} entries, got {len(squeeze_excite)}")
        # one (min, max) pair for every stage, or a pair per stage
        depths: list[tuple[int, ...]] = (
            [tuple(cast(Sequence[int], depth_range))] * (blocks - 3)
            if isinstance(depth_range[0], int)
            else [tuple(d) for d in cast(Sequence[Sequence[int]], depth_range)])
        if len(depths) != blocks - 3 or any(not 1 <= lo <= hi for lo, hi in depths):
            raise ValueError(f"depth_range must be (min, max) with 1 <= min <= max, or {blocks - 3} "
                             f"such pairs, got {depth_range!r}")
        if isinstance(width_multipliers, int | float):
            widths = [make_divisible(w * width_multipliers, 8) for w in base_widths]
        else:
            widths = [make_divisible(nn.ValueChoice(list(width_multipliers),
                                                    label=f"s{max(i - 1, 0)}_width_mult") * w, 8)
                      for i, w in enumerate(base_widths)]
        acts = [_activation(a) for a in activation]
        self.stem = nn.Sequential(*conv_bn_act(
            in_channels, widths[0], nn.ValueChoice([3, 5], label="stem_ks"), stride[0], act=acts[0]))
        body: list[nn.Module] = [DepthwiseSeparableConv(
            widths[0], widths[1], nn.ValueChoice([3, 5, 7], label="s0_i0_ks"), stride[1],
            se=squeeze_excite[0], se_label="s0_i0_se", act=acts[1])]
        for i in range(1, blocks - 2):
            body.append(self._stage(i, widths[i], widths[i + 1], list(expand_ratios),
                                    squeeze_excite[i], stride[i + 1], acts[i + 1], depths[i - 1],
                                    se_from_exp))
        body += [
            nn.Sequential(*conv_bn_act(widths[blocks - 2], widths[blocks - 1], 1, stride[blocks - 1],
                                       act=acts[blocks - 1])),
            nn.AdaptiveAvgPool2d(1),
            nn.Sequential(*conv_bn_act(widths[blocks - 1], widths[blocks], 1, stride[blocks],
                                       norm=nn.Identity, act=acts[blocks])),
        ]
        self.blocks = nn.Sequential(*body)
        self.classifier = nn.Sequential(nn.Dropout(dropout_rate),
                                        nn.Linear(widths[blocks], num_labels))
        reset_parameters(self, bn_momentum=bn_momentum, bn_eps=bn_eps)

    @staticmethod
    def _stage(i: int, c_in, c_out, expand_ratios: list[float], se: str, stride: int, act,
               depth: tuple[int, ...], se_from_exp: bool) -> nn.Module:
        def block(j: int) -> nn.Module:
            # keywords in this order list the labels in NNI's order: exp, ks, then widths
            return InvertedResidual(
                expand_ratio=nn.ValueChoice(expand_ratios, label=f"s{i}_i{j}_exp"),
                kernel_size=nn.ValueChoice([3, 5, 7], label=f"s{i}_i{j}_ks"),
                c_in=c_in if j == 0 else c_out, c_out=c_out, stride=stride if j == 0 else 1,
                se=se, se_label=f"s{i}_i{j}_se", act=act, se_from_exp=se_from_exp)

        return nn.Repeat(block, depth, label=f"s{i}_depth")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.blocks(self.stem(x)).flatten(1))
