"""Search strategies: which architecture to try next.

| name      | NNI name              | what                                               |
|-----------|-----------------------|----------------------------------------------------|
| random    | Random                | uniform sampling, optional dedup                   |
| grid      | GridSearch            | every architecture once, seeded order              |
| evolution | RegularizedEvolution  | aging evolution: tournament + mutation             |
| tpe       | TPE                   | Optuna's TPE sampler over the decision tree        |
| rl        | PolicyBasedRL         | REINFORCE on a per-decision policy                 |
| nsga2     | -                     | Optuna's NSGA-II sampler (several objectives)      |

Every strategy but grid and rl also samples continuous ranges; every one but rl also learns
from several objectives (a Pareto front).
"""

from __future__ import annotations

from typing import Any

from nas_cli.strategy._base import Strategy, arch_key
from nas_cli.strategy._evolution import EvolutionStrategy
from nas_cli.strategy._grid import GridStrategy
from nas_cli.strategy._nsga2 import NSGA2Strategy
from nas_cli.strategy._random import RandomStrategy
from nas_cli.strategy._rl import RLStrategy
from nas_cli.strategy._tpe import TPEStrategy

STRATEGIES: dict[str, type[Strategy]] = {
    "random": RandomStrategy,
    "grid": GridStrategy,
    "evolution": EvolutionStrategy,
    "tpe": TPEStrategy,
    "rl": RLStrategy,
    "nsga2": NSGA2Strategy,
}

__all__ = ["STRATEGIES", "EvolutionStrategy", "GridStrategy", "NSGA2Strategy", "RLStrategy",
           "RandomStrategy", "Strategy", "TPEStrategy", "arch_key", "create"]


def create(name: str, space: Any, *, seed: int | None, dedup: bool, params: Any = None,
           objectives: int = 1) -> Strategy:
    """The strategy called `name` (canonical name, see nas_cli.spec) over `space`, told
    `objectives` values per trial (a tuple when more than one)."""
    return STRATEGIES[name](space, seed=seed, dedup=dedup, params=params, objectives=objectives)
