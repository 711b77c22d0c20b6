"""Mobile building blocks shared by ProxylessNAS and MobileNetV3: conv-BN-activation, the
depthwise-separable conv, the inverted residual (MBConv) and squeeze-and-excite.

Widths, kernel sizes and expansion ratios may be choices. The two blocks that decide their
structure from their widths (a residual when the shapes match, an optional squeeze-excite on
the expanded width) are `@basic_unit`s, so they always see concrete numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

import nas_cli.nn as nn
from nas_cli import basic_unit
from nas_cli.space import MaybeChoice


def make_divisible(v, divisor: int = 8, min_value: int | None = None):
    """`v` rounded to the nearest multiple of `divisor` (at least `min_value`), one multiple
    more when rounding lost over 10% (the TensorFlow MobileNet rule). Works on choices too."""
    floor = divisor if min_value is None else min_value
    rounded = nn.ValueChoice.max(floor, round(v + divisor // 2) // divisor * divisor)
    return nn.ValueChoice.condition(rounded < 0.9 * v, rounded + divisor, rounded)


def conv_bn_act(c_in, c_out, kernel_size=3, stride: int = 1, groups=1,
                norm: Callable[..., nn.Module] | None = None,
                act: Callable[[], nn.Module] | None = None) -> list[nn.Module]:
    """conv (same padding; a bias only without normalization) -> norm -> activation, as a
    list of layers (identity norm or activation left out)."""
    norm = nn.BatchNorm2d if norm is None else norm
    act = nn.ReLU6 if act is None else act
    layers = [nn.Conv2d(c_in, c_out, kernel_size, stride, (kernel_size - 1) // 2, groups=groups,
                        bias=norm is nn.Identity)]
    if norm is not nn.Identity:
        layers.append(norm(c_out))
    if act is not nn.Identity:
        layers.append(act())
    return layers


class SqueezeExcite(nn.Module):
    """x * gate(expand(act(reduce(mean of x)))): channels reduced by `ratio` (to a multiple
    of 8), hard-sigmoid gate."""

    def __init__(self, channels: int, ratio: float = 0.25):
        super().__init__()
        reduced = make_divisible(channels * ratio, 8)
        self.conv_reduce = nn.Conv2d(channels, reduced, 1)
        self.act1 = nn.ReLU()
        self.conv_expand = nn.Conv2d(reduced, channels, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.conv_expand(self.act1(self.conv_reduce(x.mean((2, 3), keepdim=True))))
        return x * self.gate(scale)


def squeeze_excite(channels: int, mode: str, label: str) -> nn.Module | None:
    """`mode` "force": an SE layer; "optional": a choice `label` of "identity" or "se";
    "none": no layer."""
    if mode == "none":
        return None
    if mode == "force":
        return SqueezeExcite(channels)
    if mode == "optional":
        return nn.LayerChoice({"identity": nn.Identity(), "se": SqueezeExcite(channels)},
                              label=label)
    raise ValueError(f"squeeze_excite must be 'force', 'optional' or 'none', got {mode!r}")


class _Residual(nn.Sequential):
    """A sequence of layers, plus its input when `skip` (the shapes match)."""

    skip: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return x + out if self.skip else out


@basic_unit
class DepthwiseSeparableConv(_Residual):
    """depthwise kxk conv-BN-act -> [squeeze-excite] -> pointwise conv-BN; residual when the
    stride is 1 and the widths are equal."""

    def __init__(self, c_in: int, c_out: int, kernel_size: MaybeChoice[int] = 3, stride: int = 1,
                 se: str = "none", se_label: str = "", act: Callable[[], nn.Module] | None = None):
        layers = conv_bn_act(c_in, c_in, kernel_size, stride, groups=c_in, act=act)
        excite = squeeze_excite(c_in, se, se_label)
        layers += [excite] if excite is not None else []
        layers += conv_bn_act(c_in, c_out, 1, act=nn.Identity)
        super().__init__(*layers)
        self.skip = stride == 1 and c_in == c_out


@basic_unit
class InvertedResidual(_Residual):
    """MBConv: pointwise expansion to `make_divisible(c_in * expand_ratio)` -> depthwise kxk
    (with the stride) -> [squeeze-excite on the expanded width] -> pointwise projection without
    activation; residual when the stride is 1 and the widths are equal. The squeeze-excite
    works on the expanded width, or on `c_in` without `se_from_exp`."""

    def __init__(self, c_in: int, c_out: int, expand_ratio: MaybeChoice[float],
                 kernel_size: MaybeChoice[int] = 3,
                 stride: int = 1, se: str = "none", se_label: str = "",
                 act: Callable[[], nn.Module] | None = None, se_from_exp: bool = True):
        hidden = make_divisible(c_in * expand_ratio, 8)
        layers = conv_bn_act(c_in, hidden, 1, act=act)
        layers += conv_bn_act(hidden, hidden, kernel_size, stride, groups=hidden, act=act)
        excite = squeeze_excite(hidden if se_from_exp else c_in, se, se_label)
        layers += [excite] if excite is not None else []
        layers += conv_bn_act(hidden, c_out, 1, act=nn.Identity)
        super().__init__(*layers)
        self.skip = stride == 1 and c_in == c_out


def reset_parameters(model: nn.Module, bn_momentum: float = 0.1, bn_eps: float = 1e-5) -> None:
    """He fan-out normal convs, N(0, 0.01) linears, unit batch norms with this momentum/eps."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0, math.sqrt(2.0 / fan_out))
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            m.momentum, m.eps = bn_momentum, bn_eps
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
