"""Four bugs found by running NNI's own model spaces unchanged: one test (or more) each."""

from __future__ import annotations

import json

import pytest
import torch

import nas_cli.nn as nn
from nas_cli import freeze, model_wrapper, search_space
from nas_cli.errors import SpaceError


# --------------------------------------------------------------------------- 1: nested depths
@model_wrapper
class TwoDepths(nn.Module):
    """`w` is used in candidate `a` of `outer` and again inside a nested LayerChoice of `a`."""

    def __init__(self):
        super().__init__()
        w = nn.ValueChoice([4, 8], label="w")
        a = nn.Sequential(nn.Conv2d(4, w, 1),
                          nn.LayerChoice({"x": nn.Identity(), "y": nn.Conv2d(w, w, 1)},
                                         label="inner"))
        self.outer = nn.LayerChoice({"a": a, "b": nn.Identity()}, label="outer")

    def forward(self, x):
        return self.outer(x)


def test_a_label_used_at_two_depths_under_one_parent_keeps_its_condition():
    space = search_space(TwoDepths)
    assert space.decisions["w"].parent == ("outer", ["a"])
    assert space.size == len(list(space)) == 5  # a: 2 widths x 2 inner ops; b: 1
    assert freeze(TwoDepths, {"outer": "b"})(torch.ones(1, 4, 2, 2)).shape == (1, 4, 2, 2)
    model = freeze(TwoDepths, {"outer": "a", "w": 8, "inner": "y"})
    assert model(torch.ones(1, 4, 2, 2)).shape == (1, 8, 2, 2)


@model_wrapper
class RepeatTwoDepths(nn.Module):
    """In each Repeat block, `e{i}` sets a width and is used again in a nested LayerChoice."""

    def __init__(self):
        super().__init__()

        def block(i):
            e = nn.ValueChoice([2, 3], label=f"e{i}")
            return nn.Sequential(
                nn.Linear(4, 4 * e), nn.LayerChoice([nn.Linear(4 * e, 4), nn.Sequential(
                    nn.Linear(4 * e, 4 * e), nn.Linear(4 * e, 4))], label=f"op{i}"))

        self.body = nn.Repeat(block, nn.ValueChoice([1, 2], label="depth"))

    def forward(self, x):
        return self.body(x)


def test_the_same_inside_repeat_blocks():
    space = search_space(RepeatTwoDepths)
    assert space.decisions["e1"].parent == ("depth", [2])
    assert space.size == len(list(space)) == 4 + 4 * 4  # depth 1: e0 x op0; depth 2: squared
    model = freeze(RepeatTwoDepths, {"depth": 1, "e0": 3, "op0": 1})
    assert model(torch.ones(2, 4)).shape == (2, 4)


# --------------------------------------------------------------------------- 2: dict candidates
@model_wrapper
class DictCandidates(nn.Module):
    """As in NNI's tests: candidates are dicts (and nested lists), indexed in module args."""

    def __init__(self):
        super().__init__()
        ke = nn.ValueChoice([{"k": 3, "e": 4}, {"k": 5, "e": 6}], label="ke")
        pair = nn.ValueChoice([[1, [2, 3]], [2, [4, 5]]], label="pair")
        self.conv = nn.Conv2d(1, ke["e"], ke["k"], padding=ke["k"] // 2)
        self.fc = nn.Linear(3, pair[1][0])

    def forward(self, x):
        return self.conv(x)


def test_dict_and_nested_list_candidates_are_recorded_as_json():
    space = search_space(DictCandidates)
    assert space.size == 4
    assert space.decisions["ke"].candidates == [{"k": 3, "e": 4}, {"k": 5, "e": 6}]
    assert json.loads(json.dumps(space.to_json()))["labels"]["pair"]["candidates"] == [
        [1, [2, 3]], [2, [4, 5]]]
    model = freeze(DictCandidates, {"ke": {"k": 5, "e": 6}, "pair": [2, [4, 5]]})
    assert model.conv.kernel_size == (5, 5) and model.conv.out_channels == 6
    assert model.fc.out_features == 4
    assert model(torch.ones(1, 1, 8, 8)).shape == (1, 6, 8, 8)


# --------------------------------------------------------------------------- 3: attributes
@model_wrapper
class RepeatsInForward(nn.Module):
    """A ValueChoice kept as a module attribute and used in forward (NNI's NasBench101Cell)."""

    def __init__(self):
        super().__init__()
        self.repeats = nn.ValueChoice([1, 2, 3], label="repeats")
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        for _ in range(self.repeats):
            x = self.fc(x)
        return x


def test_a_value_choice_kept_as_a_module_attribute_is_a_decision():
    space = search_space(RepeatsInForward)
    assert list(space.decisions) == ["repeats"] and space.size == 3
    model = freeze(RepeatsInForward, {"repeats": 3})
    assert model.repeats == 3
    calls = []
    model.fc.register_forward_hook(lambda *_: calls.append(1))
    model(torch.ones(1, 4))
    assert len(calls) == 3


# --------------------------------------------------------------------------- 4: == and !=
@model_wrapper
class KernelEquals(nn.Module):
    def __init__(self):
        super().__init__()
        ks = nn.ValueChoice([3, 5], label="ks")
        self.conv = nn.Conv2d(1, 2, ks, padding=nn.ValueChoice.condition(ks == 3, 1, 2))
        self.bias = nn.Linear(2, nn.ValueChoice.condition(ks != 3, 7, 9))

    def forward(self, x):
        return self.conv(x)


def test_equality_builds_a_derived_choice():
    assert search_space(KernelEquals).size == 2
    small, large = freeze(KernelEquals, {"ks": 3}), freeze(KernelEquals, {"ks": 5})
    assert small.conv.padding == (1, 1) and small.bias.out_features == 9
    assert large.conv.padding == (2, 2) and large.bias.out_features == 7
    assert large(torch.ones(1, 1, 8, 8)).shape == (1, 2, 8, 8)


@pytest.mark.parametrize("test", ["==", "!="])
def test_a_boolean_test_of_equality_is_refused_while_the_space_is_built(test):
    @model_wrapper
    class IfEquals(nn.Module):
        def __init__(self):
            super().__init__()
            ks = nn.ValueChoice([3, 5], label="ks")
            if (ks == 3) if test == "==" else (ks != 3):
                self.conv = nn.Conv2d(1, 2, 3)

    with pytest.raises(SpaceError, match=r"\(ValueChoice\(\[3, 5\], label='ks'\) [=!]= 3\) "
                                         r"cannot be used in an if/while condition"):
        search_space(IfEquals)
