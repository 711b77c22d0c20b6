"""Small building blocks shared by the hub's cell spaces (NAS-Bench-201, the NASNet family).

Plain modules: channel counts are ints here (the spaces build them with concrete widths), so a
frozen model holds only torch's own layers and these.
"""

from __future__ import annotations

import torch

import nas_cli.nn as nn


def relu_conv_bn(c_in: int, c_out: int, kernel_size, stride=1, padding=0, dilation=1,
                 affine: bool = True) -> nn.Sequential:
    """ReLU -> conv (no bias) -> batch norm, the unit most cell operations are made of."""
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, dilation=dilation,
                  bias=False),
        nn.BatchNorm2d(c_out, affine=affine),
    )


class Zero(nn.Module):
    """The "none" operation: zeros shaped like the output (`stride` subsamples, `c_out`
    sets the channels when it differs from the input's)."""

    def __init__(self, stride: int = 1, c_out: int | None = None):
        super().__init__()
        self.stride = stride
        self.c_out = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
        if self.c_out is not None and self.c_out != x.shape[1]:
            return x.new_zeros((x.shape[0], self.c_out, *x.shape[2:]))
        return x.mul(0.0)


class FactorizedReduce(nn.Module):
    """Halves the resolution with two 1x1 stride-2 convs, one shifted by a pixel, whose outputs
    are concatenated (`c_out // 2` and `c_out - c_out // 2` channels) and batch-normalized."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0.0)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = self.pad(x)[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class DropPath(nn.Module):
    """Drops a whole sample's path with probability `drop_prob` while training (stochastic
    depth), scaling the kept ones by 1 / (1 - drop_prob)."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"
