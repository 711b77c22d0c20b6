"""NNI 2.x's model-space API beyond the basics, as NNI documents it: ValueChoice's inspection
and operators, ModelParameterChoice, Repeat with a derived depth (and as a sequence), Cell's
preprocessor/postprocessor/concat_dim/loose ends, fixed_arch(verbose=)."""

from __future__ import annotations

import math

import pytest
import torch

import nas_cli.nn as nn
from nas_cli import fixed_arch, freeze, model_wrapper, search_space
from nas_cli.errors import SpaceError


# --------------------------------------------------------------------------- ValueChoice
def test_all_options_and_inner_choices_as_nni_documents_them():
    a, b = nn.ValueChoice([1, 2], label="a"), nn.ValueChoice([3, 4], label="b")
    total = a + b + 5
    assert list(total.all_options()) == [9, 10, 10, 11]  # every combination, not deduplicated
    assert [c.label for c in (a + a * b).inner_choices()] == ["a", "a", "b"]
    assert list((a + a).all_options()) == [2, 4]  # one label counts once
    assert total.dry_run() == 9


def test_evaluate_takes_values_in_inner_choices_order_or_by_label():
    a, b = nn.ValueChoice([1, 2], label="a"), nn.ValueChoice([3, 4], label="b")
    expr = a * 10 + b
    assert expr.evaluate([2, 4]) == 24 and expr.evaluate({"a": 1, "b": 3}) == 13
    with pytest.raises(ValueError, match="too few values"):
        expr.evaluate([2])
    with pytest.raises(ValueError, match="5 is not a candidate"):
        expr.evaluate([2, 5])


@pytest.mark.parametrize(("build", "value", "expected"), [
    (lambda v: v & 6, 7, 6), (lambda v: v | 8, 7, 15), (lambda v: v ^ 1, 7, 6),
    (lambda v: v << 2, 3, 12), (lambda v: v >> 1, 7, 3), (lambda v: ~v, 7, -8),
    (lambda v: 1 << v, 3, 8), (lambda v: 16 >> v, 3, 2), (lambda v: 12 & v, 7, 4),
    (lambda v: divmod(v, 2), 7, (3, 1)), (lambda v: divmod(20, v), 7, (2, 6)),
    (lambda v: pow(v, 2, 5), 7, 4), (lambda v: v ** 2, 3, 9), (lambda v: 2 ** v, 3, 8),
    (lambda v: v % 4, 7, 3), (lambda v: +v, 3, 3), (lambda v: -v, 3, -3), (lambda v: abs(-v), 3, 3),
    (lambda v: math.floor(v / 2), 7, 3), (lambda v: math.ceil(v / 2), 7, 4),
    (lambda v: round(v / 3, 1), 7, 2.3), (lambda v: round(v / 2), 7, 4),
    (lambda v: nn.ValueChoice.max([v, 5]), 3, 5), (lambda v: nn.ValueChoice.min(v, 5), 3, 3),
])
def test_operators_build_derived_values(build, value, expected):
    vc = nn.ValueChoice([3, 7], label="v")
    assert build(vc).evaluate({"v": value}) == expected


def test_a_derived_value_frozen_in_a_module_argument():
    @model_wrapper
    class Bits(nn.Module):
        def __init__(self):
            super().__init__()
            k = nn.ValueChoice([1, 2], label="k")
            self.fc = nn.Linear(4, (k << 2) | 1)

    assert search_space(Bits).size == 2
    assert freeze(Bits, {"k": 2}).fc.out_features == 9


def test_truncating_a_choice_is_refused_with_the_alternative():
    with pytest.raises(SpaceError, match=r"math.trunc\(\) \(use ValueChoice.to_int\)"):
        math.trunc(nn.ValueChoice([1.5, 2.5], label="x"))


def test_typing_names():
    assert nn.ChoiceOf[int] is nn.ValueChoiceX
    assert nn.MaybeChoice[int] == nn.ValueChoiceX | int


# --------------------------------------------------------------------------- ModelParameterChoice
@model_wrapper
class Stacked(nn.Module):
    """The depth is a plain int while the space is built, so `range()` works on it."""

    def __init__(self):
        super().__init__()
        depth = nn.ModelParameterChoice([1, 2, 3], label="depth")
        head = nn.ModelParameterChoice(["relu", "tanh"], default=nn.ModelParameterChoice.LAST)
        self.layers = nn.Sequential(*[nn.Linear(4, 4) for _ in range(depth)])
        self.act = nn.ReLU() if head == "relu" else nn.Tanh()

    def forward(self, x):
        return self.act(self.layers(x))


def test_model_parameter_choice_is_a_plain_value_and_a_decision():
    space = search_space(Stacked)
    assert list(space.decisions) == ["depth", "parameterchoice_1"] and space.size == 6
    unfrozen = Stacked()
    assert len(unfrozen.layers) == 1 and isinstance(unfrozen.act, torch.nn.Tanh)  # defaults
    model = freeze(Stacked, {"depth": 3, "parameterchoice_1": "relu"})
    assert len(model.layers) == 3 and isinstance(model.act, torch.nn.ReLU)


def test_model_parameter_choice_default_must_be_a_candidate_or_a_function():
    @model_wrapper
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            nn.ModelParameterChoice([1, 2], default=5, label="x")

    with pytest.raises(SpaceError, match="ModelParameterChoice 'x': default 5 is neither a "
                                         "candidate nor a function of the candidates"):
        search_space(Bad)


# --------------------------------------------------------------------------- Repeat
@model_wrapper
class DerivedDepth(nn.Module):
    """NNI's `Repeat(block, vc * k // 3)`: depth 2 or 4 from `d` in [3, 6]; `d` also sizes a
    layer, so it is one decision."""

    def __init__(self):
        super().__init__()
        d = nn.ValueChoice([3, 6], label="d")
        self.pre = nn.Linear(4, d)
        self.post = nn.Linear(d, 4)
        self.body = nn.Repeat(lambda i: nn.LayerChoice([nn.Identity(), nn.ReLU()], label=f"b{i}"),
                              d * 2 // 3)

    def forward(self, x):
        return self.body(self.post(self.pre(x)))


def test_a_depth_derived_from_a_choice_is_that_choice():
    space = search_space(DerivedDepth)
    assert space.decisions["d"].kind == "repeat" and space.decisions["d"].candidates == [3, 6]
    assert space.decisions["b1"].when == []  # depth 2 or 4 always reaches blocks 0 and 1
    assert space.decisions["b3"].when == [{"d": [6]}]
    assert space.size == 2 ** 2 + 2 ** 4
    model = freeze(DerivedDepth, {"d": 6, "b0": 0, "b1": 1, "b2": 0, "b3": 1})
    assert len(model.body) == 4 and model.pre.out_features == 6
    assert len(freeze(DerivedDepth, {"d": 3, "b0": 1, "b1": 1}).body) == 2


def test_a_depth_plus_one():
    @model_wrapper
    class PlusOne(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Repeat(nn.ReLU(), nn.ValueChoice([0, 1, 2], label="extra") + 1)

    assert search_space(PlusOne).size == 3
    assert len(freeze(PlusOne, {"extra": 2}).body) == 3


def test_an_unfrozen_repeat_is_a_sequence_of_its_blocks():
    repeat = nn.Repeat(lambda i: nn.Linear(4, 4 + i), (1, 3), label="r")
    assert len(repeat) == 3 and repeat.min_depth == 1 and repeat.max_depth == 3
    assert repeat[2].out_features == 6 and [b.out_features for b in repeat] == [4, 5, 6]
    assert len(repeat[:2]) == 2


def test_a_list_of_factories_is_called_in_order():
    @model_wrapper
    class Factories(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Repeat([lambda i: nn.Linear(4, 4), lambda i: nn.Linear(4, 8)],
                                  (1, 2), label="r")

    assert freeze(Factories, {"r": 2}).body[1].out_features == 8


# --------------------------------------------------------------------------- Cell
class Align(nn.Module):
    """A preprocessor: 1x1 convolutions bring both inputs to 4 channels."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(2, 4, 1), nn.Conv2d(6, 4, 1)

    def forward(self, inputs):
        return [self.a(inputs[0]), self.b(inputs[1])]


@model_wrapper
class Darts(nn.Module):
    def __init__(self, merge_op="loose_end", concat_dim=1):
        super().__init__()
        ops = {"conv": nn.Conv2d(4, 4, 3, padding=1), "skip": nn.Identity()}
        self.cell = nn.Cell(ops, 3, 1, 2, merge_op, preprocessor=Align(),
                            postprocessor=lambda out, inputs: (out, inputs[1]),
                            concat_dim=concat_dim, label="c")

    def forward(self, x, y):
        return self.cell([x, y])


ARCH = {"c/input_2_0": [0], "c/op_2_0": "conv", "c/input_3_0": [2], "c/op_3_0": "skip",
        "c/input_4_0": [1], "c/op_4_0": "conv"}


def test_loose_ends_of_a_frozen_cell_are_its_output_nodes():
    space = search_space(Darts)
    assert space.size == (2 * 2) * (3 * 2) * (4 * 2)
    assert Darts().cell.output_node_indices == [2, 3, 4]  # unfrozen: every node
    cell = freeze(Darts, ARCH).cell
    assert cell.output_node_indices == [3, 4]  # node 2 feeds node 3
    out, passed = cell([torch.ones(1, 2, 5, 5), torch.ones(1, 6, 5, 5)])
    assert out.shape == (1, 8, 5, 5)  # two loose ends of 4 channels
    assert passed.shape == (1, 6, 5, 5)  # the postprocessor got the raw inputs
    assert sum(p.numel() for p in cell.preprocessor.parameters()) == 2 * 4 + 4 + 6 * 4 + 4


def test_all_nodes_concatenated_on_another_dim():
    cell = freeze(Darts, ARCH, merge_op="all", concat_dim=2).cell
    assert cell.output_node_indices == [2, 3, 4]
    out, _ = cell(torch.ones(1, 2, 5, 5), torch.ones(1, 6, 5, 5))
    assert out.shape == (1, 4, 15, 5)


def test_op_candidates_from_a_callable_as_nni_once_allowed():
    @model_wrapper
    class Called(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = nn.Cell(lambda: [nn.Linear(4, 4), nn.Identity()], 2, label="c")

        def forward(self, x):
            return self.cell(x)

    space = search_space(Called)
    assert space.decisions["c/op_2_0"].candidates == [0, 1] and space.size == 2 * 2 * 2
    model = freeze(Called, {"c/input_1_0": [0], "c/op_1_0": 0, "c/input_2_0": [1],
                            "c/op_2_0": 1})
    assert model(torch.ones(1, 4)).shape == (1, 8)


# --------------------------------------------------------------------------- fixed_arch
def test_fixed_arch_verbose_prints_the_architecture(capsys):
    with fixed_arch({"d": 3, "b0": 1, "b1": 0}, verbose=True):
        model = DerivedDepth()
    assert len(model.body) == 2
    assert capsys.readouterr().err == 'fixed architecture: {"d": 3, "b0": 1, "b1": 0}\n'
