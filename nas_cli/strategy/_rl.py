"""Policy-gradient RL (REINFORCE), in the spirit of NNI's PolicyBasedRL.

The policy holds one vector of logits per decision; an architecture is sampled by walking the
decision tree. Every `samples_per_update` results it takes a REINFORCE step on
(reward - moving-average baseline) / spread, with an entropy bonus. Written in torch.
"""

from __future__ import annotations

from typing import Any

from nas_cli.strategy._base import Strategy
from nas_cli.trials import TrialState

_TRIES = 100


class RLStrategy(Strategy):
    name = "rl"
    continuous = False       # one logit per candidate
    multi_objective = False  # one reward

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        import torch

        self.logits = {label: torch.zeros(len(d.candidates), requires_grad=True)
                       for label, d in self.space.decisions.items()}
        params = list(self.logits.values())  # a space without decisions has nothing to learn
        self.optimizer = torch.optim.Adam(params, lr=self.params.learning_rate) if params else None
        self.batch: list[tuple[dict[str, Any], float]] = []
        self.baseline: float | None = None
        self.spread: float | None = None  # the reward scale; set by the first batch that varies
        self.worst: float | None = None
        self._refresh()

    def _refresh(self) -> None:
        """The policy's probabilities as plain lists (sampling then needs no torch)."""
        import torch

        self.probs = {label: torch.softmax(t.detach(), 0).tolist() for label, t in self.logits.items()}

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

    def tell(self, arch: dict[str, Any], score: float | None, state: TrialState) -> None:
        if score is None:  # a failure is as bad as the worst result seen
            if self.worst is None:
                return
            score = self.worst
        self.worst = score if self.worst is None else min(self.worst, score)
        self.batch.append((arch, score))
        if len(self.batch) >= self.params.samples_per_update:
            self._update()

    def _update(self) -> None:
        import torch

        if self.optimizer is None:
            self.batch = []
            return

        rewards = [score for _, score in self.batch]
        mean = sum(rewards) / len(rewards)
        if self.baseline is None:
            self.baseline = mean
        decay = self.params.baseline_decay
        # Half the batch's range; a batch without one (a single result, equal rewards) measures
        # its distance to the baseline instead.
        spread = (max(rewards) - min(rewards)) / 2 or max(abs(r - self.baseline) for r in rewards)
        if spread > 0:
            self.spread = spread if self.spread is None else \
                decay * self.spread + (1 - decay) * spread
        scale = self.spread or 1.0  # no spread yet: every advantage is 0 anyway
        loss = torch.zeros(())
        for arch, reward in self.batch:
            advantage = (reward - self.baseline) / scale
            log_prob = torch.zeros(())
            for label, value in arch.items():
                index = self.space.decisions[label].index_of(value)
                log_prob = log_prob + torch.log_softmax(self.logits[label], dim=0)[index]
            loss = loss - advantage * log_prob
        entropy = sum(-(torch.softmax(t, 0) * torch.log_softmax(t, 0)).sum()
                      for t in self.logits.values())
        loss = loss / len(self.batch) - self.params.entropy_weight * entropy
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.baseline = decay * self.baseline + (1 - decay) * mean
        self.batch = []
        self._refresh()
