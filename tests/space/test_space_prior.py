"""A sampling prior per candidate (NNI's `prior=` / `weights=`): discovered, kept in JSON,
honoured by `SearchSpace.sample` and `canonical(fill=)`."""

from __future__ import annotations

import collections
import json
import random

import pytest

import nas_cli.nn as nn
from nas_cli import model_wrapper, search_space
from nas_cli.errors import SpaceError
from nas_cli.space import SearchSpace


@model_wrapper
class Prior(nn.Module):
    """op (prior 0.7/0.2/0.1) picks a block; `width` (prior 1:3) lives in op 0 only; `act`
    has no prior."""

    def __init__(self):
        super().__init__()
        width = nn.ValueChoice([4, 8], prior=[1, 3], label="width")
        self.op = nn.LayerChoice([nn.Linear(4, width), nn.Identity(), nn.Identity()],
                                 prior=[0.7, 0.2, 0.1], label="op")
        self.act = nn.LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act")
        self.pick = nn.InputChoice(3, 1, weights=[0.5, 0.5, 0.0], label="pick")

    def forward(self, x):
        return self.act(self.op(x))


def test_priors_are_discovered_normalized_and_kept_in_json():
    space = search_space(Prior)
    assert space.decisions["op"].prior == pytest.approx([0.7, 0.2, 0.1])
    assert space.decisions["width"].prior == pytest.approx([0.25, 0.75])
    assert space.decisions["act"].prior is None and space.weighted
    data = json.loads(json.dumps(space.to_json()))
    assert data["labels"]["width"]["prior"] == [0.25, 0.75] and "prior" not in data["labels"]["act"]
    assert SearchSpace.from_json(data).decisions["op"].prior == pytest.approx([0.7, 0.2, 0.1])


def test_sampling_follows_the_prior_and_stays_uniform_elsewhere():
    space = search_space(Prior)
    rng = random.Random(0)
    archs = [space.sample(rng) for _ in range(4000)]
    ops = collections.Counter(a["op"] for a in archs)
    assert [ops[i] / 4000 for i in range(3)] == pytest.approx([0.7, 0.2, 0.1], abs=0.03)
    widths = collections.Counter(a["width"] for a in archs if "width" in a)
    assert widths[8] / sum(widths.values()) == pytest.approx(0.75, abs=0.03)
    assert all(("width" in a) == (a["op"] == 0) for a in archs)
    acts = collections.Counter(a["act"] for a in archs)
    assert acts["relu"] / 4000 == pytest.approx(0.5, abs=0.03)
    assert {tuple(a["pick"]) for a in archs} == {(0,), (1,)}  # weight 0: never drawn


def test_missing_labels_are_filled_by_the_prior():
    space = search_space(Prior)
    rng = random.Random(1)
    filled = [space.canonical({"op": 0, "act": "relu", "pick": [0]}, fill=rng)["width"]
              for _ in range(2000)]
    assert filled.count(8) / 2000 == pytest.approx(0.75, abs=0.04)


@pytest.mark.parametrize(("prior", "message"), [
    ([0.5, 0.5, 0.5], r"prior must be 2 non-negative numbers \(one per candidate\)"),
    ([-1, 2], "prior must be 2 non-negative numbers"),
    ([0, 0], "with a positive sum, got \\[0, 0\\]"),
])
def test_a_bad_prior_is_refused_in_one_line(prior, message):
    with pytest.raises(SpaceError, match=message):
        nn.ValueChoice([1, 2], prior=prior, label="x")


def test_a_shared_label_with_two_different_priors_is_refused():
    @model_wrapper
    class Clash(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, nn.ValueChoice([1, 2], prior=[0.5, 0.5], label="w"))
            self.b = nn.Linear(2, nn.ValueChoice([1, 2], prior=[0.9, 0.1], label="w"))

    with pytest.raises(SpaceError, match="label 'w' is shared by mutables with different priors"):
        search_space(Clash)
