"""Small model spaces for strategy tests: flat, nested and wide.

| space    | decisions                                          | size    |
|----------|----------------------------------------------------|---------|
| `Tiny`   | hidden (value: 4, 8, 16), act (layer: 2)           | 6       |
| `Nested` | op (layer: linear, bottleneck), inner (value: 2, 3; only in bottleneck), act (layer: 3) | 9 |
| `Wide`   | p0..p7 (value: 5 dropout rates each)               | 390,625 |
| `Fixed`  | none: one architecture, `{}`                       | 1       |

`mixed()`: Nested plus three searched hyperparameters, as a spec's distributions make them:
`hp/lr` loguniform(1e-4, 0.1), `hp/momentum` uniform(0, 1), `hp/epochs` randint(1, 5).
"""

from __future__ import annotations

import torch

import nas_cli.nn as nn
from helpers.tiny import Tiny
from nas_cli import model_wrapper, search_space
from nas_cli.space import SearchSpace

__all__ = ["SPACES", "Fixed", "Nested", "Tiny", "Wide", "mixed", "space"]


@model_wrapper
class Nested(nn.Module):
    """op: Linear(4, 4) | Linear(4, inner) -> ReLU -> Linear(inner, 4); then act."""

    def __init__(self):
        super().__init__()
        inner = nn.ValueChoice([2, 3], label="inner")
        self.op = nn.LayerChoice({
            "linear": nn.Linear(4, 4),
            "bottleneck": nn.Sequential(nn.Linear(4, inner), nn.ReLU(), nn.Linear(inner, 4)),
        }, label="op")
        self.act = nn.LayerChoice([nn.ReLU(), nn.Tanh(), nn.Identity()], label="act")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.op(x))


@model_wrapper
class Wide(nn.Module):
    """Eight dropout layers, each with its own rate: too many architectures to enumerate."""

    def __init__(self):
        super().__init__()
        rates = [0.0, 0.1, 0.2, 0.3, 0.4]
        self.drops = nn.Sequential(*[nn.Dropout(nn.ValueChoice(rates, label=f"p{i}"))
                                     for i in range(8)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drops(x)


@model_wrapper
class Fixed(nn.Module):
    """No decision at all: a space of one architecture."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


SPACES = {"tiny": Tiny, "nested": Nested, "wide": Wide, "fixed": Fixed}


def space(name: str) -> SearchSpace:
    """The discovered search space of `SPACES[name]`."""
    return search_space(SPACES[name])


def mixed() -> SearchSpace:
    """Nested's decisions and three continuous ranges (infinitely many architectures)."""
    from nas_cli.distributions import Distribution
    from nas_cli.space._discover import Decision

    ranges = {"hp/lr": Distribution(1e-4, 0.1, log=True), "hp/momentum": Distribution(0.0, 1.0),
              "hp/epochs": Distribution(1, 5, integer=True)}
    decisions = dict(space("nested").decisions)
    decisions.update({label: Decision(label, "hp", [], [], distribution=d)
                      for label, d in ranges.items()})
    return SearchSpace(decisions)
