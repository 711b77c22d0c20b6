"""A model space and a function evaluator that inject faults, chosen by the architecture.

`Faulty` has the decision `fault` (what the trial does; `evaluate` does it) and, with
`reps > 1`, `rep` (several architectures per fault). Specs name this file by its absolute path,
like a user's script.

| fault      | what the trial does                                              |
|------------|------------------------------------------------------------------|
| ok*        | returns a score (`score` kwarg, default 1.0), after `sleep` s    |
| raise      | raises ValueError                                                |
| exit       | os._exit(3)                                                      |
| sigkill    | kills its own worker with SIGKILL                                |
| segv       | reads address 0 (segmentation fault)                             |
| hang       | starts a grandchild, ignores SIGTERM and sleeps 60 s             |
| oom        | allocates an impossibly large buffer (MemoryError)               |
| keyboard   | raises KeyboardInterrupt (Ctrl-C in `nas trial`)                 |
| grandchild | starts a grandchild (`python -c sleep 60` with `marker` in its   |
|            | argv), then returns a score like ok                              |
| sigkill_once | kills its own worker the first time it runs (a file in         |
|            | `once_dir` remembers), then returns a score like ok             |
| grow       | allocates 256 MiB at a time, up to 2 GiB (past max_trial_memory) |

Other kwargs: `sleep` (seconds every trial sleeps first), `slow_flag` (a file: `sleep` only
while it exists), `marker` (a text put in every grandchild's argv), `once_dir` (a folder).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

import nas_cli.nn as nn
from nas_cli import basic_unit, model_wrapper, report_intermediate_result

FAULTS = ["ok", "raise", "exit", "sigkill", "segv", "hang", "oom", "ok_late"]


@basic_unit
class Tag(nn.Module):
    """Carries the fault's name into the frozen model; does nothing to the data."""

    def __init__(self, fault: str):
        super().__init__()
        self.fault = fault

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@model_wrapper
class Faulty(nn.Module):
    """`fault` (value: FAULTS, or the `faults` init argument) and `rep` (value: 0..reps-1)."""

    def __init__(self, faults: list[str] | None = None, reps: int = 1):
        super().__init__()
        # `rep` first: index order (grid without a seed) is then fault by fault, as the
        # later decisions vary slowest
        self.fc = nn.Linear(2, nn.ValueChoice(list(range(1, reps + 1)), label="rep")
                            if reps > 1 else 1)
        self.tag = Tag(nn.ValueChoice(list(faults or FAULTS), label="fault"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.tag(x))


def spawn_grandchild(marker: str) -> subprocess.Popen:
    """A child of the worker that sleeps 60 s; `marker` in its argv finds it."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])


def evaluate(model: torch.nn.Module, arch: dict[str, Any], sleep: float = 0.0,
             slow_flag: str | None = None, marker: str = "nas-reliability",
             score: float = 1.0, once_dir: str | None = None) -> float:
    """Does what `arch["fault"]` says (see the module's table); returns `score + rep / 100`."""
    fault = arch["fault"]
    print(f"trial starts: {fault}", flush=True)
    report_intermediate_result(0.5)
    if fault in ("grandchild", "hang"):
        spawn_grandchild(marker)
    if sleep and (slow_flag is None or Path(slow_flag).exists()):
        time.sleep(sleep)
    if fault == "raise":
        raise ValueError(f"fault injected: {fault}")
    if fault == "exit":
        os._exit(3)
    if fault == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "sigkill_once":
        flag = Path(once_dir or ".", f"{fault}-{arch.get('rep', 1)}.killed")
        if not flag.exists():
            flag.touch()
            os.kill(os.getpid(), signal.SIGKILL)
    if fault == "grow":
        held = [torch.ones(64 << 20) for _ in range(8)]  # 8 x 256 MiB of float32
        return float(len(held))
    if fault == "segv":
        ctypes.string_at(0)
    if fault == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(60)
    if fault == "keyboard":
        raise KeyboardInterrupt  # as Ctrl-C in `nas trial` would
    if fault == "oom":
        buffer = bytearray(1 << 62)
        return float(len(buffer))
    with torch.no_grad():
        model(torch.ones(1, 2))
    return score + arch.get("rep", 1) / 100
