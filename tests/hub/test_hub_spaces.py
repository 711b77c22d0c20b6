"""The hub's spaces against NNI's: the same labels, NNI's size (the product of every label's
candidate counts, which is how NNI 2.10 and 3.0 count), our exact size (a label inside a Repeat
block only counts when the depth reaches it), and frozen parameter counts equal to NNI's.

Reference numbers come from NNI 3.0 (`nni.nas.hub.pytorch`, the spaces built with their default
arguments unless said otherwise): sizes are the product over `space.simplify()` of each
mutable's candidate count (2**n for NAS-Bench-101's input sets, which may be empty); parameter
counts are `sum(p.numel() for p in space.freeze(arch).parameters())`. NNI 2.10's hub gives the
same sizes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from nas_cli import freeze, hub, search_space
from nas_cli.errors import ArchError
from nas_cli.space import Cell, InputChoice, LayerChoice, Repeat

CELL_INPUTS_5 = (2 * 3 * 4 * 5 * 6) ** 2  # two ops per node, each picks one earlier tensor
CELL_INPUTS_4 = (2 * 3 * 4 * 5) ** 2
WIDTH_DEPTH = 3 * 5                       # width (16, 24, 32) x depth (4, 8, 12, 16, 20)
MB_STAGE = sum(18 ** d for d in range(1, 5))   # 1-4 blocks of exp (6) x kernel (3)
MB_SE_STAGE = sum(36 ** d for d in range(1, 5))  # ... x optional squeeze-excite (2)

# name: (NNI 3.0's size, our exact size, number of labels in NNI 3.0)
SIZES = {
    "NasBench201": (15_625, 5 ** 6, 6),
    # num_nodes (6) x op1-5 (3 each) x input1-6 (2**i each, NNI's sets may be empty); exact:
    # vertex i's labels only exist when num_nodes > i, at most 9 edges, inputs not empty
    "NasBench101": (3_057_647_616, 18_766_576, 12),
    "NASNet": (76_610_498_965_704_453_192_482_832_998_400_000,
               WIDTH_DEPTH * 13 ** 20 * CELL_INPUTS_5 ** 2, 42),
    "ENAS": (384_433_593_750_000_000_000_000_000, WIDTH_DEPTH * 5 ** 20 * CELL_INPUTS_5 ** 2, 42),
    "AmoebaNet": (4_647_516_974_116_161_337_058_918_400_000,
                  WIDTH_DEPTH * 8 ** 20 * CELL_INPUTS_5 ** 2, 42),
    "PNAS": (4_647_516_974_116_161_337_058_918_400_000,
             WIDTH_DEPTH * 8 ** 20 * CELL_INPUTS_5 ** 2, 42),
    "DARTS": (103_367_707_243_686_950_400_000, WIDTH_DEPTH * 7 ** 16 * CELL_INPUTS_4 ** 2, 34),
    # stages 2-6: depth (4) x 4 blocks (6); stage 7: one block
    "ProxylessNAS": (22_463_437_455_746_924_544, 6 * sum(6 ** d for d in range(1, 5)) ** 5, 26),
    "ShuffleNetSpace": (1_099_511_627_776, 4 ** 20, 20),
    # 8 width multipliers (7), stem_ks (2), s0_i0_ks (3), stages 1 and 3 without SE
    "MobileNetV3Space": (1_849_462_701_240_501_527_952_274_730_990_671_233_024,
                         7 ** 8 * 2 * 3 * MB_STAGE ** 2 * MB_SE_STAGE ** 3, 67),
    # embed_dim (3), depth (3), 14 x (num_heads (2) x mlp_ratio (3))
    "AutoFormer": (705_277_476_864, 3 * sum(6 ** d for d in (12, 13, 14)), 30),
}


NB101_SMALL = {"stem_out_channels": 16, "num_stacks": 1, "num_modules_per_stack": 1}


@pytest.fixture(scope="module")
def spaces():
    """Each hub space with its default arguments, discovered once. NAS-Bench-101's cells all
    share one set of labels, so its size does not depend on the widths and stacks: a small
    network has the default's space (and builds in a second, not twenty)."""
    return {name: search_space(getattr(hub, name), NB101_SMALL if name == "NasBench101" else {})
            for name in SIZES}


# NAS-Bench-101's input sets: NNI counts 2**i per vertex (the empty set included, then refuses
# the cells whose output it disconnects with a constraint); ours are the non-empty subsets
# (2**i - 1), so every cell is connected and none needs refusing.
NB101_NNI_PRODUCT_OF_NON_EMPTY = 6 * 3 ** 5 * math.prod(2 ** i - 1 for i in range(1, 7))


@pytest.mark.parametrize("name", SIZES)
def test_nnis_size_is_the_product_of_candidate_counts(spaces, name):
    nni_size, _, labels = SIZES[name]
    space = spaces[name]
    assert len(space.decisions) == labels
    product = math.prod(len(d.candidates) for d in space.decisions.values())
    if name == "NasBench101":
        assert nni_size == 6 * 3 ** 5 * math.prod(2 ** i for i in range(1, 7))
        assert product == NB101_NNI_PRODUCT_OF_NON_EMPTY == 896_954_310
    else:
        assert product == nni_size


@pytest.mark.parametrize("name", SIZES)
def test_exact_size(spaces, name):
    nni_size, exact, _ = SIZES[name]
    space = spaces[name]
    assert space.size == exact
    unconditional = all(not d.when for d in space.decisions.values()) and not space.limits
    assert (exact == nni_size) == unconditional


def _nb101_cells(max_nodes: int = 7, max_edges: int = 9, ops: int = 3) -> int:
    """NAS-Bench-101 cells counted by hand: with n vertices, ops ** (n - 2) operations times
    the ways to give each vertex i = 1 .. n-1 a non-empty set of earlier vertices, at most
    `max_edges` edges in all."""
    total = 0
    for n in range(2, max_nodes + 1):
        ways = {0: 1}  # edges so far -> number of ways
        for i in range(1, n):
            after: dict[int, int] = {}
            for edges, count in ways.items():
                for k in range(1, min(i, max_edges - edges) + 1):
                    after[edges + k] = after.get(edges + k, 0) + count * math.comb(i, k)
            ways = after
        total += ops ** (n - 2) * sum(ways.values())
    return total


def test_nasbench101_counts_valid_cells_only(spaces):
    space = spaces["NasBench101"]
    assert space.size == _nb101_cells() == 18_766_576
    # NNI's 3,057,647,616 counts empty input sets (2**i each), ours do not (2**i - 1)
    assert math.prod(len(d.candidates) for d in space.decisions.values()) == (
        6 * 3 ** 5 * math.prod(2 ** i - 1 for i in range(1, 7)))


def test_exact_sizes_match_the_issue_and_the_docs(spaces):
    assert f"{spaces['MobileNetV3Space'].size:.2e}" == "2.20e+36"
    assert spaces["ProxylessNAS"].size == 54_375_883_032_510_144


def test_shufflenet_channel_search_multiplies_each_block_by_8():
    space = search_space(hub.ShuffleNetSpace, {"channel_search": True})
    # NNI 3.0: ShuffleNetSpace(channel_search=True) has 40 labels, product 32**20
    assert space.size == 1_267_650_600_228_229_401_496_703_205_376 == 32 ** 20
    assert space.decisions["channel_20"].candidates == [64, 128, 192, 256, 320, 384, 448, 512]


@pytest.mark.parametrize(("name", "labels"), [
    ("NasBench201", ["cell/0_1", "cell/0_2", "cell/1_2", "cell/0_3", "cell/1_3", "cell/2_3"]),
    ("NasBench101", ["cell/num_nodes", *[f"cell/op{i}" for i in range(1, 6)],
                     *[f"cell/input{i}" for i in range(1, 7)]]),
    ("DARTS", ["width", "depth", *[f"{c}/{what}_{n}_{k}" for c in ("normal", "reduce")
                                   for n in range(2, 6) for what in ("op", "input")
                                   for k in range(2)]]),
])
def test_labels_are_nnis(spaces, name, labels):
    assert sorted(spaces[name].decisions) == sorted(labels)


def test_conditions_follow_depth(spaces):
    proxyless, mobile = spaces["ProxylessNAS"].decisions, spaces["MobileNetV3Space"].decisions
    assert proxyless["s2_i0"].parent is None  # every depth has a first block
    assert proxyless["s2_i1"].parent == ("s2_depth", [2, 3, 4])
    assert proxyless["s2_i3"].parent == ("s2_depth", [4])
    assert proxyless["s7_i0"].parent is None
    assert mobile["s2_i1_se"].parent == ("s2_depth", [2, 3, 4])
    assert mobile["s1_width_mult"].parent is None
    assert spaces["AutoFormer"].decisions["mlp_ratio_13"].parent == ("depth", [14])
    assert spaces["NasBench101"].decisions["cell/op5"].parent == ("cell/num_nodes", [7])


# ------------------------------------------------------------------------- frozen models
def _cell_arch(ops: list[str], nodes: int) -> dict:
    """A fixed, readable NASNet-family architecture: node n's op k is ops[(3n + k + r) % len],
    its input n+k mod n in normal cells, n*k mod n in reduction cells."""
    arch = {}
    for cell in ("normal", "reduce"):
        for n in range(2, 2 + nodes):
            for k in range(2):
                arch[f"{cell}/op_{n}_{k}"] = ops[(3 * n + k + (cell == "reduce")) % len(ops)]
                arch[f"{cell}/input_{n}_{k}"] = [(n + k) % n if cell == "normal" else n * k % n]
    return arch


@pytest.mark.parametrize(("name", "params"), [
    # NNI 3.0: Space().freeze({"width": 16, "depth": 4, **_cell_arch(ops, nodes)})
    ("NASNet", 265_482), ("ENAS", 170_170), ("AmoebaNet", 405_722), ("PNAS", 401_178),
    ("DARTS", 128_522),
])
def test_nasnet_family_params_equal_nnis(spaces, name, params):
    ops, nodes = list(getattr(hub, name).OPS), 4 if name == "DARTS" else 5
    arch = {"width": 16, "depth": 4, **_cell_arch(ops, nodes)}
    model = freeze(getattr(hub, name), arch)
    assert sum(p.numel() for p in model.parameters()) == params
    assert not _mutables(model)


@pytest.mark.parametrize(("op", "params"), [
    # NNI 3.0: NasBench201().freeze({every edge: op})
    ("none", 73_306), ("conv_1x1", 241_306), ("conv_3x3", 1_531_546), ("avg_pool_3x3", 73_306),
])
def test_nasbench201_params_equal_nnis(spaces, op, params):
    model = freeze(hub.NasBench201, dict.fromkeys(spaces["NasBench201"].decisions, op))
    assert sum(p.numel() for p in model.parameters()) == params


def test_nasbench101_params_equal_nnis():
    # NNI 3.0: NasBench101(16, 1, 1).freeze(arch) (its projections include an unused one)
    arch = {"cell/num_nodes": 3, "cell/op1": "conv3x3-bn-relu", "cell/input1": [0],
            "cell/input2": [1]}
    model = freeze(hub.NasBench101, arch, **NB101_SMALL)
    assert sum(p.numel() for p in model.parameters()) == 3_546
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize(("arch", "message"), [
    ({"cell/num_nodes": 2, "cell/input1": []}, r"'cell/input1': \[\] is out of range"),
    ({"cell/num_nodes": 7, **{f"cell/op{i}": "maxpool3x3" for i in range(1, 6)},
      **{f"cell/input{i}": list(range(i)) for i in range(1, 7)}},
     "edges of cell 'cell': 21, at most 9"),
])
def test_nasbench101_refuses_cells_outside_the_benchmark(arch, message):
    with pytest.raises(ArchError, match=message):
        freeze(hub.NasBench101, arch, **NB101_SMALL)


def test_nasbench101_prunes_dangling_vertices():
    # vertex 1 feeds nothing that reaches the output: pruned, no op built for it
    arch = {"cell/num_nodes": 4, "cell/op1": "conv3x3-bn-relu", "cell/op2": "conv1x1-bn-relu",
            "cell/input1": [0], "cell/input2": [0], "cell/input3": [2]}
    model = freeze(hub.NasBench101, arch, **NB101_SMALL)
    (cell,) = model.features
    assert cell.num_nodes == 3 and cell.ops[1][0].kernel_size == (1, 1)


def _mutables(model):
    return [n for n, m in model.named_modules() if isinstance(m, LayerChoice | InputChoice | Repeat | Cell)]


def _shown(n: int) -> str:
    return f"{n:,}" if n < 10 ** 10 else f"{n:.2e}".replace("e+", "e")


def test_the_docs_table_states_these_sizes():
    page = (Path(__file__).resolve().parents[2] / "docs" / "hub.md").read_text()
    rows = {m[1]: [c.strip() for c in line.split("|")[3:5]] for line in page.splitlines()
            if (m := re.match(r"\| `(\w+)`", line)) and m[1] in SIZES}
    for name, (nni_size, exact, _) in SIZES.items():
        assert rows[name] == [_shown(nni_size), "same" if exact == nni_size else _shown(exact)]
