"""Search strategies: which architecture to try next.

| name      | NNI name              | what                                               |
|-----------|-----------------------|----------------------------------------------------|
| random    | Random                | uniform sampling, optional dedup                   |
| grid      | GridSearch            | every architecture once, seeded order              |
| evolution | RegularizedEvolution  | aging evolution: tournament + mutation             |
| tpe       | TPE                   | Optuna's TPE sampler over the decision tree        |
| rl        | PolicyBasedRL         | REINFORCE on a per-decision policy                 |
"""

from __future__ import annotations

from typing import Any

from nas_cli.strategy._base import Strategy, arch_key
from nas_cli.strategy._evolution import EvolutionStrategy
from nas_cli.strategy._grid import GridStrategy
from nas_cli.strategy._random import RandomStrategy
from nas_cli.strategy._rl import RLStrategy
from nas_cli.strategy._tpe import TPEStrategy

STRATEGIES: dict[str, type[Strategy]] = {
    "random": RandomStrategy,
    "grid": GridStrategy,
    "evolution": EvolutionStrategy,
    "tpe": TPEStrategy,
    "rl": RLStrategy,
}

__all__ = ["STRATEGIES", "EvolutionStrategy", "GridStrategy", "RLStrategy", "RandomStrategy",
           "Strategy", "TPEStrategy", "arch_key", "create"]


def create(name: str, space: Any, *, seed: int | None, dedup: bool, params: Any = None) -> Strategy:
    """The strategy called `name` (canonical name, see nas_cli.spec) over `space`."""
    return STRATEGIES[name](space, seed=seed, dedup=dedup, params=params)
