"""The strategy interface: propose architectures, learn from their results.

The engine asks `propose()` whenever a worker is free and calls `tell()` when a trial ends.
Scores are always "higher is better" (the engine negates minimized metrics): a float with one
objective, a tuple of floats (one per objective, in the spec's order) with several; a failed
trial is told with `score=None`. `restore()` replays a stored history on `nas resume`.
"""

from __future__ import annotations

import json
import random
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar, Protocol

from nas_cli.errors import SpecError
from nas_cli.space import SearchSpace
from nas_cli.trials import TrialState

_WALK_BELOW = 1_000_000

Score = float | tuple[float, ...]


class Proposer(Protocol):
    """What the engine's loop asks of whatever proposes its trials (a Strategy, or a one-shot
    phase's fixed list): the next architecture (None: no more), and what became of each."""

    def propose(self) -> dict[str, Any] | None: ...
    def tell(self, arch: dict[str, Any], score: Score | None, state: TrialState) -> None: ...
    def infeasible(self, arch: dict[str, Any], excess: float) -> None: ...


def arch_key(arch: dict[str, Any]) -> str:
    """A canonical text key for an architecture (for dedup sets)."""
    return json.dumps(arch, sort_keys=True)


class Strategy(ABC):
    """Base of every search strategy."""

    name: ClassVar[str]
    continuous: ClassVar[bool] = True       # samples continuous ranges (a learning rate)
    multi_objective: ClassVar[bool] = True  # learns from several objectives (tuple scores)

    def __init__(self, space: SearchSpace, *, seed: int | None = None, dedup: bool = True,
                 params: Any = None, objectives: int = 1):
        self.check(space, objectives)
        self.space = space
        self.seed = seed
        self.dedup = dedup
        self.objectives = objectives
        if params is None:  # the strategy's defaults (used directly, e.g. by benchmarks)
            from nas_cli.spec import STRATEGY_PARAMS

            params = STRATEGY_PARAMS[self.name]()
        self.params = params
        self.rng = random.Random(seed)
        self.proposed: set[str] = set()

    @abstractmethod
    def propose(self) -> dict[str, Any] | None:
        """The next architecture to try, or None when there is nothing left to propose."""

    @classmethod
    def check(cls, space: SearchSpace, objectives: int = 1) -> None:
        """Refuse, in one line and before anything runs, what this strategy cannot search."""
        if space.continuous and not cls.continuous:
            labels = ", ".join(space.continuous)
            raise SpecError(f"strategy.name: {cls.name} needs a finite space, but {labels} "
                            "take continuous values; search them with {choice: [...]}, or use "
                            "strategy random, tpe, evolution or nsga2")
        if objectives > 1 and not cls.multi_objective:
            raise SpecError(f"strategy.name: {cls.name} optimizes one objective, the spec has "
                            f"{objectives}; use nsga2, evolution, tpe or random")

    def tell(self, arch: dict[str, Any], score: Score | None, state: TrialState) -> None:
        """A trial ended: `score` (higher is better; a tuple with several objectives) or
        None when it failed."""

    def infeasible(self, arch: dict[str, Any], excess: float) -> None:
        """`arch` breaks the constraints (by `excess` > 0, relative) and is never trained;
        by default it is told as a failure."""
        self.tell(arch, None, TrialState.FAILED)

    def restore(self, history: Iterable[tuple[dict[str, Any], Score | None, TrialState]]) -> None:
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
