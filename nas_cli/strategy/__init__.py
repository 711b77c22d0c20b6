"""Search strategies: which architecture to try next.

| name      | what                                               |
|-----------|----------------------------------------------------|
| random    | uniform sampling, optional dedup                   |
| grid      | every architecture once, seeded order              |
| evolution | aging evolution: tournament + mutation             |
| tpe       | Optuna's TPE sampler over the decision tree        |
| rl        | policy gradient on a per-decision policy           |
| nsga2     | Optuna's NSGA-II sampler (several objectives)      |

Every strategy but grid and rl also samples continuous ranges; every one but rl also learns
from several objectives (a Pareto front). The names a spec accepts (NNI's too) are listed
once, in `nas_cli.spec.STRATEGY_TABLE`; `STRATEGIES` maps the multi-trial ones to their class.
"""

from __future__ import annotations

from typing import Any

from nas_cli.strategy._base import Proposer, Score, Strategy, arch_key
from nas_cli.strategy._evolution import EvolutionStrategy
from nas_cli.strategy._grid import GridStrategy
from nas_cli.strategy._nsga2 import NSGA2Strategy
from nas_cli.strategy._random import RandomStrategy
from nas_cli.strategy._rl import RLStrategy
from nas_cli.strategy._tpe import TPEStrategy

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (
    RandomStrategy, GridStrategy, EvolutionStrategy, TPEStrategy, RLStrategy, NSGA2Strategy)}

__all__ = ["STRATEGIES", "EvolutionStrategy", "GridStrategy", "NSGA2Strategy", "Proposer",
           "RLStrategy", "RandomStrategy", "Score", "Strategy", "TPEStrategy", "arch_key", "create"]


def create(name: str, space: Any, *, seed: int | None, dedup: bool, params: Any = None,
           objectives: int = 1) -> Strategy:
    """The strategy called `name` (canonical name, see nas_cli.spec) over `space`, told
    `objectives` values per trial (a tuple when more than one)."""
    return STRATEGIES[name](space, seed=seed, dedup=dedup, params=params, objectives=objectives)
