"""Code that runs inside a warm worker process (spawned): set threads, load the payload once,
then run many trials. Imports torch only in `initialize`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_payload: Any = None
_events: Any = None


def initialize(payload: bytes, events: Any, threads: int, env: dict[str, str]) -> None:
    """Once per worker: environment, torch threads, the space and evaluator."""
    global _payload, _events
    os.environ.update(env)
    try:  # own process group: stopping the worker also stops what it started
        os.setpgid(0, 0)
    except OSError:
        pass
    import cloudpickle
    import torch

    torch.set_num_threads(max(1, threads))
    try:
        torch.set_num_interop_threads(max(1, threads))
    except RuntimeError:
        pass
    _events = events
    _payload = cloudpickle.loads(payload)


def run(number: int, arch: dict[str, Any], trial_dir: str, env: dict[str, str]) -> dict[str, Any]:
    """One trial in this worker; intermediate results stream to the driver as they come."""
    from nas_cli.execution._trial import execute

    os.environ.update(env)

    def report(step: int, value: float) -> None:
        if _events is not None:
            _events.put((number, step, value))

    return execute(_payload, number, arch, Path(trial_dir), report)
