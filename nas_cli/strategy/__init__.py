"""Search strategies: which architecture to try next.

| name      | NNI name              | what                                        |
|-----------|-----------------------|---------------------------------------------|
| random    | Random                | uniform sampling, optional dedup            |
| grid      | GridSearch            | every architecture once, seeded order       |
"""

from __future__ import annotations

from typing import Any

from nas_cli.strategy._base import Strategy, arch_key
from nas_cli.strategy._grid import GridStrategy
from nas_cli.strategy._random import RandomStrategy

STRATEGIES: dict[str, type[Strategy]] = {
    "random": RandomStrategy,
    "grid": GridStrategy,
}

__all__ = ["STRATEGIES", "GridStrategy", "RandomStrategy", "Strategy", "arch_key", "create"]


def create(name: str, space: Any, *, seed: int | None, dedup: bool, params: Any = None) -> Strategy:
    """The strategy called `name` (canonical name, see nas_cli.spec) over `space`."""
    return STRATEGIES[name](space, seed=seed, dedup=dedup, params=params)
