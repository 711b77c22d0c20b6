"""NNI 3.0's API (`nni.nas.nn.pytorch`, `nni.mutable`, `nni.choice`) on ours: ModelSpace,
Mutable* modules, ParametrizedModule, MutableModule.add_mutable with ensure_frozen, continuous
choices as module arguments, label scopes; NNI names we do not support fail in one line."""

from __future__ import annotations

import math
import types

import pytest
import torch

import nas_cli as nni
import nas_cli.nn as nn
from nas_cli import freeze, search_space
from nas_cli.errors import SpaceError, UnsupportedError
from nas_cli.mutable import Mutable, choice, ensure_frozen, label_scope, loguniform, uniform


class Scale(nn.ParametrizedModule):
    """A module of the user's own that takes a choice as an init argument."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


class Tokens(nn.MutableModule):
    """A parameter whose shape is a choice: registered with add_mutable, read with
    ensure_frozen (as NNI 3.0's AutoFormer does)."""

    def __init__(self):
        super().__init__()
        count = self.add_mutable(choice("tokens", [2, 3]))
        self.token = torch.nn.Parameter(torch.zeros(ensure_frozen(count), 4))

    def forward(self, x):
        return x


class Space(nn.ModelSpace):
    def __init__(self):
        super().__init__()
        width = choice("width", [4, 8])
        self.conv = nn.MutableConv2d(1, width, 3, padding=1)
        self.bn = nn.MutableBatchNorm2d(width)
        self.drop = nn.MutableDropout(uniform("dropout", 0.0, 0.5))
        self.head = choice("head", [nn.Identity(), nn.ReLU()])  # modules: a LayerChoice
        self.fc = nn.MutableLinear(width * 4 * 4, 10)
        self.scale = Scale(choice("factor", [1.0, 2.0]))
        self.tokens = Tokens()
        self.lr = loguniform("unused_rate", 1e-4, 1e-1)  # an attribute: still a decision

    def forward(self, x):
        return self.scale(self.fc(self.head(self.drop(self.bn(self.conv(x)))).flatten(1)))


def test_a_model_space_of_nni_3():
    space = search_space(Space)
    assert set(space.decisions) == {"width", "dropout", "head", "factor", "tokens", "unused_rate"}
    assert space.size == math.inf and space.count == 2 * 2 * 2 * 2
    assert set(space.continuous) == {"dropout", "unused_rate"}
    assert space.decisions["unused_rate"].distribution.log
    unfrozen = Space()
    assert unfrozen.tokens.token.shape == (2, 4) and unfrozen.drop.p == 0.25  # the middle
    arch = {"width": 8, "dropout": 0.1, "head": 1, "factor": 2.0, "tokens": 3,
            "unused_rate": 0.01}
    model = freeze(Space, arch)
    assert type(model.conv) is torch.nn.Conv2d and model.conv.out_channels == 8
    assert model.drop.p == 0.1 and model.tokens.token.shape == (3, 4)
    assert model.scale.factor == 2.0 and isinstance(model.head, torch.nn.ReLU)
    assert model(torch.ones(2, 1, 4, 4)).shape == (2, 10)
    assert unfrozen.freeze(arch).conv.out_channels == 8  # ModelSpace.freeze(sample)


def test_a_continuous_value_out_of_its_range_is_refused():
    with pytest.raises(SpaceError, match=r"label 'dropout': 0.7 is out of range "
                                         r"\(candidates: uniform\(0, 0.5\)\)"):
        freeze(Space, {"width": 4, "dropout": 0.7, "head": 0, "factor": 1.0, "tokens": 2,
                       "unused_rate": 0.01})


def test_parametrized_module_wrapping_a_torch_module():
    class PConv(nn.ParametrizedModule, torch.nn.Conv2d, wraps=torch.nn.Conv2d):
        pass

    class Wrapped(nn.ModelSpace):
        def __init__(self):
            super().__init__()
            self.conv = PConv(1, choice("c", [2, 3]), 1)

    assert search_space(Wrapped).decisions["c"].candidates == [2, 3]
    assert freeze(Wrapped, {"c": 3}).conv.out_channels == 3


def test_label_prefix_and_label_scope_put_labels_under_a_name():
    class Prefixed(nn.ModelSpace, label_prefix="net"):
        def __init__(self):
            super().__init__()
            self.a = nn.LayerChoice([nn.ReLU(), nn.Tanh()])  # automatic: net/1
            self.b = nn.MutableLinear(2, choice("w", [2, 4]))
            with label_scope("stage"):
                self.c = nn.MutableLinear(2, choice("w", [2, 4]))
                self.cell = nn.Cell([nn.Identity()], 1, label="cell")

    assert list(search_space(Prefixed).decisions) == [
        "net/1", "net/w", "net/stage/w", "net/stage/cell/input_1_0", "net/stage/cell/op_1_0"]


def test_nni3_methods_of_choices_and_expressions():
    width = choice("w", [16, 32])
    half = width // 2
    assert list(half.grid()) == [8, 16] and half.freeze({"w": 32}) == 16 and half.default() == 8
    assert list(half.simplify()) == ["w"] and width.values == [16, 32]
    memo = {}
    assert half.random(memo, random_state=3) == memo["w"] // 2 and memo["w"] in (16, 32)


def test_nni_shortcuts_from_the_top_level_module():
    assert isinstance(nni.choice("x", [1, 2]), nn.ValueChoice)
    assert isinstance(nni.choice("x", [nn.ReLU(), nn.Tanh()]), nn.LayerChoice)
    assert isinstance(nni.uniform("u", 0, 1), Mutable) and isinstance(choice("x", [1]) + 1, Mutable)
    assert isinstance(nn.LayerChoice([nn.ReLU()], label="l"), Mutable)
    assert nni.trace(torch.nn.Linear) is torch.nn.Linear  # pass-throughs: NNI evaluator code runs
    assert nni.trace()(torch.nn.Linear) is torch.nn.Linear
    assert nni.serialize(torch.nn.Linear, 2, 3).out_features == 3


@pytest.mark.parametrize(("use", "message"), [
    (lambda: nn.Placeholder("x"), "Placeholder is not supported by nas-cli: nas-cli runs model "
                                  "spaces as Python"),
    (lambda: nni.mutable.normal("x", 0, 1), "normal is not supported by nas-cli: continuous "
                                            "choices are bounded ranges"),
    (lambda: nni.mutable.Numerical(mu=0, sigma=1, label="x"), "only bounded ranges"),
    (lambda: types.new_class("M", (nni.mutable.MutableList,)), "MutableList is not supported"),
])
def test_unsupported_nni_names_import_and_fail_in_one_line(use, message):
    with pytest.raises(UnsupportedError, match=message) as caught:
        use()
    assert "\n" not in str(caught.value) and caught.value.exit_code == 2
