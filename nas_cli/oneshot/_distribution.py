"""The distribution over architectures that DARTS, Gumbel DARTS, ProxylessNAS and ENAS learn:
one categorical distribution per decision label over that decision's candidates (its logits
are the label's architecture parameters; modules that share a label share them).

An architecture's probability is the product, over its active decisions, of the probability
of the value it takes: a decision nested in a candidate that is not chosen does not count.

    dist = ArchDistribution(space)
    dist.derived()           # the most probable value of every active decision
    dist.top(5)              # the 5 most probable architectures, with their probabilities
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class _Stop(Exception):
    """Raised inside `SearchSpace.choose` at the first decision a prefix does not cover."""

    def __init__(self, label: str):
        self.label = label


class ArchDistribution(nn.Module):
    """Logits per decision of `space` (zeros: uniform)."""

    def __init__(self, space: Any):
        super().__init__()
        self.space = space
        self.labels = list(space.decisions)
        self.logits = nn.ParameterList(
            nn.Parameter(torch.zeros(len(space.decisions[label].candidates)))
            for label in self.labels)
        self._index = {label: i for i, label in enumerate(self.labels)}

    def logits_of(self, label: str) -> torch.Tensor:
        return self.logits[self._index[label]]

    def probs(self) -> dict[str, torch.Tensor]:
        """Each label's probabilities (differentiable)."""
        return {label: F.softmax(logits, dim=-1) for label, logits in zip(self.labels, self.logits)}

    def indices(self, arch: Mapping[str, Any]) -> dict[str, int]:
        """The candidate index of each (active) label of `arch`."""
        return {label: self.space.decisions[label].index_of(value) for label, value in arch.items()}

    def arch_of(self, indices: Mapping[str, int]) -> dict[str, Any]:
        """The architecture that takes `indices[label]` at each active decision."""
        return self.space.choose(lambda decision: indices[decision.label])

    # --- what the distribution says ------------------------------------------------------------
    def derived(self) -> dict[str, Any]:
        """The architecture of the most probable value of each active decision (an InputChoice
        of k inputs: its most probable set of k)."""
        with torch.no_grad():
            return self.arch_of({label: int(logits.argmax()) for label, logits
                                 in zip(self.labels, self.logits)})

    def draw(self) -> dict[str, int]:
        """A candidate index for every label (active or not), drawn from the distribution."""
        with torch.no_grad():
            return {label: int(torch.multinomial(F.softmax(logits, -1), 1))
                    for label, logits in zip(self.labels, self.logits)}

    def sample(self) -> dict[str, Any]:
        """An architecture drawn from the distribution."""
        return self.arch_of(self.draw())

    def log_prob(self, arch: Mapping[str, Any]) -> torch.Tensor:
        """log P(arch): the sum over its active decisions (differentiable)."""
        total = self.logits[0].new_zeros(())
        for label, index in self.indices(arch).items():
            total = total + F.log_softmax(self.logits_of(label), -1)[index]
        return total

    def probability(self, arch: Mapping[str, Any]) -> float:
        with torch.no_grad():
            return math.exp(float(self.log_prob(arch)))

    def entropy(self) -> torch.Tensor:
        """The summed entropy of every decision's distribution (differentiable)."""
        total = self.logits[0].new_zeros(())
        for logits in self.logits:
            total = total - (F.softmax(logits, -1) * F.log_softmax(logits, -1)).sum()
        return total

    def snapshot(self) -> dict[str, list[float]]:
        """The probabilities per label, as plain numbers (for the history and the report)."""
        with torch.no_grad():
            return {label: [round(float(p), 5) for p in F.softmax(logits, -1)]
                    for label, logits in zip(self.labels, self.logits)}

    def top(self, k: int, *, budget: int = 20000) -> list[tuple[dict[str, Any], float]]:
        """The `k` most probable architectures, most probable first, with their probabilities.

        Best-first over the decisions in the space's order: a partial architecture is ranked by
        its probability so far times, for each later decision that is always active, that
        decision's largest probability (an upper bound of any completion), deeper ones first
        on ties. At most `budget` partial architectures are expanded (then fewer may come)."""
        with torch.no_grad():
            probs = {label: F.softmax(logits, -1).tolist()
                     for label, logits in zip(self.labels, self.logits)}
        order = [d.label for d in self.space._order]
        bound_after = [1.0] * (len(order) + 1)  # product of the always-active maxima after i
        for i in range(len(order) - 1, -1, -1):
            decision = self.space.decisions[order[i]]
            bound_after[i] = bound_after[i + 1] * (max(probs[order[i]]) if not decision.when
                                                   else 1.0)
        position = {label: i for i, label in enumerate(order)}
        found: list[tuple[dict[str, Any], float]] = []
        seen: set[str] = set()
        heap: list[tuple[float, int, int, tuple[int, ...], float]] = [(-bound_after[0], 0, 0, (), 1.0)]
        counter = 0
        while heap and len(found) < k and budget > 0:
            budget -= 1
            _, _, _, prefix, prob = heapq.heappop(heap)
            arch, label = self._extend(prefix)
            if label is None:
                key = repr(sorted(arch.items()))
                if key not in seen:
                    seen.add(key)
                    found.append((arch, prob))
                continue
            for index, p in enumerate(probs[label]):
                counter += 1
                bound = prob * p * bound_after[position[label] + 1]
                heapq.heappush(heap, (-bound, -len(prefix) - 1, counter, (*prefix, index),
                                      prob * p))
        return found

    def _extend(self, prefix: tuple[int, ...]) -> tuple[dict[str, Any], str | None]:
        """(the architecture, None) when `prefix` picks every active decision, else ({}, the
        label of the first decision it does not cover)."""
        picks = iter(prefix)

        def pick(decision: Any) -> int:
            try:
                return next(picks)
            except StopIteration:
                raise _Stop(decision.label) from None

        try:
            return self.space.choose(pick), None
        except _Stop as stop:
            return {}, stop.label
