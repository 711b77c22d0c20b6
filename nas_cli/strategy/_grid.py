"""Grid search (NNI's GridSearch): every architecture once, in an order fixed by the seed."""

from __future__ import annotations

import math
import random
from typing import Any

from nas_cli.strategy._base import Strategy

_SHUFFLE_BELOW = 1_000_000


class GridStrategy(Strategy):
    """Enumerates the space exactly once. With a seed the order is a seeded permutation
    (a shuffle for small spaces, an affine permutation i -> (a*i + b) mod N for huge ones)."""

    name = "grid"
    continuous = False  # enumerates: a continuous range has no end

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.dedup = True
        self._next = 0
        size = self.space.count  # a grid's space is discrete: its size
        self._order: list[int] | None = None
        self._affine = (1, 0)
        if self.seed is not None and size > 1:
            rng = random.Random(self.seed)
            if size <= _SHUFFLE_BELOW:
                self._order = list(range(size))
                rng.shuffle(self._order)
            else:
                a = rng.randrange(1, size)
                while math.gcd(a, size) != 1:
                    a = rng.randrange(1, size)
                self._affine = (a, rng.randrange(size))

    def _index(self, position: int) -> int:
        if self._order is not None:
            return self._order[position]
        a, b = self._affine
        return (a * position + b) % self.space.count

    def propose(self) -> dict[str, Any] | None:
        while self._next < self.space.size:
            arch = self.space.decode(self._index(self._next))
            self._next += 1
            if self.is_new(arch):  # skips architectures restored from a resumed run
                return self.accept(arch)
        return None
