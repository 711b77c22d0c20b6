"""Continuous decisions (a range instead of candidates) in a SearchSpace, and Distribution."""

from __future__ import annotations

import json
import math
import random

import pytest

from nas_cli.errors import ArchError, SpaceError
from nas_cli.space import Decision, Distribution, SearchSpace


def mixed_space() -> SearchSpace:
    """op in {conv, skip}; `rate` (log range) only when op is conv; `p` always (step 0.25)."""
    return SearchSpace({
        "op": Decision("op", "layer", ["conv", "skip"], ["conv", "skip"]),
        "rate": Decision("rate", "value", [], [], [{"op": ["conv"]}],
                         distribution=Distribution(1e-4, 1e-1, log=True)),
        "p": Decision("p", "value", [], [], distribution=Distribution(0.0, 1.0, step=0.25)),
    })


def test_a_space_with_a_continuous_decision_is_infinite_but_samples():
    space = mixed_space()
    assert space.size == math.inf and space.count == 2 and space.continuous == ["rate", "p"]
    rng = random.Random(0)
    archs = [space.sample(rng) for _ in range(200)]
    for arch in archs:
        assert ("rate" in arch) == (arch["op"] == "conv")
        assert arch["p"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert space.validate(arch) == arch
    rates = [a["rate"] for a in archs if "rate" in a]
    assert 1e-4 <= min(rates) and max(rates) <= 1e-1
    # uniform in log space: about half the draws below the geometric middle 10**-2.5
    assert 0.35 < sum(r < 10 ** -2.5 for r in rates) / len(rates) < 0.65


def test_continuous_values_are_validated_against_their_range():
    space = mixed_space()
    with pytest.raises(ArchError, match=r"label 'rate': 0\.5 is out of range "
                                        r"\(candidates: loguniform\(0\.0001, 0\.1\)\)"):
        space.validate({"op": "conv", "rate": 0.5, "p": 0.25})
    with pytest.raises(ArchError, match=r"label 'p': 0\.3 is out of range"):
        space.validate({"op": "skip", "p": 0.3})
    assert space.validate({"op": "skip", "p": 1}) == {"op": "skip", "p": 1.0}
    filled = space.canonical({"op": "conv"}, fill=random.Random(1))
    assert set(filled) == {"op", "rate", "p"}


def test_enumeration_is_refused_with_the_continuous_labels_named():
    space = mixed_space()
    with pytest.raises(SpaceError, match="enumerating the space needs a finite space, but "
                                         "rate, p take continuous values"):
        list(space)
    assert space.decode(1) == {"op": "skip", "p": 0.5}  # the middle without an rng


def test_choose_asks_continuous_decisions_for_their_value():
    space = mixed_space()
    arch = space.choose(lambda d: 0.0123 if d.label == "rate" else 0.26 if d.continuous else 0)
    assert arch == {"op": "conv", "rate": 0.0123, "p": 0.25}  # snapped to the step grid


def test_json_round_trip_keeps_the_ranges():
    space = mixed_space()
    data = json.loads(json.dumps(space.to_json()))
    assert data["size"] is None
    assert data["labels"]["rate"]["distribution"] == {"low": 1e-4, "high": 1e-1, "log": True}
    again = SearchSpace.from_json(data)
    assert again.decisions["p"].distribution == Distribution(0.0, 1.0, step=0.25)
    assert str(again).splitlines()[0] == "search space: 3 decisions, infinitely many architectures"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"low": 0.0, "high": 1.0, "log": True}, "a log range needs a positive low bound, got 0.0"),
    ({"low": 2, "high": 1}, "low must not exceed high, got 2 > 1"),
    ({"low": 0, "high": 1, "step": 0}, "step must be a positive number, got 0"),
    ({"low": 0.5, "high": 3, "integer": True}, "integer bounds must be whole numbers"),
])
def test_bad_ranges_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Distribution(**kwargs)


def test_integer_ranges_include_both_bounds():
    dist = Distribution(1, 3, integer=True)
    assert {dist.sample(random.Random(i)) for i in range(60)} == {1, 2, 3}
    assert dist.describe() == "randint(1, 3)" and dist.default() == 2
