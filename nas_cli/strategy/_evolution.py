"""Regularized (aging) evolution, as NNI's RegularizedEvolution (Real et al., 2019).

Until `population_size` results are in, it proposes random architectures (so every worker is
busy while the population fills); then it mutates the best of `sample_size` random members of
the population, and the oldest member leaves when a new one arrives. With several objectives
"best" is NSGA-II's order over the population: the lower non-domination rank, then the larger
crowding distance. A continuous value mutates by a Gaussian step (in log space for a log range).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable
from typing import Any

from nas_cli.distributions import Distribution
from nas_cli.pareto import crowding, nondominated_sort
from nas_cli.strategy._base import Score, Strategy
from nas_cli.trials import TrialState

_TRIES = 100
_STEP = 0.2  # a continuous mutation's standard deviation, as a share of the (log) range


class EvolutionStrategy(Strategy):
    name = "evolution"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.population: collections.deque[tuple[dict[str, Any], Score]] = collections.deque(
            maxlen=self.params.population_size)

    def tell(self, arch: dict[str, Any], score: Score | None, state: TrialState) -> None:
        if score is None:
            if self.params.on_failure == "ignore":
                return
            score = -math.inf if self.objectives == 1 else (-math.inf,) * self.objectives
        self.population.append((arch, score))

    def propose(self) -> dict[str, Any] | None:
        if self.exhausted:
            return None
        if len(self.population) < self.params.population_size:
            return self.random_new()
        members = list(self.population)
        better = self._order(members)
        for _ in range(_TRIES):
            sample = self.rng.sample(range(len(members)), self.params.sample_size)
            child = self.mutate(members[max(sample, key=better)][0])
            if not self.dedup or self.is_new(child):
                return self.accept(child)
        return self.random_new()

    def _order(self, members: list[tuple[dict[str, Any], Score]]) -> Callable[[int], Any]:
        """A key that is larger for a better member (by index)."""
        if self.objectives == 1:
            return lambda i: members[i][1]
        points = [score if isinstance(score, tuple) else (score,) for _, score in members]
        ranks = nondominated_sort(points)
        crowd = [0.0] * len(points)
        for rank in set(ranks):
            indices = [i for i, r in enumerate(ranks) if r == rank]
            for i, distance in zip(indices, crowding([points[i] for i in indices])):
                crowd[i] = distance
        return lambda i: (-ranks[i], crowd[i])

    def mutate(self, parent: dict[str, Any]) -> dict[str, Any]:
        """Each active decision changes with `mutation_prob` (at least one changes), to another
        candidate drawn by its prior (uniformly without one); decisions that become active get
        random values (by their priors)."""
        changed = dict(parent)
        labels = [k for k in parent if _mutable(self.space.decisions[k])]
        if not labels:
            return self.space.canonical(changed, fill=self.rng)
        forced = self.rng.choice(labels)
        for label in labels:
            if label == forced or self.rng.random() < self.params.mutation_prob:
                decision = self.space.decisions[label]
                if decision.distribution is not None:
                    changed[label] = perturb(decision.distribution, parent[label], self.rng)
                else:
                    options = [i for i, c in enumerate(decision.candidates) if c != parent[label]]
                    changed[label] = decision.candidates[decision.draw(self.rng, options)]
        return self.space.canonical(changed, fill=self.rng)


def _mutable(decision: Any) -> bool:
    if decision.distribution is not None:
        return decision.distribution.low < decision.distribution.high
    return len(decision.candidates) > 1


def perturb(distribution: Distribution, value: float, rng: Any) -> float | int:
    """A different value near `value`: a Gaussian step of `_STEP` of the range (of its log for
    a log range), reflected at the bounds, snapped to the range's grid."""
    scale = math.log if distribution.log else float
    low, high = scale(distribution.low), scale(distribution.high)
    start = (scale(value) - low) / (high - low)
    for _ in range(_TRIES):
        u = abs(start + rng.gauss(0.0, _STEP)) % 2.0
        u = 2.0 - u if u > 1.0 else u  # reflected into [0, 1]
        point = low + u * (high - low)
        new = distribution.snap(math.exp(point) if distribution.log else point)
        if new != value:
            return new
    return distribution.sample(rng)
