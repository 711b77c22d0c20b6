"""The architectures NNI's model space hub publishes, and `load_searched_model` to build them.

The dicts below are data from NNI 3.0 (`nni/nas/hub/pytorch/*.py`, `load_searched_model` of
each space; MIT license): the architecture and the init arguments NNI builds it with. Where NNI's
own dict does not fit its space, `widen` holds the init arguments that make the space contain
it (NNI 3.0 refuses those architectures; NNI 2.10 built them unchecked) and the labels its space
does not have are dropped (`s7_depth`, `s0_depth`: single-block stages in both spaces).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import nn

from nas_cli.errors import SpaceError


class Published(NamedTuple):
    space: str                      # the hub class
    init_kwargs: dict[str, Any]     # as NNI builds it
    arch: dict[str, Any]            # NNI's dict, as published
    widen: dict[str, Any] = {}      # init arguments changed so that the space holds `arch`


_SMALL = {
    "width_multipliers": 1.0, "expand_ratios": [3.0, 3.67, 4.0, 4.5, 6.0], "bn_eps": 1e-05,
    "bn_momentum": 0.1, "squeeze_excite": ["force", "none", "force", "force", "force"],
    "activation": ["hswish", "relu", "relu", "hswish", "hswish", "hswish", "hswish", "hswish"],
    "stride": [2, 2, 2, 2, 1, 2, 1, 1], "depth_range": [1, 2],
}
_SMALL_ARCH = {  # the same for the three MobileNetV3-Small multipliers
    "stem_ks": 3, "s0_i0_ks": 3, "s1_depth": 2, "s1_i0_exp": 4.5, "s1_i0_ks": 3,
    "s1_i1_exp": 3.67, "s1_i1_ks": 3, "s2_depth": 3, "s2_i0_exp": 4.0, "s2_i0_ks": 5,
    "s2_i1_exp": 6.0, "s2_i1_ks": 5, "s2_i2_exp": 6.0, "s2_i2_ks": 5, "s3_depth": 2,
    "s3_i0_exp": 3.0, "s3_i0_ks": 5, "s3_i1_exp": 3.0, "s3_i1_ks": 5, "s4_depth": 3,
    "s4_i0_exp": 6.0, "s4_i0_ks": 5, "s4_i1_exp": 6.0, "s4_i1_ks": 5, "s4_i2_exp": 6.0,
    "s4_i2_ks": 5,
}
_CREAM = {
    "base_widths": [16, 16, 24, 40, 80, 96, 192, 320, 1280], "width_multipliers": 1.0,
    "expand_ratios": [4.0, 6.0], "bn_eps": 1e-05, "bn_momentum": 0.1,
    "squeeze_excite": ["force"] * 6, "activation": ["swish"] * 9,
}




def _autoformer(embed_dim: int, depth: int, mlp_ratios: list[float], num_heads: list[int]):
    arch: dict[str, Any] = {"embed_dim": embed_dim, "depth": depth}
    for i, (ratio, heads) in enumerate(zip(mlp_ratios, num_heads, strict=True)):
        arch[f"mlp_ratio_{i}"], arch[f"num_head_{i}"] = ratio, heads
    return arch


PUBLISHED: dict[str, Published] = {
    "darts-v2": Published(
        "DARTS",
        init_kwargs={"num_cells": 20, "width": 36},
        arch={"normal/op_2_0": "sep_conv_3x3", "normal/op_2_1": "sep_conv_3x3",
            "normal/input_2_0": [0], "normal/input_2_1": [1], "normal/op_3_0": "sep_conv_3x3",
            "normal/op_3_1": "sep_conv_3x3", "normal/input_3_0": [0], "normal/input_3_1": [1],
            "normal/op_4_0": "sep_conv_3x3", "normal/op_4_1": "skip_connect",
            "normal/input_4_0": [1], "normal/input_4_1": [0], "normal/op_5_0": "skip_connect",
            "normal/op_5_1": "dil_conv_3x3", "normal/input_5_0": [0], "normal/input_5_1": [2],
            "reduce/op_2_0": "max_pool_3x3", "reduce/op_2_1": "max_pool_3x3",
            "reduce/input_2_0": [0], "reduce/input_2_1": [1], "reduce/op_3_0": "skip_connect",
            "reduce/op_3_1": "max_pool_3x3", "reduce/input_3_0": [2], "reduce/input_3_1": [1],
            "reduce/op_4_0": "max_pool_3x3", "reduce/op_4_1": "skip_connect",
            "reduce/input_4_0": [0], "reduce/input_4_1": [2], "reduce/op_5_0": "skip_connect",
            "reduce/op_5_1": "max_pool_3x3", "reduce/input_5_0": [2], "reduce/input_5_1": [1]},
    ),
    "spos": Published(
        "ShuffleNetSpace",
        init_kwargs={},
        arch={"layer_1": "k7", "layer_2": "k5", "layer_3": "k3", "layer_4": "k5", "layer_5": "k7",
            "layer_6": "k3", "layer_7": "k7", "layer_8": "k3", "layer_9": "k7", "layer_10": "k3",
            "layer_11": "k7", "layer_12": "xcep", "layer_13": "k3", "layer_14": "k3",
            "layer_15": "k3", "layer_16": "k3", "layer_17": "xcep", "layer_18": "k7",
            "layer_19": "xcep", "layer_20": "xcep"},
    ),
    "acenas-m1": Published(
        "ProxylessNAS",
        init_kwargs={},
        arch={"s2_depth": 2, "s2_i0": "k3e6", "s2_i1": "k3e3", "s3_depth": 3, "s3_i0": "k5e3",
            "s3_i1": "k3e3", "s3_i2": "k5e3", "s4_depth": 2, "s4_i0": "k3e6", "s4_i1": "k5e3",
            "s5_depth": 4, "s5_i0": "k7e6", "s5_i1": "k3e6", "s5_i2": "k3e6", "s5_i3": "k7e3",
            "s6_depth": 4, "s6_i0": "k7e6", "s6_i1": "k7e6", "s6_i2": "k7e3", "s6_i3": "k7e3",
            "s7_depth": 1, "s7_i0": "k7e6"},
    ),
    "acenas-m2": Published(
        "ProxylessNAS",
        init_kwargs={},
        arch={"s2_depth": 1, "s2_i0": "k5e3", "s3_depth": 3, "s3_i0": "k3e6", "s3_i1": "k3e3",
            "s3_i2": "k5e3", "s4_depth": 2, "s4_i0": "k7e6", "s4_i1": "k5e6", "s5_depth": 4,
            "s5_i0": "k5e6", "s5_i1": "k5e3", "s5_i2": "k5e6", "s5_i3": "k3e6", "s6_depth": 4,
            "s6_i0": "k7e6", "s6_i1": "k5e6", "s6_i2": "k5e3", "s6_i3": "k5e6", "s7_depth": 1,
            "s7_i0": "k7e6"},
    ),
    "acenas-m3": Published(
        "ProxylessNAS",
        init_kwargs={},
        arch={"s2_depth": 2, "s2_i0": "k3e3", "s2_i1": "k3e6", "s3_depth": 2, "s3_i0": "k5e3",
            "s3_i1": "k3e3", "s4_depth": 3, "s4_i0": "k5e6", "s4_i1": "k7e6", "s4_i2": "k3e6",
            "s5_depth": 4, "s5_i0": "k7e6", "s5_i1": "k7e3", "s5_i2": "k7e3", "s5_i3": "k5e3",
            "s6_depth": 4, "s6_i0": "k7e6", "s6_i1": "k7e3", "s6_i2": "k7e6", "s6_i3": "k3e3",
            "s7_depth": 1, "s7_i0": "k5e6"},
    ),
    "proxyless-cpu": Published(
        "ProxylessNAS",
        init_kwargs={"base_widths": [40, 24, 32, 48, 88, 104, 216, 360, 1432]},
        arch={"s2_depth": 4, "s2_i0": "k3e6", "s2_i1": "k3e3", "s2_i2": "k3e3", "s2_i3": "k3e3",
            "s3_depth": 4, "s3_i0": "k3e6", "s3_i1": "k3e3", "s3_i2": "k3e3", "s3_i3": "k5e3",
            "s4_depth": 2, "s4_i0": "k3e6", "s4_i1": "k3e3", "s5_depth": 4, "s5_i0": "k5e6",
            "s5_i1": "k3e3", "s5_i2": "k3e3", "s5_i3": "k3e3", "s6_depth": 4, "s6_i0": "k5e6",
            "s6_i1": "k5e3", "s6_i2": "k5e3", "s6_i3": "k3e3", "s7_depth": 1, "s7_i0": "k5e6"},
    ),
    "proxyless-gpu": Published(
        "ProxylessNAS",
        init_kwargs={"base_widths": [40, 24, 32, 56, 112, 128, 256, 432, 1728]},
        arch={"s2_depth": 1, "s2_i0": "k5e3", "s3_depth": 2, "s3_i0": "k7e3", "s3_i1": "k3e3",
            "s4_depth": 2, "s4_i0": "k7e6", "s4_i1": "k5e3", "s5_depth": 3, "s5_i0": "k5e6",
            "s5_i1": "k3e3", "s5_i2": "k5e3", "s6_depth": 4, "s6_i0": "k7e6", "s6_i1": "k7e6",
            "s6_i2": "k7e6", "s6_i3": "k5e6", "s7_depth": 1, "s7_i0": "k7e6"},
    ),
    "proxyless-mobile": Published(
        "ProxylessNAS",
        init_kwargs={},
        arch={"s2_depth": 2, "s2_i0": "k5e3", "s2_i1": "k3e3", "s3_depth": 4, "s3_i0": "k7e3",
            "s3_i1": "k3e3", "s3_i2": "k5e3", "s3_i3": "k5e3", "s4_depth": 4, "s4_i0": "k7e6",
            "s4_i1": "k5e3", "s4_i2": "k5e3", "s4_i3": "k5e3", "s5_depth": 4, "s5_i0": "k5e6",
            "s5_i1": "k5e3", "s5_i2": "k5e3", "s5_i3": "k5e3", "s6_depth": 4, "s6_i0": "k7e6",
            "s6_i1": "k7e6", "s6_i2": "k7e3", "s6_i3": "k7e3", "s7_depth": 1, "s7_i0": "k7e6"},
    ),
    "mobilenetv3-large-100": Published(
        "MobileNetV3Space",
        init_kwargs={"base_widths": [16, 16, 24, 40, 80, 112, 160, 960, 1280],
            "expand_ratios": [1.0, 2.0, 2.3, 2.5, 3.0, 4.0, 6.0], "bn_eps": 1e-05,
            "bn_momentum": 0.1, "width_multipliers": 1.0,
            "squeeze_excite": ["none", "none", "force", "none", "force", "force"]},
        arch={"stem_ks": 3, "s0_i0_ks": 3, "s1_depth": 2, "s1_i0_exp": 4, "s1_i0_ks": 3,
            "s1_i1_exp": 3, "s1_i1_ks": 3, "s2_depth": 3, "s2_i0_exp": 3, "s2_i0_ks": 5,
            "s2_i1_exp": 3, "s2_i1_ks": 5, "s2_i2_exp": 3, "s2_i2_ks": 5, "s3_depth": 4,
            "s3_i0_exp": 6, "s3_i0_ks": 3, "s3_i1_exp": 2.5, "s3_i1_ks": 3, "s3_i2_exp": 2.3,
            "s3_i2_ks": 3, "s3_i3_exp": 2.3, "s3_i3_ks": 3, "s4_depth": 2, "s4_i0_exp": 6,
            "s4_i0_ks": 3, "s4_i1_exp": 6, "s4_i1_ks": 3, "s5_depth": 3, "s5_i0_exp": 6,
            "s5_i0_ks": 5, "s5_i1_exp": 6, "s5_i1_ks": 5, "s5_i2_exp": 6, "s5_i2_ks": 5},
    ),
    "mobilenetv3-small-050": Published(
        "MobileNetV3Space",
        init_kwargs={**_SMALL, "base_widths": [16, 8, 16, 24, 24, 48, 288, 1024]},
        arch=_SMALL_ARCH, widen={"depth_range": [1, 3]},  # s2_depth, s4_depth: 3
    ),
    "mobilenetv3-small-075": Published(
        "MobileNetV3Space",
        init_kwargs={**_SMALL, "base_widths": [16, 16, 24, 32, 40, 72, 432, 1024]},
        arch=_SMALL_ARCH, widen={"depth_range": [1, 3]},  # s2_depth, s4_depth: 3
    ),
    "mobilenetv3-small-100": Published(
        "MobileNetV3Space",
        init_kwargs={**_SMALL, "base_widths": [16, 16, 24, 40, 48, 96, 576, 1024]},
        arch=_SMALL_ARCH, widen={"depth_range": [1, 3]},  # s2_depth, s4_depth: 3
    ),
    "cream-014": Published(
        "MobileNetV3Space",
        init_kwargs=_CREAM,
        arch={"stem_ks": 3, "s0_depth": 1, "s0_i0_ks": 3, "s1_depth": 1, "s1_i0_exp": 4.0,
            "s1_i0_ks": 3, "s2_depth": 2, "s2_i0_exp": 6.0, "s2_i0_ks": 5, "s2_i1_exp": 6.0,
            "s2_i1_ks": 5, "s3_depth": 2, "s3_i0_exp": 6.0, "s3_i0_ks": 5, "s3_i1_exp": 6.0,
            "s3_i1_ks": 5, "s4_depth": 1, "s4_i0_exp": 6.0, "s4_i0_ks": 3, "s5_depth": 1,
            "s5_i0_exp": 6.0, "s5_i0_ks": 5},
    ),
    "cream-043": Published(
        "MobileNetV3Space",
        init_kwargs=_CREAM,
        arch={"stem_ks": 3, "s0_depth": 1, "s0_i0_ks": 3, "s1_depth": 1, "s1_i0_exp": 4.0,
            "s1_i0_ks": 3, "s2_depth": 2, "s2_i0_exp": 6.0, "s2_i0_ks": 5, "s2_i1_exp": 6.0,
            "s2_i1_ks": 3, "s3_depth": 2, "s3_i0_exp": 6.0, "s3_i0_ks": 5, "s3_i1_exp": 6.0,
            "s3_i1_ks": 3, "s4_depth": 3, "s4_i0_exp": 6.0, "s4_i0_ks": 5, "s4_i1_exp": 6.0,
            "s4_i1_ks": 5, "s4_i2_exp": 6.0, "s4_i2_ks": 5, "s5_depth": 2, "s5_i0_exp": 6.0,
            "s5_i0_ks": 5, "s5_i1_exp": 6.0, "s5_i1_ks": 5},
    ),
    "cream-114": Published(
        "MobileNetV3Space",
        init_kwargs=_CREAM,
        arch={"stem_ks": 3, "s0_depth": 1, "s0_i0_ks": 3, "s1_depth": 1, "s1_i0_exp": 4.0,
            "s1_i0_ks": 3, "s2_depth": 2, "s2_i0_exp": 6.0, "s2_i0_ks": 5, "s2_i1_exp": 6.0,
            "s2_i1_ks": 5, "s3_depth": 2, "s3_i0_exp": 6.0, "s3_i0_ks": 5, "s3_i1_exp": 6.0,
            "s3_i1_ks": 5, "s4_depth": 3, "s4_i0_exp": 6.0, "s4_i0_ks": 5, "s4_i1_exp": 6.0,
            "s4_i1_ks": 5, "s4_i2_exp": 6.0, "s4_i2_ks": 5, "s5_depth": 2, "s5_i0_exp": 6.0,
            "s5_i0_ks": 5, "s5_i1_exp": 6.0, "s5_i1_ks": 5},
    ),
    "cream-287": Published(
        "MobileNetV3Space",
        init_kwargs=_CREAM,
        arch={"stem_ks": 3, "s0_depth": 1, "s0_i0_ks": 3, "s1_depth": 1, "s1_i0_exp": 4.0,
            "s1_i0_ks": 3, "s2_depth": 2, "s2_i0_exp": 6.0, "s2_i0_ks": 5, "s2_i1_exp": 6.0,
            "s2_i1_ks": 5, "s3_depth": 3, "s3_i0_exp": 6.0, "s3_i0_ks": 5, "s3_i1_exp": 6.0,
            "s3_i1_ks": 3, "s3_i2_exp": 6.0, "s3_i2_ks": 5, "s4_depth": 4, "s4_i0_exp": 6.0,
            "s4_i0_ks": 5, "s4_i1_exp": 6.0, "s4_i1_ks": 5, "s4_i2_exp": 6.0, "s4_i2_ks": 5,
            "s4_i3_exp": 6.0, "s4_i3_ks": 5, "s5_depth": 3, "s5_i0_exp": 6.0, "s5_i0_ks": 5,
            "s5_i1_exp": 6.0, "s5_i1_ks": 5, "s5_i2_exp": 6.0, "s5_i2_ks": 5},
    ),
    "cream-481": Published(
        "MobileNetV3Space",
        init_kwargs=_CREAM,
        arch={"stem_ks": 3, "s0_depth": 1, "s0_i0_ks": 3, "s1_depth": 4, "s1_i0_exp": 6.0,
            "s1_i0_ks": 5, "s1_i1_exp": 4.0, "s1_i1_ks": 7, "s1_i2_exp": 6.0, "s1_i2_ks": 5,
            "s1_i3_exp": 6.0, "s1_i3_ks": 3, "s2_depth": 4, "s2_i0_exp": 6.0, "s2_i0_ks": 5,
            "s2_i1_exp": 4.0, "s2_i1_ks": 5, "s2_i2_exp": 6.0, "s2_i2_ks": 5, "s2_i3_exp": 4.0,
            "s2_i3_ks": 3, "s3_depth": 5, "s3_i0_exp": 6.0, "s3_i0_ks": 5, "s3_i1_exp": 6.0,
            "s3_i1_ks": 5, "s3_i2_exp": 6.0, "s3_i2_ks": 5, "s3_i3_exp": 6.0, "s3_i3_ks": 3,
            "s3_i4_exp": 6.0, "s3_i4_ks": 3, "s4_depth": 4, "s4_i0_exp": 6.0, "s4_i0_ks": 5,
            "s4_i1_exp": 6.0, "s4_i1_ks": 5, "s4_i2_exp": 6.0, "s4_i2_ks": 5, "s4_i3_exp": 6.0,
            "s4_i3_ks": 5, "s5_depth": 4, "s5_i0_exp": 6.0, "s5_i0_ks": 5, "s5_i1_exp": 6.0,
            "s5_i1_ks": 5, "s5_i2_exp": 6.0, "s5_i2_ks": 5, "s5_i3_exp": 6.0, "s5_i3_ks": 5},
        widen={"depth_range": [1, 5]},  # s3_depth: 5
    ),
    "cream-604": Published(
        "MobileNetV3Space",
        init_kwargs=_CREAM,
        arch={"stem_ks": 3, "s0_depth": 1, "s0_i0_ks": 3, "s1_depth": 5, "s1_i0_exp": 6.0,
            "s1_i0_ks": 5, "s1_i1_exp": 6.0, "s1_i1_ks": 5, "s1_i2_exp": 4.0, "s1_i2_ks": 5,
            "s1_i3_exp": 6.0, "s1_i3_ks": 5, "s1_i4_exp": 6.0, "s1_i4_ks": 5, "s2_depth": 5,
            "s2_i0_exp": 6.0, "s2_i0_ks": 5, "s2_i1_exp": 4.0, "s2_i1_ks": 5, "s2_i2_exp": 6.0,
            "s2_i2_ks": 5, "s2_i3_exp": 4.0, "s2_i3_ks": 5, "s2_i4_exp": 6.0, "s2_i4_ks": 5,
            "s3_depth": 5, "s3_i0_exp": 6.0, "s3_i0_ks": 5, "s3_i1_exp": 4.0, "s3_i1_ks": 5,
            "s3_i2_exp": 6.0, "s3_i2_ks": 5, "s3_i3_exp": 4.0, "s3_i3_ks": 5, "s3_i4_exp": 6.0,
            "s3_i4_ks": 5, "s4_depth": 6, "s4_i0_exp": 6.0, "s4_i0_ks": 5, "s4_i1_exp": 6.0,
            "s4_i1_ks": 5, "s4_i2_exp": 4.0, "s4_i2_ks": 5, "s4_i3_exp": 4.0, "s4_i3_ks": 5,
            "s4_i4_exp": 6.0, "s4_i4_ks": 5, "s4_i5_exp": 6.0, "s4_i5_ks": 5, "s5_depth": 6,
            "s5_i0_exp": 6.0, "s5_i0_ks": 5, "s5_i1_exp": 6.0, "s5_i1_ks": 5, "s5_i2_exp": 4.0,
            "s5_i2_ks": 5, "s5_i3_exp": 6.0, "s5_i3_ks": 5, "s5_i4_exp": 6.0, "s5_i4_ks": 5,
            "s5_i5_exp": 6.0, "s5_i5_ks": 5},
        widen={"depth_range": [1, 6]},  # s1-s3_depth: 5, s4-s5_depth: 6
    ),
    # AutoFormer's: NNI writes them as per-layer lists (the layers past `depth` are inactive)
    "autoformer-tiny": Published(
        "AutoFormer",
        init_kwargs={"search_embed_dim": [192, 216, 240], "search_mlp_ratio": [3.0, 3.5, 4.0],
                     "search_num_heads": [3, 4], "search_depth": [12, 13, 14]},
        arch=_autoformer(
            192, 13, [3.5, 3.5, 3.0, 3.5, 3.0, 3.0, 4.0, 4.0, 3.5, 4.0, 3.5, 4.0, 3.5, 3.0],
            [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 3, 3, 3]),
    ),
    "autoformer-small": Published(
        "AutoFormer",
        init_kwargs={"search_embed_dim": [320, 384, 448], "search_mlp_ratio": [3.0, 3.5, 4.0],
                     "search_num_heads": [5, 6, 7], "search_depth": [12, 13, 14]},
        arch=_autoformer(
            384, 13, [3.0, 3.5, 3.0, 3.5, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 3.5, 4.0, 3.0],
            [6, 6, 5, 7, 5, 5, 5, 6, 6, 7, 7, 6, 7, 5]),
    ),
    "autoformer-base": Published(
        "AutoFormer",
        init_kwargs={"search_embed_dim": [528, 576, 624], "search_mlp_ratio": [3.0, 3.5, 4.0],
                     "search_num_heads": [8, 9, 10], "search_depth": [14, 15, 16]},
        arch=_autoformer(
            576, 14, [3.5, 3.5, 4.0, 3.5, 4.0, 3.5, 3.5, 3.0, 4.0, 4.0, 3.0, 4.0, 3.0, 3.5, 3.0, 3.0],
            [9, 9, 9, 9, 9, 10, 9, 9, 10, 9, 10, 9, 9, 10, 8, 8]),
    ),
}


def searched_architecture(name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(hub class name, init kwargs, architecture) of a published model, the architecture
    restricted to the labels of its space: what a spec and `nas trial --arch` need."""
    if name not in PUBLISHED:
        raise SpaceError(f"no published architecture named {name!r} "
                         f"(known: {', '.join(PUBLISHED)})")
    from nas_cli import hub
    from nas_cli.space import search_space

    entry = PUBLISHED[name]
    init_kwargs = {**entry.init_kwargs, **entry.widen}
    labels = search_space(getattr(hub, entry.space), init_kwargs).decisions
    return entry.space, init_kwargs, {k: v for k, v in entry.arch.items() if k in labels}


def load_searched_model(name: str, pretrained: bool = False) -> nn.Module:
    """The published architecture `name` (e.g. "darts-v2", "cream-014"), frozen: a plain torch
    module with freshly initialized weights.

    >>> model = load_searched_model("proxyless-mobile")
    """
    if pretrained:
        raise SpaceError(f"{name}: pretrained weights are not shipped with nas-cli and are never "
                         "downloaded; load a state_dict of your own with model.load_state_dict()")
    from nas_cli import hub
    from nas_cli.space import freeze

    space, init_kwargs, arch = searched_architecture(name)
    return freeze(getattr(hub, space), arch, **init_kwargs)


class SearchedModels:
    """Gives a hub space NNI's `Space.load_searched_model(name)` for its published models."""

    @classmethod
    def load_searched_model(cls, name: str, pretrained: bool = False, download: bool = False,
                            progress: bool = True) -> nn.Module:
        """The published architecture `name` of this space, frozen (no weights are ever
        downloaded: `download` and `progress` are accepted for NNI's signature)."""
        own = [n for n, entry in PUBLISHED.items() if entry.space == cls.__name__]
        if name not in own:
            raise SpaceError(f"{cls.__name__} has no published architecture named {name!r} "
                             f"(known: {', '.join(own) or 'none'})")
        return load_searched_model(name, pretrained)
