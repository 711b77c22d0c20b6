"""Every way a model space or an architecture can be wrong is refused with a message that names
the label (or the mutable) and says what would be right."""

from __future__ import annotations

import json
import re

import pytest
import torch

import nas_cli.nn as nn
from nas_cli import fixed_arch, freeze, model_wrapper, search_space
from nas_cli.errors import ArchError, NasError, SpaceError


@model_wrapper
class Net(nn.Module):
    """The contract's example space."""

    def __init__(self):
        super().__init__()
        hidden = nn.ValueChoice([32, 64, 128], label="hidden")
        self.conv = nn.LayerChoice([nn.Conv2d(1, 8, 3, padding=1),
                                    nn.Conv2d(1, 8, 5, padding=2)], label="conv")
        self.fc1 = nn.Linear(8 * 8 * 8, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(self.conv(x).flatten(1))))


def test_the_contract_example_freezes():
    assert search_space(Net).size == 6
    model = freeze(Net, {"hidden": 64, "conv": 1})
    assert model(torch.ones(2, 1, 8, 8)).shape == (2, 10)
    with fixed_arch({"hidden": 64, "conv": 1}):
        assert repr(Net()) == repr(model)


# --------------------------------------------------------------------------- bad architectures
BAD_ARCHS = [
    ({"hidden": 64}, r"missing label 'conv' \(candidates: \[0: Conv2d, 1: Conv2d\]\)"),
    ({"hidden": 64, "conv": 1, "hiden": 3}, r"unknown label 'hiden' \(did you mean 'hidden'\?\)"),
    ({"hidden": 64, "conv": 1, "zzz": 3}, r"unknown label 'zzz' \(labels: conv, hidden\)"),
    ({"hidden": 65, "conv": 1},
     r"label 'hidden': 65 is out of range \(candidates: \[32, 64, 128\]\)"),
    ({"hidden": 64, "conv": 2}, r"label 'conv': 2 is out of range"),
    ({"hidden": "64", "conv": 0}, r"label 'hidden': '64' is out of range"),
    ({"hidden": 64, "conv": True}, r"label 'conv': True is out of range"),
]


@pytest.mark.parametrize("arch,message", BAD_ARCHS)
def test_freeze_refuses_a_bad_arch_naming_the_label(arch, message):
    with pytest.raises(ArchError, match=message) as info:
        freeze(Net, arch)
    assert isinstance(info.value, SpaceError) and isinstance(info.value, NasError)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("arch,message", BAD_ARCHS)
def test_fixed_arch_refuses_a_bad_arch_naming_the_label(arch, message):
    with pytest.raises(ArchError, match=message), fixed_arch(arch):
        Net()


def test_every_problem_is_reported_at_once():
    with pytest.raises(ArchError) as info:
        freeze(Net, {"hidden": 7, "extra": 1})
    message = str(info.value)
    assert "unknown label 'extra'" in message
    assert "label 'hidden': 7 is out of range" in message
    assert "missing label 'conv'" in message


def test_an_arch_must_be_a_mapping():
    with pytest.raises(ArchError, match=r"a JSON object \{label: value\}, got list"):
        freeze(Net, [64, 1])


def test_fixed_arch_refuses_an_unreadable_or_non_object_file(tmp_path):
    with pytest.raises(ArchError, match=r"cannot read architecture from .*missing\.json"):
        with fixed_arch(tmp_path / "missing.json"):
            pass
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ArchError, match=r"cannot read architecture from .*bad\.json"):
        with fixed_arch(bad):
            pass
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([1, 2]))
    with pytest.raises(ArchError, match=r"list\.json: an architecture is a JSON object"):
        with fixed_arch(listed):
            pass


# --------------------------------------------------------------------------- bad spaces
@model_wrapper
class Broken(nn.Module):
    """One way to get a space wrong per `mode`."""

    def __init__(self, mode: str):
        super().__init__()
        width = nn.ValueChoice([2, 4], label="width")
        self.fc = nn.Linear(4, width)
        if mode == "if":
            if width > 2:
                pass
        elif mode == "range":
            for _ in range(width):
                pass
        elif mode == "for":
            for _ in width:
                pass
        elif mode == "len":
            len(width)
        elif mode == "int":
            int(width * 2)
        elif mode == "index":
            [1, 2, 3, 4, 5][width]
        elif mode == "shared_value":
            self.other = nn.Linear(4, nn.ValueChoice([2, 8], label="width"))
        elif mode == "shared_layer":
            self.a = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="act")
            self.b = nn.LayerChoice([nn.ReLU(), nn.Sigmoid()], label="act")
        elif mode == "shared_layer_count":
            self.a = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="act")
            self.b = nn.LayerChoice([nn.ReLU(), nn.Tanh(), nn.Sigmoid()], label="act")
        elif mode == "shared_input":
            self.a = nn.InputChoice(3, 1, label="in")
            self.b = nn.InputChoice(3, 2, label="in")
        elif mode == "user_bug":
            raise KeyError("oops")


REFUSED_CONTROL_FLOW = [
    ("if", r"\(ValueChoice\(\[2, 4\], label='width'\) > 2\) cannot be used in an if/while "
           r"condition"),
    ("range", r"ValueChoice\(\[2, 4\], label='width'\) cannot be used in range\(\)"),
    ("for", r"cannot be used in a for loop"),
    ("len", r"cannot be used in len\(\)"),
    ("int", r"\(ValueChoice\(\[2, 4\], label='width'\) \* 2\) cannot be used in int\(\)"),
    ("index", r"cannot be used in range\(\) or as an index"),
]


@pytest.mark.parametrize("mode,message", REFUSED_CONTROL_FLOW)
def test_value_choice_in_python_control_flow_is_refused(mode, message):
    with pytest.raises(SpaceError, match=message) as info:
        search_space(Broken, {"mode": mode})
    assert "pass it to a nas_cli.nn module or a @basic_unit class" in str(info.value)


@pytest.mark.parametrize("mode,message", [
    ("shared_value", r"label 'width' is shared by mutables whose candidates disagree: "
                     r"value .*2.*4.* vs value .*2.*8"),
    ("shared_layer", r"label 'act' is shared by mutables whose candidates disagree: "
                     r"layer \['0: ReLU', '1: Tanh'\] vs layer \['0: ReLU', '1: Sigmoid'\]"),
    ("shared_layer_count", r"label 'act' is shared by mutables whose candidates disagree"),
    ("shared_input", r"label 'in' is shared by mutables whose candidates disagree"),
])
def test_shared_labels_with_different_candidates_are_refused(mode, message):
    with pytest.raises(SpaceError, match=message) as info:
        search_space(Broken, {"mode": mode})
    assert "give them different labels or the same candidates" in str(info.value)


def test_an_error_in_user_code_names_the_class():
    with pytest.raises(SpaceError, match=r"building Broken failed: KeyError: 'oops'"):
        search_space(Broken, {"mode": "user_bug"})


def test_a_class_without_model_wrapper_is_refused():
    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.op = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="op")

    message = r"Plain is not a model space: decorate the class with @model_wrapper"
    with pytest.raises(SpaceError, match=message):
        search_space(Plain)
    with pytest.raises(SpaceError, match=message):
        freeze(Plain, {"op": 0})


def test_model_wrapper_goes_on_a_module_class():
    with pytest.raises(SpaceError, match=r"@model_wrapper goes on a torch module class"):
        model_wrapper(lambda: None)
    with pytest.raises(SpaceError, match=r"@model_wrapper goes on a torch module class"):
        model_wrapper(dict)


# --------------------------------------------------------------------------- bad mutables
@pytest.mark.parametrize("depth,message", [
    ((3, 1), r"Repeat 'r': depth must give non-negative ints with min <= max, got \(3, 1\)"),
    (-1, r"Repeat 'r': depth must give non-negative ints with min <= max, got -1"),
    ("2", r"Repeat 'r': depth must be an int, a \(min, max\) pair or a ValueChoice, "
          r"got '2'"),
    (1.5, r"depth must be an int, a \(min, max\) pair or a ValueChoice, got 1.5"),
    ((1, 2, 3), r"depth must be an int, a \(min, max\) pair or a ValueChoice"),
    (True, r"depth must be an int, a \(min, max\) pair or a ValueChoice, got True"),
])
def test_bad_repeat_depth_is_refused(depth, message):
    with pytest.raises(SpaceError, match=message):
        nn.Repeat(nn.ReLU(), depth, label="r")


def test_repeat_depth_must_come_from_one_value_choice_of_ints():
    two = nn.ValueChoice([1, 2], label="d") + nn.ValueChoice([0, 1], label="e")
    with pytest.raises(SpaceError, match=r"depth must be a ValueChoice or derived from one "
                                         r"ValueChoice with candidates, not \(ValueChoice"):
        nn.Repeat(nn.ReLU(), two)
    with pytest.raises(SpaceError, match=r"non-negative ints with min <= max, got \[1, 2.5\]"):
        nn.Repeat(nn.ReLU(), nn.ValueChoice([1, 2.5], label="d"))
    with pytest.raises(SpaceError, match=r"non-negative ints with min <= max, got \[-1, 0\]"):
        nn.Repeat(nn.ReLU(), nn.ValueChoice([1, 2], label="d") - 2)


def test_repeat_needs_enough_blocks_in_a_list():
    with pytest.raises(SpaceError, match=r"2 blocks given for a depth up to 3"):
        nn.Repeat([nn.ReLU(), nn.Tanh()], (1, 3), label="r")


@pytest.mark.parametrize("kwargs,message", [
    ({"reduction": "max"}, r"InputChoice 'ic': reduction must be one of sum, mean, concat, none, "
                           r"got 'max'"),
    ({"n_chosen": 4}, r"InputChoice 'ic': n_chosen must be None or 1..3, got 4"),
    ({"n_chosen": 0}, r"n_chosen must be None or 1..3, got 0"),
])
def test_bad_input_choice_is_refused(kwargs, message):
    with pytest.raises(SpaceError, match=message):
        nn.InputChoice(3, label="ic", **kwargs)


def test_input_choice_needs_candidates():
    with pytest.raises(SpaceError, match=r"n_candidates must be a positive int, got 0"):
        nn.InputChoice(0, label="ic")


def test_empty_or_non_module_choices_are_refused():
    with pytest.raises(SpaceError, match=r"LayerChoice 'lc': needs at least one candidate"):
        nn.LayerChoice([], label="lc")
    with pytest.raises(SpaceError, match=r"LayerChoice 'lc': candidate 1 is a int, not a torch"):
        nn.LayerChoice([nn.ReLU(), 3], label="lc")
    with pytest.raises(SpaceError, match=re.escape("ValueChoice vc: needs at least one candidate")):
        nn.ValueChoice([], label="vc")


def test_bad_cell_merge_op_is_refused():
    with pytest.raises(SpaceError, match=r"Cell 'c': merge_op must be 'all' or 'loose_end', "
                                         r"got 'sum'"):
        nn.Cell([nn.ReLU()], 2, merge_op="sum", label="c")


# --------------------------------------------------------------------------- known bugs
def test_repeat_with_min_above_max_names_the_pair():
    with pytest.raises(SpaceError, match=r"\(3, 1\)"):
        nn.Repeat(nn.ReLU(), (3, 1), label="r")


@model_wrapper
class Pairs(nn.Module):
    def __init__(self):
        super().__init__()
        self.pick = nn.InputChoice(3, 2, label="pick")

    def forward(self, xs):
        return self.pick(xs)


def test_freeze_sorts_input_choice_indices():
    assert freeze(Pairs, {"pick": [2, 0]}).pick.chosen == [0, 2]


def test_fixed_arch_accepts_unsorted_input_choice_indices_like_freeze():
    with fixed_arch({"pick": [2, 0]}):
        model = Pairs()
    assert model.pick.chosen == [0, 2]
