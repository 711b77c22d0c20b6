"""An in-process execution backend for tests of the run loop (no workers: fast and
deterministic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas_cli.execution import Backend, Event, Finished, Intermediate, execute
from nas_cli.execution._payload import load_payload
from nas_cli.trials import TrialOutcome, TrialState


class InlineBackend(Backend):
    """Runs a trial when it is submitted, in this process. Trials in `hold` never finish by
    themselves: they end when cancelled (or stay running until the run stops)."""

    def __init__(self, capacity: int, hold: set[int] | None = None,
                 interrupt_after: int | None = None):
        self.capacity = capacity
        self.hold = hold or set()
        self.interrupt_after = interrupt_after  # Ctrl-C after this many events() calls
        self.queue: list[Event] = []
        self.held: dict[int, TrialOutcome] = {}
        self.calls = 0
        self.shut = False

    def start(self, payload: bytes) -> None:
        self.payload = load_payload(payload)

    def submit(self, number: int, arch: dict[str, Any], trial_dir: Path,
               timeout: float | None) -> None:
        def report(step: int, value: float) -> None:
            self.queue.append(Intermediate(number, step, value))

        outcome = execute(self.payload, number, arch, trial_dir, report)
        if number in self.hold:
            self.held[number] = outcome
        else:
            self.queue.append(Finished.of(number, outcome))

    def cancel(self, number: int, state: TrialState, reason: str) -> None:
        if self.held.pop(number, None) is not None:
            self.queue.append(Finished(number, state=state, reason=reason))

    def events(self, timeout: float) -> list[Event]:
        self.calls += 1
        if self.interrupt_after is not None and self.calls > self.interrupt_after:
            raise KeyboardInterrupt
        out, self.queue = self.queue, []
        return out

    def shutdown(self) -> None:
        self.shut = True
