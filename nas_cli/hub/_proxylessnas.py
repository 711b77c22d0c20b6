"""The ProxylessNAS space (Cai et al., 2019): a MobileNetV2 backbone whose stages 2-6 have a
depth of 1-4 and whose every block is a choice of 6 inverted residuals (kernel 3/5/7 x
expansion 3/6).
"""

from __future__ import annotations

from collections.abc import Sequence

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

DOWNSAMPLES = (True, False, True, True, True, False, True, False)  # stem, stages 1-7


def _block_choice(stage: int, index: int, c_in: int, c_out: int, stride: int) -> nn.LayerChoice:
    return nn.LayerChoice({
        f"k{k}e{e}": InvertedResidual(c_in, c_out, e, k, stride)
        for e in (3, 6) for k in (3, 5, 7)
    }, label=f"s{stage}_i{index}")


@model_wrapper
class ProxylessNAS(SearchedModels, nn.Module):
    """Stem conv (stride 2), a fixed depthwise-separable stage, stages 2-6 of 1-4 searched
    blocks (`s{n}_depth`, blocks `s{n}_i{k}`), stage 7 a single searched block (`s7_i0`), a
    1x1 conv to the last width, global pooling, dropout and a linear classifier.

    Each block label is one of "k3e3", "k5e3", "k7e3", "k3e6", "k5e6", "k7e6" (kernel size,
    expansion ratio). Extension: `in_channels` (NNI: 3).
    """

    def __init__(self, num_labels: int = 1000,
                 base_widths: Sequence[int] = (32, 16, 32, 40, 80, 96, 192, 320, 1280),
                 dropout_rate: float = 0.0, width_mult: float = 1.0, bn_eps: float = 1e-3,
                 bn_momentum: float = 0.1, in_channels: int = 3):
        super().__init__()
        if len(base_widths) != 9:
            raise ValueError(f"base_widths needs 9 widths (stem, 7 stages, head), got {len(base_widths)}")
        widths = [make_divisible(w * width_mult, 8) for w in base_widths]
        self.stem = nn.Sequential(*conv_bn_act(in_channels, widths[0], 3, stride=2))
        blocks: list[nn.Module] = [DepthwiseSeparableConv(widths[0], widths[1], 3, 1)]
        for stage in range(2, 8):
            c_in, c_out = widths[stage - 1], widths[stage]
            stride = 2 if DOWNSAMPLES[stage] else 1

            def block(index: int, stage=stage, c_in=c_in, c_out=c_out, stride=stride):
                return _block_choice(stage, index, c_in if index == 0 else c_out, c_out,
                                     stride if index == 0 else 1)

            blocks.append(nn.Repeat(block, (1, 4), label=f"s{stage}_depth") if stage < 7
                          else block(0))
        self.blocks = nn.Sequential(*blocks)
        self.feature_mix_layer = nn.Sequential(*conv_bn_act(widths[7], widths[8], 1))
        self.global_avg_pooling = nn.AdaptiveAvgPool2d(1)
        self.dropout_layer = nn.Dropout(dropout_rate)
        self.classifier = nn.Linear(widths[8], num_labels)
        reset_parameters(self, bn_momentum=bn_momentum, bn_eps=bn_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.feature_mix_layer(self.blocks(self.stem(x)))
        return self.classifier(self.dropout_layer(self.global_avg_pooling(x).flatten(1)))
