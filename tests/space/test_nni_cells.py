"""NNI's ready-made cells: NasBench101Cell (with its edge limit, counted exactly),
NasBench201Cell and AutoActivation. Parameter counts were measured with NNI 2.10 on the same
spaces and architectures (the numbers in the tests)."""

from __future__ import annotations

import json
import random

import pytest
import torch

import nas_cli.nn as nn
from nas_cli import freeze, model_wrapper, search_space
from nas_cli.errors import ArchError
from nas_cli.space import SearchSpace


def conv3(c):
    return nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU())


def conv1(c):
    return nn.Sequential(nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU())


def pool(c):
    return nn.MaxPool2d(3, 1, 1)


def projection(i, o):
    return nn.Sequential(nn.Conv2d(i, o, 1), nn.BatchNorm2d(o), nn.ReLU())


@model_wrapper
class Bench101(nn.Module):
    def __init__(self, max_num_nodes=7, max_num_edges=9):
        super().__init__()
        self.cell = nn.NasBench101Cell([conv3, conv1, pool], 16, 32, projection,
                                       max_num_nodes, max_num_edges, label="c")

    def forward(self, x):
        return self.cell(x)


# (architecture as NNI writes it, parameters NNI 2.10 builds for it)
NNI_101 = [
    ({"c/num_nodes": 2, "c/input1": [0]}, 608),
    ({"c/num_nodes": 3, "c/op1": "0", "c/input1": [0], "c/input2": [0, 1]}, 10528),
    ({"c/num_nodes": 5, "c/op1": "0", "c/op2": "1", "c/op3": "2", "c/input1": [0],
      "c/input2": [1], "c/input3": [0, 2], "c/input4": [1, 3]}, 4176),
    ({"c/num_nodes": 7, "c/op1": "0", "c/op2": "1", "c/op3": "2", "c/op4": "0", "c/op5": "1",
      "c/input1": [0], "c/input2": [0], "c/input3": [1], "c/input4": [2, 3], "c/input5": [0, 4],
      "c/input6": [4, 5]}, 7440),
    ({"c/num_nodes": 6, "c/op1": "1", "c/op2": "1", "c/op3": "0", "c/op4": "2", "c/input1": [0],
      "c/input2": [1], "c/input3": [1], "c/input4": [0], "c/input5": [0, 2, 4]}, 2128),
]


@pytest.mark.parametrize(("arch", "params"), NNI_101, ids=[str(p) for _, p in NNI_101])
def test_nasbench101_cells_freeze_to_nni_parameter_counts(arch, params):
    model = freeze(Bench101, arch)
    assert sum(p.numel() for p in model.parameters()) == params
    assert model(torch.ones(2, 16, 4, 4)).shape == (2, 32, 4, 4)


def test_nasbench101_decisions_and_their_conditions():
    space = search_space(Bench101)
    nodes = space.decisions["c/num_nodes"]
    assert nodes.candidates == [2, 3, 4, 5, 6, 7]
    assert nodes.prior == pytest.approx([2 ** n / sum(2 ** k for k in range(2, 8))
                                         for n in range(2, 8)])
    assert space.decisions["c/op5"].when == [{"c/num_nodes": [7]}]
    assert space.decisions["c/input3"].when == [{"c/num_nodes": [4, 5, 6, 7]}]
    assert len(space.decisions["c/input6"].candidates) == 2 ** 6 - 1
    assert str(space).splitlines()[-1] == "  at most 9 edges of cell 'c'"


def test_the_edge_limit_is_counted_exactly():
    space = search_space(Bench101, {"max_num_nodes": 5, "max_num_edges": 4})
    free = SearchSpace.from_json({**space.to_json(), "limits": []})  # the same, unlimited
    edges = [sum(len(v) for k, v in arch.items() if "input" in k) for arch in free]
    assert space.size == sum(e <= 4 for e in edges) < free.size == len(edges)
    assert all(sum(len(v) for k, v in a.items() if "input" in k) <= 4 for a in space)


def test_archs_over_the_limit_are_refused_or_repaired():
    space = search_space(Bench101)
    over = dict(NNI_101[3][0], **{"c/input6": [1, 4, 5]})
    with pytest.raises(ArchError, match=r"edges of cell 'c': 10, at most 9"):
        freeze(Bench101, over)
    repaired = space.canonical(over, fill=random.Random(0))  # what evolution's mutation does
    assert space.validate(repaired) == repaired
    greedy = space.choose(lambda d: len(d.candidates) - 1)  # the largest input sets: too many
    assert space.validate(greedy) == greedy
    rng = random.Random(1)
    assert all(space.validate(a) == a for a in (space.sample(rng) for _ in range(200)))


def test_the_limit_survives_json():
    space = search_space(Bench101)
    again = SearchSpace.from_json(json.loads(json.dumps(space.to_json())))
    assert again.size == space.size and again.limits == space.limits


OPS_201 = {
    "none": lambda i, o: nn.Identity(),
    "conv_3x3": lambda i, o: nn.Sequential(nn.ReLU(), nn.Conv2d(i, o, 3, padding=1, bias=False),
                                           nn.BatchNorm2d(o)),
    "conv_1x1": lambda i, o: nn.Sequential(nn.ReLU(), nn.Conv2d(i, o, 1, bias=False),
                                           nn.BatchNorm2d(o)),
    "avg_pool_3x3": lambda i, o: nn.AvgPool2d(3, 1, 1),
    "skip_connect": lambda i, o: nn.Identity(),
}


@model_wrapper
class Bench201(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.NasBench201Cell(OPS_201, 8, 8, label="c")

    def forward(self, x):
        return self.cell(x)


def test_nasbench201_cell_size_labels_and_nni_parameter_count():
    space = search_space(Bench201)
    assert space.size == 5 ** 6 == 15625
    assert list(space.decisions) == ["c/0_1", "c/0_2", "c/1_2", "c/0_3", "c/1_3", "c/2_3"]
    arch = {"c/0_1": "conv_3x3", "c/0_2": "conv_1x1", "c/1_2": "skip_connect",
            "c/0_3": "conv_3x3", "c/1_3": "avg_pool_3x3", "c/2_3": "conv_1x1"}
    model = freeze(Bench201, arch)
    assert sum(p.numel() for p in model.parameters()) == 1344  # NNI 2.10: 1344
    assert model(torch.ones(1, 8, 5, 5)).shape == (1, 8, 5, 5)


def test_auto_activation_searches_nni_unary_and_binary_functions():
    @model_wrapper
    class Act(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = nn.AutoActivation(unit_num=2, label="a")

        def forward(self, x):
            return self.act(x)

    space = search_space(Act)
    assert list(space.decisions) == ["a__unary_0", "a__unary_1", "a__unary_2", "a__binary_0",
                                     "a__binary_1"]
    assert space.size == 22 ** 3 * 10 ** 2
    # unary 6 is x * beta, binary 9 is beta * a + (1 - beta) * b (NNI's order)
    arch = {"a__unary_0": "6", "a__unary_1": "0", "a__unary_2": "4", "a__binary_0": "9",
            "a__binary_1": "1"}
    model = freeze(Act, arch)
    assert sum(p.numel() for p in model.parameters()) == 2
    x = torch.tensor([2.0])
    assert model(x).item() == pytest.approx((2.0 * 0 + 2.0) * 2.0 ** 3)
    named = freeze(Act, {"a/unary_0": 6, "a/unary_1": 0, "a/unary_2": 4, "a/binary_0": 9,
                         "a/binary_1": 1})  # NNI 3.0's labels
    assert sum(p.numel() for p in named.parameters()) == 2
