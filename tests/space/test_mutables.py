"""Each mutable on its own and in combination: the decisions discovered (labels, kinds,
candidates, conditions), the exact size, and what freezing makes of it."""

from __future__ import annotations

import math

import pytest
import torch

import nas_cli.nn as nn
from nas_cli import Mutator, basic_unit, freeze, model_wrapper, search_space


def summary(space) -> dict[str, tuple[str, list]]:
    return {label: (d.kind, d.candidates) for label, d in space.decisions.items()}


def parents(space) -> dict[str, tuple[str, list] | None]:
    return {label: d.parent for label, d in space.decisions.items()}


# --------------------------------------------------------------------------- LayerChoice
@model_wrapper
class ListChoice(nn.Module):
    def __init__(self):
        super().__init__()
        self.op = nn.LayerChoice([nn.ReLU(), nn.Tanh(), nn.Sigmoid()], label="op")

    def forward(self, x):
        return self.op(x)


@model_wrapper
class DictChoice(nn.Module):
    def __init__(self):
        super().__init__()
        self.op = nn.LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="op")

    def forward(self, x):
        return self.op(x)


def test_layer_choice_over_a_list_records_indices():
    space = search_space(ListChoice)
    assert summary(space) == {"op": ("layer", [0, 1, 2])}
    assert space.size == 3
    assert type(freeze(ListChoice, {"op": 1}).op) is torch.nn.Tanh


def test_layer_choice_over_a_dict_records_keys():
    space = search_space(DictChoice)
    assert summary(space) == {"op": ("layer", ["relu", "tanh"])}
    assert space.size == 2
    assert type(freeze(DictChoice, {"op": "tanh"}).op) is torch.nn.Tanh


@model_wrapper
class Nested(nn.Module):
    """outer: [Linear(4, width) | inner: [ReLU | Tanh | LayerChoice deep: [Identity | ReLU]]]."""

    def __init__(self):
        super().__init__()
        width = nn.ValueChoice([4, 8], label="width")
        deep = nn.LayerChoice([nn.Identity(), nn.ReLU()], label="deep")
        inner = nn.LayerChoice([nn.ReLU(), nn.Tanh(), deep], label="inner")
        self.outer = nn.LayerChoice([nn.Linear(4, width), inner], label="outer")

    def forward(self, x):
        return self.outer(x)


def test_nested_layer_choice_decisions_are_conditional():
    space = search_space(Nested)
    assert summary(space) == {
        "outer": ("layer", [0, 1]),
        "width": ("value", [4, 8]),
        "inner": ("layer", [0, 1, 2]),
        "deep": ("layer", [0, 1]),
    }
    assert parents(space) == {
        "outer": None, "width": ("outer", [0]), "inner": ("outer", [1]), "deep": ("inner", [2]),
    }
    # outer=0: 2 widths; outer=1: inner 0 or 1, or inner 2 with 2 deeps -> 2 + (1 + 1 + 2)
    assert space.size == 6
    archs = list(space)
    assert {"outer": 1, "inner": 2, "deep": 1} in archs
    assert {"outer": 0, "width": 8} in archs


def test_nested_layer_choice_freezes_to_the_innermost_choice():
    model = freeze(Nested, {"outer": 1, "inner": 2, "deep": 1})
    assert type(model.outer) is torch.nn.ReLU
    model = freeze(Nested, {"outer": 0, "width": 8})
    assert model(torch.ones(2, 4)).shape == (2, 8)


# --------------------------------------------------------------------------- ValueChoice
@model_wrapper
class Arithmetic(nn.Module):
    def __init__(self):
        super().__init__()
        a = nn.ValueChoice([2, 4], label="a")
        b = nn.ValueChoice([1, 3, 5], label="b")
        self.fc1 = nn.Linear(4, a * 2)
        self.fc2 = nn.Linear(a * 2, a + b)
        self.fc3 = nn.Linear(a + b, nn.ValueChoice.max(a, b))
        self.fc4 = nn.Linear(nn.ValueChoice.max(a, b), nn.ValueChoice.min(a, b) + 10 // a)
        self.fc5 = nn.Linear(nn.ValueChoice.min(a, b) + 10 // a, 3,
                             bias=nn.ValueChoice.condition(b > 2, True, False))

    def forward(self, x):
        return self.fc5(self.fc4(self.fc3(self.fc2(self.fc1(x)))))


def test_value_choice_arithmetic_derives_values_without_new_decisions():
    space = search_space(Arithmetic)
    assert summary(space) == {"a": ("value", [2, 4]), "b": ("value", [1, 3, 5])}
    assert space.size == 6


@pytest.mark.parametrize("a,b", [(2, 1), (2, 5), (4, 3), (4, 5)])
def test_value_choice_arithmetic_evaluates_under_the_chosen_values(a, b):
    model = freeze(Arithmetic, {"a": a, "b": b})
    assert model.fc1.out_features == a * 2
    assert model.fc2.out_features == a + b
    assert model.fc3.out_features == max(a, b)
    assert model.fc4.out_features == min(a, b) + 10 // a
    assert (model.fc5.bias is not None) == (b > 2)
    assert model(torch.ones(3, 4)).shape == (3, 3)


@model_wrapper
class Indexed(nn.Module):
    """A tuple-valued choice: (kernel, padding) read by indexing."""

    def __init__(self):
        super().__init__()
        kp = nn.ValueChoice([(3, 1), (5, 2), (7, 3)], label="kernel")
        self.conv = nn.Conv2d(1, 2, kp[0], padding=kp[1])

    def forward(self, x):
        return self.conv(x)


def test_value_choice_indexing_is_one_decision_recorded_as_json_lists():
    space = search_space(Indexed)
    assert summary(space) == {"kernel": ("value", [[3, 1], [5, 2], [7, 3]])}
    model = freeze(Indexed, {"kernel": [5, 2]})
    assert model.conv.kernel_size == (5, 5) and model.conv.padding == (2, 2)
    assert model(torch.ones(1, 1, 8, 8)).shape == (1, 2, 8, 8)


@model_wrapper
class NonJsonValues(nn.Module):
    def __init__(self):
        super().__init__()
        self.act = nn.ValueChoice([torch.nn.ReLU, torch.nn.GELU], label="act")
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(x)


def test_a_value_choice_kept_as_an_attribute_is_a_decision():
    """NNI discovers a ValueChoice a module keeps (and uses in forward); so do we."""
    space = search_space(NonJsonValues)
    assert summary(space) == {"act": ("value", [0, 1])}  # classes are not JSON: indices
    assert freeze(NonJsonValues, {"act": 1}).act is torch.nn.GELU
    assert freeze(NonJsonValues, {"act": 0}).act is torch.nn.ReLU


@basic_unit
class Activated(nn.Module):
    def __init__(self, activation: type, width: int):
        super().__init__()
        self.fc = nn.Linear(2, width)
        self.act = activation()

    def forward(self, x):
        return self.act(self.fc(x))


@model_wrapper
class ActivationChoice(nn.Module):
    def __init__(self):
        super().__init__()
        act = nn.ValueChoice([torch.nn.ReLU, torch.nn.GELU], label="act")
        self.block = Activated(act, nn.ValueChoice([3, 6], label="width"))

    def forward(self, x):
        return self.block(x)


def test_basic_unit_takes_value_choices_and_non_json_values_are_indices():
    space = search_space(ActivationChoice)
    assert summary(space) == {"act": ("value", [0, 1]), "width": ("value", [3, 6])}
    model = freeze(ActivationChoice, {"act": 1, "width": 6})
    assert type(model.block.act) is torch.nn.GELU
    assert model.block.fc.out_features == 6
    assert type(model.block.fc) is torch.nn.Linear


# --------------------------------------------------------------------------- InputChoice
@model_wrapper
class Inputs(nn.Module):
    def __init__(self, n_candidates: int = 4, n_chosen: int | None = 1, reduction: str = "sum"):
        super().__init__()
        self.choice = nn.InputChoice(n_candidates, n_chosen, reduction, label="in")

    def forward(self, xs):
        return self.choice(xs)


@pytest.mark.parametrize("n_chosen,expected", [
    (1, [[0], [1], [2], [3]]),
    (2, [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]),
    (4, [[0, 1, 2, 3]]),
])
def test_input_choice_candidates_are_sorted_index_lists(n_chosen, expected):
    space = search_space(Inputs, {"n_chosen": n_chosen})
    assert summary(space) == {"in": ("input", expected)}
    assert space.decisions["in"].n_chosen == n_chosen
    assert space.size == math.comb(4, n_chosen)


def test_input_choice_n_chosen_none_is_any_non_empty_subset():
    space = search_space(Inputs, {"n_chosen": None})
    candidates = space.decisions["in"].candidates
    assert space.size == len(candidates) == 2**4 - 1
    assert candidates[:5] == [[0], [1], [2], [3], [0, 1]] and candidates[-1] == [0, 1, 2, 3]
    assert space.to_json()["labels"]["in"]["n_chosen"] is None


def test_input_choice_with_one_chosen_accepts_a_bare_index():
    model = freeze(Inputs, {"in": 2})
    assert model.choice.chosen == [2]


XS = [torch.full((1, 2), float(v)) for v in (1, 2, 4, 8)]


@pytest.mark.parametrize("reduction,expected", [
    ("sum", [[10.0, 10.0]]),
    ("mean", [[5.0, 5.0]]),
    ("concat", [[2.0, 2.0, 8.0, 8.0]]),
])
def test_input_choice_reductions(reduction, expected):
    model = freeze(Inputs, {"in": [1, 3]}, n_chosen=2, reduction=reduction)
    assert model(XS).tolist() == expected


def test_input_choice_reduction_none_returns_the_chosen_list():
    model = freeze(Inputs, {"in": [0, 2, 3]}, n_chosen=None, reduction="none")
    out = model(XS)
    assert isinstance(out, list) and [t[0, 0].item() for t in out] == [1.0, 4.0, 8.0]


def test_input_choice_single_input_is_not_wrapped_in_a_reduction():
    model = freeze(Inputs, {"in": [2]}, reduction="concat")
    assert model(XS).tolist() == [[4.0, 4.0]]


# --------------------------------------------------------------------------- Repeat
@model_wrapper
class Repeated(nn.Module):
    """Depth as an int, a (min, max) pair or a ValueChoice; block as a module or a factory."""

    def __init__(self, depth=(1, 3), factory: bool = True):
        super().__init__()
        if factory:
            def block(index):
                return nn.LayerChoice([nn.Linear(4, 4), nn.Identity()], label=f"op{index}")
        else:
            block = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="op")
        self.body = nn.Repeat(block, depth, label="body")

    def forward(self, x):
        return self.body(x)


def test_repeat_with_an_int_depth_is_no_decision():
    space = search_space(Repeated, {"depth": 2})
    assert summary(space) == {"op0": ("layer", [0, 1]), "op1": ("layer", [0, 1])}
    assert space.size == 4
    assert len(freeze(Repeated, {"op0": 0, "op1": 1}, depth=2).body) == 2


def test_repeat_with_a_range_depth_and_factory_gives_each_copy_its_own_decision():
    space = search_space(Repeated, {"depth": (1, 3)})
    assert summary(space) == {
        "body": ("repeat", [1, 2, 3]),
        "op0": ("layer", [0, 1]), "op1": ("layer", [0, 1]), "op2": ("layer", [0, 1]),
    }
    assert parents(space) == {
        "body": None, "op0": None, "op1": ("body", [2, 3]), "op2": ("body", [3]),
    }
    assert space.size == 2 + 2**2 + 2**3


def test_repeat_with_a_module_block_shares_its_decisions():
    space = search_space(Repeated, {"depth": (1, 3), "factory": False})
    assert summary(space) == {"body": ("repeat", [1, 2, 3]), "op": ("layer", [0, 1])}
    assert space.size == 3 * 2
    model = freeze(Repeated, {"body": 3, "op": 1}, factory=False)
    assert [type(m) for m in model.body] == [torch.nn.Tanh] * 3


@model_wrapper
class RepeatValueDepth(nn.Module):
    def __init__(self):
        super().__init__()
        depth = nn.ValueChoice([0, 2, 3], label="depth")
        self.body = nn.Repeat(lambda i: nn.Linear(4, 4), depth)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.body(x))


def test_repeat_with_a_value_choice_depth_uses_its_label_and_allows_depth_zero():
    space = search_space(RepeatValueDepth)
    assert summary(space) == {"depth": ("repeat", [0, 2, 3])}
    for depth in (0, 2, 3):
        model = freeze(RepeatValueDepth, {"depth": depth})
        assert isinstance(model.body, torch.nn.Sequential) and len(model.body) == depth
        assert model(torch.ones(5, 4)).shape == (5, 2)


@model_wrapper
class RepeatAutoLabels(nn.Module):
    """A factory whose copies create unlabelled choices: labels are scoped per copy."""

    def __init__(self):
        super().__init__()
        self.body = nn.Repeat(lambda i: nn.Linear(4, nn.ValueChoice([4, 4])), (1, 2))

    def forward(self, x):
        return self.body(x)


def test_repeat_factory_automatic_labels_are_scoped_by_copy():
    space = search_space(RepeatAutoLabels)
    assert list(space.decisions) == ["repeat_1", "repeat_1/0/valuechoice_1",
                                     "repeat_1/1/valuechoice_1"]
    assert space.decisions["repeat_1/1/valuechoice_1"].parent == ("repeat_1", [2])


@model_wrapper
class RepeatNested(nn.Module):
    """Repeat (1..2) of Repeat (1..2) of a LayerChoice with a ValueChoice inside a candidate."""

    def __init__(self):
        super().__init__()

        def leaf(i):
            return nn.LayerChoice([nn.Linear(4, nn.ValueChoice([4, 4, 4])), nn.Identity()])

        self.body = nn.Repeat(lambda i: nn.Repeat(leaf, (1, 2)), (1, 2))

    def forward(self, x):
        return self.body(x)


def test_repeat_nested_counts_each_depth_combination():
    space = search_space(RepeatNested)
    # a leaf: 3 + 1 = 4 settings; an inner repeat: 4 + 4**2 = 20; the outer: 20 + 20**2
    assert space.size == 20 + 20**2
    assert len(space.decisions) == 1 + 2 * (1 + 2 * 2)


# --------------------------------------------------------------------------- Cell
@model_wrapper
class CellNet(nn.Module):
    def __init__(self, num_nodes=3, num_ops_per_node=1, num_predecessors=1, merge_op="all"):
        super().__init__()
        ops = {"conv": nn.Conv2d(4, 4, 3, padding=1), "pool": nn.MaxPool2d(3, 1, 1),
               "skip": nn.Identity()}
        self.cell = nn.Cell(ops, num_nodes, num_ops_per_node, num_predecessors, merge_op,
                            label="cell")
        self.num_predecessors = num_predecessors

    def forward(self, x):
        return self.cell([x] * self.num_predecessors)


@pytest.mark.parametrize("nodes,ops_per_node,preds", [(3, 1, 1), (2, 2, 1), (2, 2, 2), (4, 1, 2)])
def test_cell_size_is_inputs_times_ops_per_slot(nodes, ops_per_node, preds):
    space = search_space(CellNet, {"num_nodes": nodes, "num_ops_per_node": ops_per_node,
                                   "num_predecessors": preds})
    expected = math.prod((node * 3) ** ops_per_node for node in range(preds, preds + nodes))
    assert space.size == expected
    assert len(space.decisions) == 2 * nodes * ops_per_node


def test_cell_labels_and_candidates():
    space = search_space(CellNet, {"num_nodes": 2, "num_ops_per_node": 2})
    assert summary(space) == {
        "cell/op_1_0": ("layer", ["conv", "pool", "skip"]),
        "cell/op_1_1": ("layer", ["conv", "pool", "skip"]),
        "cell/op_2_0": ("layer", ["conv", "pool", "skip"]),
        "cell/op_2_1": ("layer", ["conv", "pool", "skip"]),
        "cell/input_1_0": ("input", [[0]]),
        "cell/input_1_1": ("input", [[0]]),
        "cell/input_2_0": ("input", [[0], [1]]),
        "cell/input_2_1": ("input", [[0], [1]]),
    }


def cell_arch(ops: list[str], inputs: list[int]) -> dict:
    arch = {f"cell/op_{n + 1}_0": op for n, op in enumerate(ops)}
    arch.update({f"cell/input_{n + 1}_0": [src] for n, src in enumerate(inputs)})
    return arch


def test_cell_merge_all_concatenates_every_node():
    model = freeze(CellNet, cell_arch(["conv", "pool", "skip"], [0, 1, 1]))
    assert model(torch.ones(2, 4, 5, 5)).shape == (2, 12, 5, 5)
    assert [type(m) for m in model.cell.ops.values()] == [
        torch.nn.Conv2d, torch.nn.MaxPool2d, torch.nn.Identity]


@pytest.mark.parametrize("inputs,loose", [([0, 1, 2], 1), ([0, 0, 0], 3), ([0, 1, 1], 2)])
def test_cell_loose_end_concatenates_only_unused_nodes(inputs, loose):
    model = freeze(CellNet, cell_arch(["skip", "skip", "skip"], inputs), merge_op="loose_end")
    assert model(torch.ones(2, 4, 5, 5)).shape == (2, 4 * loose, 5, 5)


def test_cell_with_two_predecessors_takes_two_inputs():
    arch = {"cell/op_2_0": "skip", "cell/op_3_0": "conv",
            "cell/input_2_0": [1], "cell/input_3_0": [2]}
    model = freeze(CellNet, arch, num_nodes=2, num_predecessors=2)
    assert model(torch.ones(1, 4, 3, 3)).shape == (1, 8, 3, 3)


# --------------------------------------------------------------------------- Mutator
class WidthMutator(Mutator):
    def mutate(self, model):
        model.fc = nn.Linear(4, self.choice([2, 3, 5]))
        model.act = self.choice([torch.nn.ReLU(), torch.nn.Tanh()])


@model_wrapper
class Mutated(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = torch.nn.Identity()
        self.op = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="op")

    def forward(self, x):
        return self.op(self.act(self.fc(x)))


def test_custom_mutator_choices_are_labelled_decisions_recorded_by_index():
    space = search_space(Mutated, mutators=[WidthMutator()])
    assert summary(space) == {
        "op": ("layer", [0, 1]),
        "WidthMutator/0": ("mutator", [0, 1, 2]),
        "WidthMutator/1": ("mutator", [0, 1]),
    }
    assert space.size == 2 * 3 * 2
    labelled = search_space(Mutated, mutators=[WidthMutator(label="width")])
    assert list(labelled.decisions) == ["op", "width/0", "width/1"]


def test_custom_mutator_is_applied_when_freezing():
    model = freeze(Mutated, {"op": 0, "w/0": 2, "w/1": 1}, mutators=[WidthMutator("w")])
    assert model.fc.out_features == 5 and type(model.act) is torch.nn.Tanh
    assert model(torch.ones(3, 4)).shape == (3, 5)


def test_mutators_apply_in_order():
    class Double(Mutator):
        def mutate(self, model):
            model.fc = nn.Linear(4, model.fc.out_features * self.choice([1, 2]))

    model = freeze(Mutated, {"op": 0, "WidthMutator/0": 1, "WidthMutator/1": 0, "Double/0": 1},
                   mutators=[WidthMutator(), Double()])
    assert model.fc.out_features == 6


# --------------------------------------------------------------------------- shared labels
@model_wrapper
class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="act")
        self.b = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="act")
        self.fc1 = nn.Linear(4, nn.ValueChoice([3, 6], label="w"))
        self.fc2 = nn.Linear(nn.ValueChoice([3, 6], label="w"), 2)
        self.i1 = nn.InputChoice(3, 2, label="in")
        self.i2 = nn.InputChoice(3, 2, label="in")

    def forward(self, x):
        x = self.fc2(self.b(self.fc1(self.a(x))))
        return self.i2([x, x, self.i1([x, x, x])])


def test_shared_labels_are_one_decision_taken_everywhere():
    space = search_space(Shared)
    assert summary(space) == {"act": ("layer", [0, 1]), "w": ("value", [3, 6]),
                              "in": ("input", [[0, 1], [0, 2], [1, 2]])}
    assert space.size == 2 * 2 * 3
    model = freeze(Shared, {"act": 1, "w": 6, "in": [0, 2]})
    assert type(model.a) is type(model.b) is torch.nn.Tanh
    assert model.fc1.out_features == model.fc2.in_features == 6
    assert model.i1.chosen == model.i2.chosen == [0, 2]
    assert model(torch.ones(1, 4)).shape == (1, 2)


# --------------------------------------------------------------------------- automatic labels
@model_wrapper
class Unlabelled(nn.Module):
    def __init__(self, width: int = 4):
        super().__init__()
        self.fc = nn.Linear(width, nn.ValueChoice([2, 3]))
        self.act = nn.LayerChoice([nn.ReLU(), nn.LayerChoice([nn.Tanh(), nn.Sigmoid()])])
        self.inputs = nn.InputChoice(2)
        self.body = nn.Repeat(lambda i: nn.LayerChoice([nn.ReLU(), nn.Tanh()]), (1, 2))

    def forward(self, x):
        return self.body(self.inputs([self.act(self.fc(x)), self.act(self.fc(x))]))


def test_automatic_labels_are_deterministic_across_builds():
    from nas_cli.space._discover import _CACHE

    _CACHE.clear()
    first = search_space(Unlabelled)
    _ = search_space(Nested), search_space(Arithmetic)  # other builds in between
    nn.LayerChoice([nn.ReLU()])  # a stray mutable outside any model
    _CACHE.clear()
    second = search_space(Unlabelled)
    assert first is not second
    assert list(first.decisions) == list(second.decisions) == [
        "valuechoice_1", "layerchoice_2", "layerchoice_1", "inputchoice_1", "repeat_1",
        "repeat_1/0/layerchoice_1", "repeat_1/1/layerchoice_1",
    ]
    assert first.to_json() == second.to_json()
    assert first.size == 2 * (1 + 2) * 2 * (2 + 4)


def test_automatic_labels_freeze_the_same_model_twice():
    arch = search_space(Unlabelled).decode(17)
    keys = [list(freeze(Unlabelled, arch).state_dict()) for _ in range(2)]
    assert keys[0] == keys[1]


# --------------------------------------------------------------------------- known bugs
@model_wrapper
class RepeatChoiceBlock(nn.Module):
    """NNI's usual form: a block module whose layers take a ValueChoice, repeated."""

    def __init__(self):
        super().__init__()
        width = nn.ValueChoice([4, 8], label="width")
        block = nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 4))
        self.body = nn.Repeat(block, (1, 2), label="depth")

    def forward(self, x):
        return self.body(x)


def test_repeat_copies_a_block_whose_layers_take_value_choices():
    space = search_space(RepeatChoiceBlock)
    assert space.size == 2 * 2
    model = freeze(RepeatChoiceBlock, {"width": 8, "depth": 2})
    assert [m.out_features for m in model.body[1] if isinstance(m, torch.nn.Linear)] == [8, 4]
