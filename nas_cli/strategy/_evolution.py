"""Regularized (aging) evolution, as NNI's RegularizedEvolution (Real et al., 2019).

Until `population_size` results are in, it proposes random architectures (so every worker is
busy while the population fills); then it mutates the best of `sample_size` random members of
the population, and the oldest member leaves when a new one arrives.
"""

from __future__ import annotations

import collections
from typing import Any

from nas_cli.strategy._base import Strategy
from nas_cli.trials import TrialState

_TRIES = 100


class EvolutionStrategy(Strategy):
    name = "evolution"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.population: collections.deque[tuple[dict[str, Any], float]] = collections.deque(
            maxlen=self.params.population_size)

    def tell(self, arch: dict[str, Any], score: float | None, state: TrialState) -> None:
        if score is None:
            if self.params.on_failure == "ignore":
                return
            score = float("-inf")
        self.population.append((arch, score))

    def propose(self) -> dict[str, Any] | None:
        if self.exhausted:
            return None
        if len(self.population) < self.params.population_size:
            return self.random_new()
        for _ in range(_TRIES):
            sample = self.rng.sample(list(self.population), self.params.sample_size)
            parent = max(sample, key=lambda member: member[1])[0]
            child = self.mutate(parent)
            if not self.dedup or self.is_new(child):
                return self.accept(child)
        return self.random_new()

    def mutate(self, parent: dict[str, Any]) -> dict[str, Any]:
        """Each active decision changes with `mutation_prob` (at least one changes), to another
        candidate drawn by its prior (uniformly without one); decisions that become active get
        random values (by their priors)."""
        changed = dict(parent)
        labels = [k for k in parent if len(self.space.decisions[k].candidates) > 1]
        if not labels:
            return self.space.canonical(changed, fill=self.rng)
        forced = self.rng.choice(labels)
        for label in labels:
            if label == forced or self.rng.random() < self.params.mutation_prob:
                decision = self.space.decisions[label]
                options = [i for i, c in enumerate(decision.candidates) if c != parent[label]]
                changed[label] = decision.candidates[decision.draw(self.rng, options)]
        return self.space.canonical(changed, fill=self.rng)
