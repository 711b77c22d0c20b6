"""The Single Path One-Shot space (Guo et al., 2020) on ShuffleNetV2 blocks: 20 blocks, each a
choice of 4 (kernel 3, 5, 7, or the Xception-like block), optionally with a searched width.
"""

from __future__ import annotations

import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper
from nas_cli.hub._published import SearchedModels
from nas_cli.space import MaybeChoice

STAGE_REPEATS = (4, 4, 8, 4)
STAGE_OUT_CHANNELS = (16, 64, 160, 320, 640, 1024)   # the first conv, 4 stages, the last conv


class ShuffleNetBlock(nn.Module):
    """A ShuffleNetV2 unit. Stride 1: half the channels pass through, the other half goes
    through the main branch, then channels are shuffled. Stride 2: a projection branch and the
    main branch both see every channel. `sequence` spells the main branch: "p" a pointwise
    conv-BN-ReLU (the first one to `mid_channels`, the last one to the output), "d" a depthwise
    conv-BN (the first one with the stride)."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels, *, kernel_size: int,
                 stride: int, sequence: str = "pdp", affine: bool = True):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.stride = stride
        self.channels = in_channels // 2 if stride == 1 else in_channels
        pad = kernel_size // 2
        layers: list[nn.Module] = []
        c_prev = c = self.channels
        first_pointwise = first_depthwise = True
        for i, token in enumerate(sequence):
            if i == len(sequence) - 1:
                c = out_channels - self.channels
            elif token == "p" and first_pointwise:
                c = mid_channels
            if token == "d":
                layers += [nn.Conv2d(c_prev, c, kernel_size, stride if first_depthwise else 1, pad,
                                     groups=c, bias=False),
                           nn.BatchNorm2d(c, affine=affine)]
                first_depthwise = False
            else:
                layers += [nn.Conv2d(c_prev, c, 1, bias=False), nn.BatchNorm2d(c, affine=affine),
                           nn.ReLU()]
                first_pointwise = False
            c_prev = c
        self.branch_main = nn.Sequential(*layers)
        self.branch_proj: nn.Module | None
        if stride == 2:
            ch = self.channels
            self.branch_proj = nn.Sequential(
                nn.Conv2d(ch, ch, kernel_size, stride, pad, groups=ch, bias=False),
                nn.BatchNorm2d(ch, affine=affine),
                nn.Conv2d(ch, ch, 1, bias=False), nn.BatchNorm2d(ch, affine=affine), nn.ReLU())
        else:
            self.branch_proj = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.branch_proj is not None:
            return torch.cat((self.branch_proj(x), self.branch_main(x)), 1)
        b, c, h, w = x.shape
        pairs = x.reshape(b * c // 2, 2, h * w).permute(1, 0, 2).reshape(2, -1, c // 2, h, w)
        return torch.cat((pairs[0], self.branch_main(pairs[1])), 1)


def _init_weights(model: nn.Module) -> None:
    """SPOS's initialization: small normal convs and linears, unit BN with a tiny bias."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0, 0.01 if "first" in name else 1.0 / m.weight.shape[1])
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            if m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.constant_(m.bias, 1e-4)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@model_wrapper
class ShuffleNetSpace(SearchedModels, nn.Module):
    """SPOS: a stride-2 stem conv, 4 stages of 4, 4, 8, 4 blocks (the first of each stride 2),
    a 1x1 conv to 1024, global pooling, dropout 0.1 and a linear classifier.

    Labels `layer_1` .. `layer_20`, each one of "k3", "k5", "k7", "xcep": 4**20 architectures.
    With `channel_search`, `channel_1` .. `channel_20` choose each block's middle width among
    0.2x .. 1.6x of the default (8 values): 32**20. Extension: `in_channels` (NNI: 3).
    """

    def __init__(self, num_labels: int = 1000, channel_search: bool = False, affine: bool = True,
                 in_channels: int = 3):
        super().__init__()
        out_channels = STAGE_OUT_CHANNELS[0]
        self.first_conv = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, 2, 1, bias=False),
                                        nn.BatchNorm2d(out_channels), nn.ReLU())
        blocks: list[nn.Module] = []
        for stage, repeats in enumerate(STAGE_REPEATS):
            for index in range(repeats):
                number = len(blocks) + 1
                in_ch, out_channels = out_channels, STAGE_OUT_CHANNELS[stage + 1]
                stride = 2 if index == 0 else 1
                mid: MaybeChoice[int] = out_channels // 2
                if channel_search:
                    mid = nn.ValueChoice([int(mid * (0.2 * k)) for k in range(1, 9)],
                                         label=f"channel_{number}")
                blocks.append(nn.LayerChoice({
                    f"k{k}": ShuffleNetBlock(in_ch, out_channels, mid, kernel_size=k,
                                             stride=stride, affine=affine)
                    for k in (3, 5, 7)
                } | {"xcep": ShuffleNetBlock(in_ch, out_channels, mid, kernel_size=3,
                                             stride=stride, sequence="dpdpdp", affine=affine)},
                    label=f"layer_{number}"))
        self.features = nn.Sequential(*blocks)
        last = STAGE_OUT_CHANNELS[-1]
        self.conv_last = nn.Sequential(nn.Conv2d(out_channels, last, 1, bias=False),
                                       nn.BatchNorm2d(last, affine=affine), nn.ReLU())
        self.globalpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Sequential(nn.Linear(last, num_labels, bias=False))
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_last(self.features(self.first_conv(x)))
        return self.classifier(self.dropout(self.globalpool(x).flatten(1)))
