"""The strategy interface: propose architectures, learn from their results.

The engine asks `propose()` whenever a worker is free and calls `tell()` when a trial ends.
Scores are always "higher is better" (the engine negates minimized metrics); a failed trial
is told with `score=None`. `restore()` replays a stored history on `nas resume`.
"""

from __future__ import annotations

import json
import random
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

from nas_cli.space import SearchSpace
from nas_cli.trials import TrialState

_WALK_BELOW = 1_000_000


def arch_key(arch: dict[str, Any]) -> str:
    """A canonical text key for an architecture (for dedup sets)."""
    return json.dumps(arch, sort_keys=True)


class Strategy(ABC):
    """Base of every search strategy."""

    name: ClassVar[str]

    def __init__(self, space: SearchSpace, *, seed: int | None = None, dedup: bool = True,
                 params: Any = None):
        self.space = space
        self.seed = seed
        self.dedup = dedup
        if params is None:  # the strategy's defaults (used directly, e.g. by benchmarks)
            from nas_cli.spec import STRATEGY_PARAMS

            params = STRATEGY_PARAMS[self.name]()
        self.params = params
        self.rng = random.Random(seed)
        self.proposed: set[str] = set()

    @abstractmethod
    def propose(self) -> dict[str, Any] | None:
        """The next architecture to try, or None when there is nothing left to propose."""

    def tell(self, arch: dict[str, Any], score: float | None, state: TrialState) -> None:
        """A trial ended: `score` (higher is better) or None when it failed."""

    def restore(self, history: Iterable[tuple[dict[str, Any], float | None, TrialState]]) -> None:
        """Replay finished trials (after `nas resume`) so the search continues, not restarts."""
        for arch, score, state in history:
            self.mark(arch)
            self.tell(arch, score, state)

    # --- helpers for implementations -----------------------------------------------------------
    def mark(self, arch: dict[str, Any]) -> None:
        self.proposed.add(arch_key(arch))

    def is_new(self, arch: dict[str, Any]) -> bool:
        return arch_key(arch) not in self.proposed

    @property
    def exhausted(self) -> bool:
        return self.dedup and len(self.proposed) >= self.space.size

    def accept(self, arch: dict[str, Any]) -> dict[str, Any]:
        self.mark(arch)
        return arch

    def random_new(self, tries: int = 100) -> dict[str, Any] | None:
        """A uniformly random architecture not proposed yet (any, without dedup); when random
        draws keep hitting proposed ones, walk the space for what is left."""
        for _ in range(tries):
            arch = self.space.sample(self.rng)
            if not self.dedup or self.is_new(arch):
                return self.accept(arch)
        if self.space.size <= _WALK_BELOW:
            for arch in self.space:
                if self.is_new(arch):
                    return self.accept(arch)
        return None
