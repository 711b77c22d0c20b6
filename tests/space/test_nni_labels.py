"""Architectures written by NNI: its automatic labels (`model_1`, `model_9_2`, `model_7/op_1_0`)
and its values (list indices as strings) are accepted by freeze and fixed_arch; labels a space
does not have are refused, or dropped with a warning under `allow_unknown`.

The space below was built with NNI 2.10 (only the import differs): NNI numbered its mutables
as NNI_LABELS says, and froze NNI_ARCH to 509 parameters.
"""

from __future__ import annotations

import json

import pytest

import nas_cli.nn as nn
from nas_cli import fixed_arch, freeze, model_wrapper, search_space
from nas_cli.errors import ArchError
from nas_cli.space import SearchSpace, UnknownLabelsWarning


@model_wrapper
class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, nn.ValueChoice([4, 8]))
        self.act = nn.LayerChoice([nn.ReLU(), nn.Tanh()])

    def forward(self, x):
        return self.act(self.fc(x))


@model_wrapper
class Unlabelled(nn.Module):
    def __init__(self):
        super().__init__()
        width = nn.ValueChoice([8, 16])
        self.stem = nn.Linear(4, width)
        self.op = nn.LayerChoice([nn.Linear(width, 4), nn.Sequential(nn.ReLU(), nn.Linear(width, 4))])
        self.blocks = nn.Repeat(lambda i: nn.LayerChoice([nn.Identity(), nn.ReLU()]), (1, 3))
        self.fixed = nn.Repeat(nn.ReLU(), 2)
        self.cell = nn.Cell([nn.Linear(4, 4), nn.Identity()], 2, 1, 1)
        self.pick = nn.InputChoice(2, 1)
        self.inner = Inner()
        self.act = nn.AutoActivation()
        self.nb = nn.NasBench201Cell([lambda i, o: nn.Linear(i, o), lambda i, o: nn.Identity()], 8, 8)
        self.last = nn.Linear(4, nn.ValueChoice([1, 2]))

    def forward(self, x):
        return self.last(x)


NNI_LABELS = {  # NNI 2.10's label -> ours
    "model_1": "valuechoice_1", "model_2": "layerchoice_1", "model_3": "repeat_1",
    "model_4": "repeat_1/0/layerchoice_1", "model_5": "repeat_1/1/layerchoice_1",
    "model_6": "repeat_1/2/layerchoice_1", "model_7/op_1_0": "cell_1/op_1_0",
    "model_7/input_2_0": "cell_1/input_2_0", "model_8": "inputchoice_1",
    "model_9_1": "valuechoice_2", "model_9_2": "layerchoice_2",
    "model_10__unary_0": "autoactivation_1__unary_0", "model_10__binary_0":
    "autoactivation_1__binary_0", "model_11/1_3": "nb201cell_1/1_3", "model_12": "valuechoice_3",
}

NNI_ARCH = {
    "model_1": 16, "model_2": "1", "model_3": 3, "model_4": "1", "model_5": "0", "model_6": "1",
    "model_7/op_1_0": "0", "model_7/input_1_0": [0], "model_7/op_2_0": "1",
    "model_7/input_2_0": [1], "model_8": [1], "model_9_1": 8, "model_9_2": "1",
    "model_10__unary_0": "6", "model_10__unary_1": "7", "model_10__binary_0": "9",
    "model_11/0_1": "0", "model_11/0_2": "1", "model_11/1_2": "0", "model_11/0_3": "0",
    "model_11/1_3": "1", "model_11/2_3": "0", "model_12": 2,
}


def test_our_automatic_labels_map_to_the_ones_nni_gives():
    space = search_space(Unlabelled)
    assert len(space.decisions) == len(NNI_ARCH)
    for theirs, ours in NNI_LABELS.items():
        assert space.translate({theirs: 0}) == {ours: 0}
    again = SearchSpace.from_json(json.loads(json.dumps(space.to_json())))
    assert again.translate({"model_9_2": 1}) == {"layerchoice_2": 1}


def test_an_architecture_nni_wrote_freezes_as_nni_froze_it(tmp_path):
    model = freeze(Unlabelled, NNI_ARCH)
    assert sum(p.numel() for p in model.parameters()) == 509  # NNI 2.10: 509
    assert len(model.blocks) == 3 and model.last.out_features == 2
    path = tmp_path / "nni_arch.json"
    path.write_text(json.dumps(NNI_ARCH))
    with fixed_arch(path):
        same = Unlabelled()
    assert sum(p.numel() for p in same.parameters()) == 509
    assert search_space(Unlabelled).validate(NNI_ARCH)["layerchoice_1"] == 1  # our form


def test_unknown_labels_are_refused_unless_allowed():
    arch = dict(NNI_ARCH, model_99="0")
    with pytest.raises(ArchError, match="unknown label 'model_99'"):
        freeze(Unlabelled, arch)
    with pytest.warns(UnknownLabelsWarning, match="ignoring labels the space does not have: model_99"):
        model = freeze(Unlabelled, arch, allow_unknown=True)
    assert sum(p.numel() for p in model.parameters()) == 509
    with pytest.warns(UnknownLabelsWarning), fixed_arch(arch, allow_unknown=True):
        assert Unlabelled().last.out_features == 2


def test_a_label_of_ours_wins_over_nni_s_for_the_same_decision():
    space = search_space(Unlabelled)
    assert space.translate({"model_12": 1, "valuechoice_3": 2})["valuechoice_3"] == 2
