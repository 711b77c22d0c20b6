"""SearchSpace: exact counting over conditional decisions, the index <-> architecture bijection,
sampling, validation, JSON, the discovery cache."""

from __future__ import annotations

import json
import random

import pytest
import torch

import nas_cli.nn as nn
from nas_cli import Mutator, SearchSpace, basic_unit, freeze, model_wrapper, search_space
from nas_cli.space import _discover


@basic_unit
class Scaled(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.fc = nn.Linear(4, width)
        self.out = nn.Linear(width, 4)

    def forward(self, x):
        return self.out(self.fc(x))


@model_wrapper
class Mixed(nn.Module):
    """Every mutable, nested: a Repeat (1..2) whose copies each choose between a Scaled block
    (with a width) and an inner LayerChoice; an InputChoice over three branches; a shared act."""

    def __init__(self):
        super().__init__()

        def block(i):
            inner = nn.LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label=f"inner{i}")
            width = nn.ValueChoice([2, 8], label=f"width{i}")
            return nn.LayerChoice({"scaled": Scaled(width), "inner": inner}, label=f"op{i}")

        self.body = nn.Repeat(block, (1, 2), label="depth")
        self.branches = nn.InputChoice(3, n_chosen=None, reduction="mean", label="branches")
        self.act = nn.LayerChoice([nn.ReLU(), nn.Sigmoid()], label="act")
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        x = self.body(x)
        return self.head(self.act(self.branches([x, x * 2, x * 3])))


# one copy: op=scaled with 2 widths, or op=inner with 2 acts -> 4; depth 1..2 -> 4 + 16
MIXED_SIZE = (4 + 4**2) * 7 * 2


def test_mixed_space_decisions_and_conditions():
    space = search_space(Mixed)
    assert {k: (d.kind, d.parent) for k, d in space.decisions.items()} == {
        "depth": ("repeat", None),
        "op0": ("layer", None),  # depth 1 and 2 both reach block 0
        "width0": ("value", ("op0", ["scaled"])),
        "inner0": ("layer", ("op0", ["inner"])),
        "op1": ("layer", ("depth", [2])),
        "width1": ("value", ("op1", ["scaled"])),
        "inner1": ("layer", ("op1", ["inner"])),
        "branches": ("input", None),
        "act": ("layer", None),
    }
    assert space.size == len(space) == MIXED_SIZE


def test_enumeration_yields_size_distinct_canonical_archs():
    space = search_space(Mixed)
    archs = list(space)
    assert len(archs) == space.size
    assert len({json.dumps(a, sort_keys=True) for a in archs}) == space.size
    for arch in archs[::7]:
        assert space.validate(arch) == arch
    assert archs == [space.decode(i) for i in range(space.size)]


def test_enumeration_holds_exactly_the_active_labels():
    space = search_space(Mixed)
    for arch in space:
        assert ("op1" in arch) == (arch["depth"] == 2)
        for i in (0, 1):
            if f"op{i}" in arch:
                assert (f"width{i}" in arch) == (arch[f"op{i}"] == "scaled")
                assert (f"inner{i}" in arch) == (arch[f"op{i}"] == "inner")


def test_every_arch_freezes_to_a_distinct_plain_model(assert_frozen):
    """The count is exact: as many different frozen models as architectures."""
    space = search_space(Mixed)
    seen = set()
    for arch in space:
        model = freeze(Mixed, arch)
        assert_frozen(model)
        seen.add(repr(model))
    assert len(seen) == space.size


def test_decode_outside_the_space_is_refused():
    space = search_space(Mixed)
    with pytest.raises(IndexError, match=r"outside \[0, 280\)"):
        space.decode(space.size)
    with pytest.raises(IndexError):
        space.decode(-1)


def test_sampling_is_reproducible_and_covers_the_space():
    space = search_space(Mixed)
    first = [space.sample(random.Random(7)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    rng = random.Random(0)
    drawn = {json.dumps(space.sample(rng), sort_keys=True) for _ in range(3000)}
    assert len(drawn) == space.size  # uniform over archs: all 280 seen in 3000 draws


def test_validate_drops_inactive_labels_and_normalises_values():
    space = search_space(Mixed)
    arch = {"depth": 1, "op0": "scaled", "width0": 8.0, "inner0": "tanh", "op1": "inner",
            "branches": [2, 0], "act": 1}
    assert space.validate(arch) == {"depth": 1, "op0": "scaled", "width0": 8,
                                    "branches": [0, 2], "act": 1}


def test_canonical_with_fill_completes_a_partial_arch():
    space = search_space(Mixed)
    arch = space.canonical({"depth": 2, "op1": "inner"}, fill=random.Random(0))
    assert arch["depth"] == 2 and arch["op1"] == "inner" and "inner1" in arch
    assert space.validate(arch) == arch


def test_to_json_follows_the_contract_and_round_trips():
    space = search_space(Mixed)
    data = json.loads(json.dumps(space.to_json()))
    assert data["size"] == MIXED_SIZE
    assert data["labels"]["depth"] == {"kind": "repeat", "candidates": [1, 2]}
    assert data["labels"]["op0"]["kind"] == "layer"
    assert data["labels"]["op0"]["candidates"] == ["scaled", "inner"]
    assert data["labels"]["width1"]["when"] == {"op1": ["scaled"]}
    assert data["labels"]["branches"]["kind"] == "input"
    assert len(data["labels"]["branches"]["candidates"]) == 7
    again = SearchSpace.from_json(data)
    assert again.size == space.size and list(again) == list(space)


def test_str_lists_labels_and_size():
    text = str(search_space(Mixed))
    assert text.startswith("search space: 9 decisions, 280 architectures")
    assert "width1 [value]: [2, 8]  (when op1 in ['scaled'])" in text


def test_space_model_runs_with_first_candidates():
    """Built without an architecture, a space runs (shape checks in user code work)."""
    model = Mixed()
    assert model(torch.ones(2, 4)).shape == (2, 3)


def test_discovery_is_cached_until_cleared():
    space = search_space(Mixed)
    assert search_space(Mixed) is space
    _discover._CACHE.clear()
    rebuilt = search_space(Mixed)
    assert rebuilt is not space and rebuilt.to_json() == space.to_json()


def test_init_kwargs_give_different_spaces():
    @model_wrapper
    class Wide(nn.Module):
        def __init__(self, n: int = 2):
            super().__init__()
            self.ops = nn.ModuleList(nn.LayerChoice([nn.ReLU(), nn.Tanh()]) for _ in range(n))

    assert search_space(Wide).size == 4
    assert search_space(Wide, {"n": 5}).size == 32
    assert search_space(Wide, {"n": 0}).size == 1


def test_a_space_without_decisions_has_one_architecture():
    @model_wrapper
    class Fixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

    space = search_space(Fixed)
    assert space.size == 1 and list(space) == [{}]
    assert type(freeze(Fixed, {}).fc) is torch.nn.Linear


# --------------------------------------------------------------------------- known bugs
@model_wrapper
class RepeatSharedBlock(nn.Module):
    """A deep-copied block holding a LayerChoice whose first candidate has a ValueChoice."""

    def __init__(self):
        super().__init__()
        block = nn.LayerChoice([Scaled(nn.ValueChoice([2, 8], label="w")), nn.Identity()],
                               label="op")
        self.body = nn.Repeat(block, (1, 2), label="depth")

    def forward(self, x):
        return self.body(x)


def test_repeat_module_block_nested_value_is_conditional_on_its_layer_choice():
    space = search_space(RepeatSharedBlock)
    assert space.decisions["w"].parent == ("op", [0])
    # depth 1 or 2, op shared by the copies: (2 widths + identity) each -> 2 * 3
    assert space.size == 6


@model_wrapper
class CellFactory(nn.Module):
    """Cell op factories build one op per possible input; their decisions matter only for the
    input chosen."""

    def __init__(self):
        super().__init__()
        ops = [lambda node, slot, source: Scaled(nn.ValueChoice([2, 8])), nn.Identity()]
        self.cell = nn.Cell(ops, 2, label="c")

    def forward(self, x):
        return self.cell(x)


def test_cell_factory_decisions_depend_on_the_chosen_input():
    """Decisions inside an op built for one input depend on two choices: the op and the input."""
    space = search_space(CellFactory)
    # node 1: input 0 only; op scaled (2 widths) or identity -> 3
    # node 2: input 0 or 1, then 3 the same way -> 6
    assert space.size == len(list(space)) == 3 * 6
    width = space.decisions["c/op_2_0/1/valuechoice_1"]
    assert width.when == [{"c/input_2_0": [[1]], "c/op_2_0": [0]}]
    for arch in space:
        assert ("c/op_2_0/1/valuechoice_1" in arch) == (
            arch["c/input_2_0"] == [1] and arch["c/op_2_0"] == 0)
        freeze(CellFactory, arch)


class ChoiceOf(Mutator):
    def __init__(self, widths):
        super().__init__(label="widths")
        self.widths = widths

    def mutate(self, model):
        model.fc = nn.Linear(4, self.choice(self.widths))


@model_wrapper
class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x)


def test_discovery_cache_tells_mutators_with_different_parameters_apart():
    assert search_space(Plain, mutators=[ChoiceOf([1, 2])]).size == 2
    assert search_space(Plain, mutators=[ChoiceOf([1, 2, 3])]).size == 3
