"""Random search and evolution honour a decision's prior (NNI's `prior=`)."""

from __future__ import annotations

import collections

import pytest

import nas_cli.nn as nn
from nas_cli import model_wrapper, search_space
from nas_cli.spec import STRATEGY_PARAMS
from nas_cli.strategy import EvolutionStrategy, RandomStrategy
from nas_cli.trials import TrialState


@model_wrapper
class Skewed(nn.Module):
    """`k` favours its last candidate (prior 0.1/0.1/0.2/0.6); `w` has no prior."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, nn.ValueChoice([2, 4, 6, 8], label="w"),
                              nn.ValueChoice([1, 3, 5, 7], prior=[0.1, 0.1, 0.2, 0.6], label="k"))


def test_random_search_draws_by_the_prior_without_dedup():
    strategy = RandomStrategy(search_space(Skewed), seed=0, dedup=False)
    archs = [strategy.propose() for _ in range(3000)]
    ks = collections.Counter(a["k"] for a in archs)
    assert [ks[k] / 3000 for k in (1, 3, 5, 7)] == pytest.approx([0.1, 0.1, 0.2, 0.6], abs=0.03)
    ws = collections.Counter(a["w"] for a in archs)
    assert all(ws[w] / 3000 == pytest.approx(0.25, abs=0.03) for w in (2, 4, 6, 8))


def test_random_search_with_dedup_still_uses_up_a_weighted_space():
    strategy = RandomStrategy(search_space(Skewed), seed=1)
    archs = [strategy.propose() for _ in range(16)]
    assert len({(a["w"], a["k"]) for a in archs}) == 16 and strategy.propose() is None
    early = collections.Counter(a["k"] for a in archs[:4])
    assert early[7] >= 1  # the favoured candidate comes early


def test_evolution_mutates_towards_candidates_by_their_prior():
    params = STRATEGY_PARAMS["evolution"](population_size=2, sample_size=2, mutation_prob=0.0)
    strategy = EvolutionStrategy(search_space(Skewed), seed=0, dedup=False, params=params)
    parent = {"w": 2, "k": 1}
    counts = collections.Counter()
    for _ in range(3000):
        child = strategy.mutate(parent)
        if child["k"] != 1:
            counts[child["k"]] += 1
    total = sum(counts.values())
    assert total > 1000  # half the mutations change k (one forced change among two labels)
    # renormalized over the other candidates: 0.1, 0.2, 0.6 -> 1/9, 2/9, 6/9
    assert [counts[k] / total for k in (3, 5, 7)] == pytest.approx([1 / 9, 2 / 9, 6 / 9], abs=0.04)
    strategy.tell(parent, 1.0, TrialState.COMPLETE)
