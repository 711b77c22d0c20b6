"""Tiny model spaces and function evaluators for end-to-end tests.

Specs name this file by its absolute path (`module: /.../tests/helpers/tiny.py`), so it is
imported by path and pickled by value to the workers, like a user's script.

`Tiny` has 6 architectures: hidden in {4, 8, 16} x act in {0 (ReLU), 1 (Tanh)}.
`evaluate` scores an architecture `hidden + 0.5 * act` (distinct for every architecture) and
reports `loss = 100 - score`, so the best one is known whichever the mode.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper, report_intermediate_result

ARCHS = [{"hidden": h, "act": a} for h in (4, 8, 16) for a in (0, 1)]


@model_wrapper
class Tiny(nn.Module):
    """Linear(4, hidden) -> ReLU | Tanh -> Linear(hidden, 1)."""

    def __init__(self, inputs: int = 4):
        super().__init__()
        hidden = nn.ValueChoice([4, 8, 16], label="hidden")
        self.fc1 = nn.Linear(inputs, hidden)
        self.act = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="act")
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class NotWrapped(nn.Module):
    """A model space someone forgot to decorate with @model_wrapper."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, nn.ValueChoice([2, 3], label="width"))


def score_of(arch: dict[str, Any]) -> float:
    return arch["hidden"] + 0.5 * arch["act"]


def _matches(arch: dict[str, Any], when: dict[str, Any] | None) -> bool:
    return when is not None and all(arch.get(k) == v for k, v in when.items())


def evaluate(model: torch.nn.Module, arch: dict[str, Any], fail_when: dict | None = None,
             sleep: float = 0.0, sleep_when: dict | None = None,
             kill_when: dict | None = None) -> dict[str, float]:
    """One forward pass, one intermediate report; raises for `fail_when` architectures, kills
    its own process (SIGKILL, as the OOM killer does) for `kill_when` ones, and sleeps `sleep`
    seconds (for every architecture, or only `sleep_when` ones)."""
    with torch.no_grad():
        out = model(torch.ones(2, 4))
    assert out.shape == (2, 1)
    print(f"evaluating {arch}")
    score = score_of(arch)
    report_intermediate_result(score / 2)
    if _matches(arch, fail_when):
        raise ValueError(f"hidden={arch['hidden']} diverged")
    if _matches(arch, kill_when):
        os.kill(os.getpid(), signal.SIGKILL)
    if sleep and (sleep_when is None or _matches(arch, sleep_when)):
        time.sleep(sleep)
    return {"default": score, "score": score, "loss": 100.0 - score}


def forward_once(model: torch.nn.Module) -> float:
    """The cheapest evaluator: one forward pass of the frozen model (for benchmarks)."""
    with torch.no_grad():
        return float(model(torch.ones(2, 4)).sum())


def constant(model):
    """An evaluator that takes no keyword argument at all."""
    return 1.0


def evaluate_on_node(model: torch.nn.Module, arch: dict[str, Any], markers: str,
                     steps: int = 6) -> dict[str, float]:
    """For cluster tests: leaves `start-<node>-<token>` in the `markers` folder (node: the
    worker's NAS_TEST_NODE, or "head"), prints where it runs, reports `steps` times 0.25 s
    apart, then leaves `done-<node>-<token>`; both hold the architecture as JSON."""
    import json
    import tempfile
    import uuid
    from pathlib import Path

    node, token = os.environ.get("NAS_TEST_NODE", "head"), uuid.uuid4().hex[:8]
    Path(markers, f"start-{node}-{token}").write_text(json.dumps(arch, sort_keys=True))
    print(f"attempt {token} on {node}: temp {tempfile.gettempdir()}, cwd {os.getcwd()}",
          flush=True)
    score = score_of(arch)
    for step in range(steps):
        report_intermediate_result(score * step / steps)
        time.sleep(0.25)
    Path(markers, f"done-{node}-{token}").write_text(json.dumps(arch, sort_keys=True))
    return {"default": score}
