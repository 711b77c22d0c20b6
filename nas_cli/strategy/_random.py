"""Random search (NNI's Random): uniform over architectures, optionally never repeating; a
decision with a prior takes its values with the prior's probabilities."""

from __future__ import annotations

from typing import Any

from nas_cli.strategy._base import Strategy

_PERMUTE_BELOW = 200_000  # small spaces: walk a shuffled list of indices, no rejection


class RandomStrategy(Strategy):
    """Uniform random architectures; with `dedup`, each at most once, ending when exhausted."""

    name = "random"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._order: list[int] | None = None

    def propose(self) -> dict[str, Any] | None:
        if not self.dedup:
            return self.accept(self.space.sample(self.rng))
        if self.exhausted:
            return None
        if self.space.size <= _PERMUTE_BELOW and not self.space.weighted:
            if self._order is None:
                self._order = list(range(self.space.count))  # finite: count is its size
                self.rng.shuffle(self._order)
            while self._order:
                arch = self.space.decode(self._order.pop())
                if self.is_new(arch):
                    return self.accept(arch)
            return None
        return self.random_new(tries=1000)
