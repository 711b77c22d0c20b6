"""The execution-backend interface: where trials run (a local process pool, a Ray cluster).

The engine submits trials and waits for events; a backend never touches the store.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas_cli.trials import TrialOutcome, TrialState


@dataclass
class Intermediate:
    number: int
    step: int
    value: float


@dataclass
class Finished:
    """A trial ended: with what it produced (`outcome`), in `state`, and why if not complete.

    A trial stopped from outside (killed, timed out, cancelled) has an empty outcome. `lost`:
    its worker or node was lost (not the trial's fault), so the engine may run it again.
    """

    number: int
    outcome: TrialOutcome = field(default_factory=TrialOutcome)
    state: TrialState = TrialState.COMPLETE
    reason: str | None = None
    lost: bool = False

    @classmethod
    def of(cls, number: int, outcome: TrialOutcome) -> Finished:
        """The event for a trial that ran to its end in a worker: complete, or failed."""
        if outcome.failed:
            return cls(number, outcome, TrialState.FAILED, outcome.error)
        return cls(number, outcome)


Event = Intermediate | Finished


class Backend(ABC):
    """Runs trials somewhere. One backend per experiment run."""

    capacity: int  # how many trials may run at once
    virtual = False  # True: time is simulated (see `clock`) and trials need no folder
    horizon: float | None = None  # a virtual clock stops here (the time limit); None: no end

    def clock(self) -> float:
        """The time trials run on, in seconds: the wall clock, or a simulation's."""
        return time.time()

    def prepare(self) -> None:
        """Optionally start workers early, before the payload exists (they warm up)."""

    @abstractmethod
    def start(self, payload: bytes) -> None:
        """Give the workers the pickled TrialPayload (see `_payload.dump_payload`). Called
        again while no trial runs (between one-shot phases), later trials use the new one."""

    @abstractmethod
    def submit(self, number: int, arch: dict[str, Any], trial_dir: Path,
               timeout: float | None) -> None:
        """Start a trial; its end arrives later as a `Finished` event."""

    @abstractmethod
    def cancel(self, number: int, state: TrialState, reason: str) -> None:
        """Stop a running trial; it ends with `state` (pruned, interrupted) and `reason`."""

    def prune(self, number: int, trial_dir: Path, reason: str) -> None:
        """Early stopping: ask a running trial to stop at its next intermediate report (it
        ends with a pruned outcome). A backend that cannot leaves it to the engine, which
        cancels the trial after a grace period."""

    @abstractmethod
    def events(self, timeout: float) -> list[Event]:
        """Events that arrived, waiting up to `timeout` seconds for the first one."""

    @abstractmethod
    def shutdown(self) -> None:
        """Stop every worker (and what they started); idempotent."""
