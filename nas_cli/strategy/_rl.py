"""Policy-gradient RL (REINFORCE with rank-based advantages), in the spirit of NNI's
PolicyBasedRL, tuned for NAS budgets of a few hundred trials.

The policy holds one vector of logits per decision; an architecture is sampled by walking the
decision tree. Every `samples_per_update` results, it takes a gradient step on the mean of
advantage x log-probability over the latest `window` results, where an architecture's advantage
is its rank among them, centred: from -1/2 (the worst) to +1/2 (the best). Ranks rather than
raw rewards make the step independent of the metric's scale and of outliers (a diverged
trial at 10% accuracy would otherwise set every other advantage), and a short window is a
baseline that moves with the policy. A failed or pruned trial ranks below every result.

Plain Python: the policy is a few small vectors (no torch in the driver).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from nas_cli.strategy._base import Score, Strategy
from nas_cli.trials import TrialState

_TRIES = 100


class RLStrategy(Strategy):
    name = "rl"
    continuous = False       # one logit per candidate
    multi_objective = False  # one reward

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.logits = {label: [0.0] * len(d.candidates) for label, d in self.space.decisions.items()}
        self.recent: deque[tuple[dict[str, Any], float]] = deque(maxlen=self.params.window)
        self.told = 0
        self._refresh()

    def _refresh(self) -> None:
        """The policy's probabilities (softmax of each decision's logits)."""
        self.probs = {label: _softmax(logits) for label, logits in self.logits.items()}

    def _sample(self) -> dict[str, Any]:
        """An architecture drawn from the policy."""

        def pick(decision: Any) -> int:
            weights = self.probs[decision.label]
            return self.rng.choices(range(len(weights)), weights=weights)[0]

        return self.space.choose(pick)

    def propose(self) -> dict[str, Any] | None:
        if self.exhausted:
            return None
        for _ in range(_TRIES):
            arch = self._sample()
            if not self.dedup or self.is_new(arch):
                return self.accept(arch)
        return self.random_new()

    def tell(self, arch: dict[str, Any], score: Score | None, state: TrialState) -> None:
        if isinstance(score, tuple):  # check() refuses several objectives
            raise TypeError("rl learns from one objective, not a tuple of values")
        self.recent.append((arch, -math.inf if score is None else score))
        self.told += 1
        if self.told % self.params.samples_per_update == 0:
            self._update()

    def _update(self) -> None:
        """One ascent step on mean(advantage x log pi(arch)) + entropy_weight x entropy."""
        if len(self.recent) < 2:
            return
        advantages = _centred_ranks([score for _, score in self.recent])
        step = self.params.learning_rate / len(self.recent)
        gradient = {label: [0.0] * len(logits) for label, logits in self.logits.items()}
        for (arch, _), advantage in zip(self.recent, advantages):
            if advantage == 0.0:
                continue
            for label, value in arch.items():
                chosen = self.space.decisions[label].index_of(value)
                row = gradient[label]
                for index, p in enumerate(self.probs[label]):  # d log p(chosen) / d logit
                    row[index] += advantage * ((index == chosen) - p)
        weight = self.params.entropy_weight
        for label, logits in self.logits.items():
            probs = self.probs[label]
            if weight:
                entropy = -sum(p * math.log(p) for p in probs if p > 0)
                bonus = [weight * -p * (math.log(p) + entropy) if p > 0 else 0.0 for p in probs]
            else:
                bonus = [0.0] * len(probs)
            for index in range(len(logits)):
                logits[index] += step * gradient[label][index] + self.params.learning_rate * \
                    bonus[index]
        self._refresh()


def _softmax(logits: list[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(x - top) for x in logits]
    total = sum(exps)
    return [e / total for e in exps]


def _centred_ranks(scores: list[float]) -> list[float]:
    """Each score's rank among `scores` (ties share their mean rank), mapped to [-1/2, 1/2]."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2
        start = end + 1
    last = len(scores) - 1
    return [rank / last - 0.5 for rank in ranks]
