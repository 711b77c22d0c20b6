"""Searched hyperparameters join the model's space as decisions of their own; the model's
limits (NAS-Bench-101's edge budget) and NNI's label aliases stay with it."""

from __future__ import annotations

from pathlib import Path

from helpers.cli import make_spec

from nas_cli.experiment._load import with_hyperparameters
from nas_cli.space import Decision, Limit, SearchSpace
from nas_cli.spec import load_spec


def test_searched_hyperparameters_keep_the_spaces_limits_and_aliases(tmp_path: Path) -> None:
    inputs = [[0], [1], [0, 1]]
    model = SearchSpace(
        {"a": Decision("a", "input", inputs, ["0", "1", "0, 1"]),
         "b": Decision("b", "input", inputs, ["0", "1", "0, 1"])},
        {"model_1": ["a"]},
        [Limit("edges of cell 'c'", 3, {"a": [1, 1, 2], "b": [1, 1, 2]})],
    )
    assert model.size == 8  # of 9 pairs, (both, both) has 4 edges
    spec = load_spec(make_spec(tmp_path, evaluator={"kwargs": {"sleep": {"choice": [0, 0.5]}}}))
    space, labels = with_hyperparameters(spec, model)
    assert labels == {"hp/sleep": "sleep"}
    assert list(space.decisions) == ["a", "b", "hp/sleep"]
    assert space.limits == model.limits and space.aliases == model.aliases
    assert space.size == 16
