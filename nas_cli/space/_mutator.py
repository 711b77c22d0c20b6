"""Custom mutators: user code that changes a built model through recorded choices."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

Sampler = Callable[[str, list[Any]], int]


class Mutator:
    """Subclass it and override `mutate(model)`; call `self.choice(candidates)` inside.

    Each call is one decision, recorded under `label/0`, `label/1`, ... (the label defaults to
    the class name); the architecture records the index of the chosen candidate.

    >>> class Width(Mutator):
    ...     def mutate(self, model):
    ...         model.fc = nn.Linear(64, self.choice([10, 20]))
    """

    _nas_sampler: Sampler | None = None  # set while `apply` runs
    _nas_count: int = 0

    def __init__(self, label: str | None = None):
        self.label = label

    def mutate(self, model: nn.Module) -> nn.Module | None:
        raise NotImplementedError(f"{type(self).__name__} must override mutate(self, model)")

    def choice(self, candidates: Sequence[Any]) -> Any:
        """One decision among `candidates`; returns the chosen candidate."""
        candidates = list(candidates)
        sampler = getattr(self, "_nas_sampler", None)
        if sampler is None:
            raise RuntimeError("Mutator.choice() is only valid inside mutate()")
        index = self._nas_count
        self._nas_count += 1
        return candidates[sampler(f"{self.full_label}/{index}", candidates)]

    @property
    def full_label(self) -> str:
        return getattr(self, "label", None) or type(self).__name__

    def apply(self, model: nn.Module, sampler: Sampler) -> nn.Module:
        """Run `mutate` on `model` with `sampler(label, candidates) -> index` deciding."""
        self._nas_sampler, self._nas_count = sampler, 0
        try:
            result = self.mutate(model)
        finally:
            self._nas_sampler = None
        return model if result is None else result
