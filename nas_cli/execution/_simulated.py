"""A simulated cluster: `workers` trials at a time on a virtual clock, over a table evaluator.

A trial is a look-up in the table; it "takes" the table's training seconds (or
`trial_seconds`), optionally stretched by noise, by a straggler factor for a share of trials,
or cut short by a simulated failure (a lost worker: the engine retries the trial as it would
on a real cluster, up to `max_trial_retries`). Its per-epoch curve arrives as intermediate results spread
evenly over that time. `events()` jumps the clock to the next moment something happens and
returns what happens then, so the engine sees results in the order a real asynchronous cluster
would deliver them, and a run of days on 512 workers replays in seconds. Pruning stops a trial
at the virtual time of the epoch that decided it.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas_cli.durations import format_duration
from nas_cli.errors import SpecError, TrialError
from nas_cli.execution._base import Backend, Event, Finished, Intermediate
from nas_cli.trials import TrialOutcome, TrialState

LOST = "simulated failure: the worker was lost"


@dataclass(eq=False)
class _Trial:
    number: int
    started: float
    ends: float
    points: list[tuple[float, int, float]] = field(default_factory=list)  # (time, step, value)

    def reported(self, until: float) -> list[tuple[int, float]]:
        """The intermediate results reported by `until`."""
        return [(step, value) for when, step, value in self.points if when <= until]


class SimulatedBackend(Backend):
    """`capacity` simulated workers; time is `clock()`, in virtual seconds from 0."""

    virtual = True

    def __init__(self, workers: int, *, trial_seconds: float = 1.0, time_noise: float = 0.0,
                 stragglers: float = 0.0, straggler_factor: float = 4.0,
                 failure_rate: float = 0.0, seed: int | None = None,
                 intermediate: bool = True):
        self.capacity = workers
        self.trial_seconds = trial_seconds
        self.time_noise = time_noise
        self.stragglers = stragglers
        self.straggler_factor = straggler_factor
        self.failure_rate = failure_rate
        self.intermediate = intermediate  # False: curves travel in the outcome only (faster)
        self.rng = random.Random(0 if seed is None else seed)
        self.now = 0.0
        self.horizon: float | None = None  # the clock stops here (the experiment's time limit)
        self._queue: list[tuple[float, int, _Trial, Event]] = []  # (time, order, trial, event)
        self._order = 0
        self._trials: dict[int, _Trial] = {}
        self.evaluator: Any = None
        self.metric = ""

    def clock(self) -> float:
        return self.now

    def start(self, payload: bytes) -> None:
        from nas_cli.evaluator import TableEvaluator
        from nas_cli.execution._payload import load_payload

        loaded = load_payload(payload)
        if not isinstance(loaded.evaluator, TableEvaluator):
            raise SpecError("training_service.platform simulated replays a table: set "
                            "evaluator.type: table (with evaluator.path: FILE)")
        self.evaluator, self.metric = loaded.evaluator, loaded.metric

    def submit(self, number: int, arch: dict[str, Any], trial_dir: Path,
               timeout: float | None) -> None:
        try:
            row = self.evaluator.row(arch, self.metric)
        except TrialError as exc:  # not in the table: fails at once
            trial = self._trials[number] = _Trial(number, self.now, self.now)
            self._push(trial, self.now, Finished(
                number, TrialOutcome(error=exc.reason, duration_s=0.0), TrialState.FAILED,
                exc.reason))
            return
        seconds = self.trial_seconds if row.seconds is None else row.seconds
        if self.time_noise:
            seconds *= math.exp(self.time_noise * self.rng.gauss(0.0, 1.0))
        if self.stragglers and self.rng.random() < self.stragglers:
            seconds *= self.straggler_factor
        ends, state, reason = seconds, TrialState.COMPLETE, None
        if self.failure_rate and self.rng.random() < self.failure_rate:
            ends, state, reason = seconds * self.rng.random(), TrialState.FAILED, LOST
        if timeout is not None and ends > timeout:
            ends, state, reason = timeout, TrialState.FAILED, \
                f"timed out after {format_duration(timeout)}"
        trial = self._trials[number] = _Trial(number, self.now, self.now + ends)
        epochs = len(row.curve)
        for step, value in enumerate(row.curve):
            when = self.now + seconds * (step + 1) / epochs
            if when > trial.ends:
                break
            trial.points.append((when, step, value))
            if self.intermediate:
                self._push(trial, when, Intermediate(number, step, value))
        if state is TrialState.COMPLETE:
            outcome = TrialOutcome(metrics=dict(row.metrics), duration_s=ends,
                                   intermediate=list(enumerate(row.curve)))
        else:
            outcome = TrialOutcome(error=reason, duration_s=ends,
                                   intermediate=trial.reported(trial.ends))
        lost = reason == LOST  # not the trial's fault: the engine retries it (max_trial_retries)
        self._push(trial, trial.ends, Finished(number, outcome, state, reason, lost=lost))

    def _push(self, trial: _Trial, when: float, event: Event) -> None:
        heapq.heappush(self._queue, (when, self._order, trial, event))
        self._order += 1

    def cancel(self, number: int, state: TrialState, reason: str) -> None:
        """The trial ends now; what it would have done later never happens."""
        trial = self._trials.pop(number, None)
        if trial is None:
            return
        ended = self._trials[number] = _Trial(number, trial.started, self.now)
        outcome = TrialOutcome(duration_s=self.now - trial.started,
                               intermediate=trial.reported(self.now))
        self._push(ended, self.now, Finished(number, outcome, state, reason))

    def prune(self, number: int, trial_dir: Path, reason: str) -> None:
        """Early stopping: the trial ends now, at the virtual time of the deciding epoch."""
        self.cancel(number, TrialState.PRUNED, reason)

    def events(self, timeout: float) -> list[Event]:
        """Everything that happens at the next moment anything happens (the clock moves
        there), in the order it happened; nothing past the horizon."""
        out: list[Event] = []
        queue = self._queue
        while queue:
            when, _, trial, event = queue[0]
            if self._trials.get(event.number) is not trial:  # cancelled: never happens
                heapq.heappop(queue)
                continue
            if out and when > self.now:
                break
            if self.horizon is not None and when > self.horizon:
                self.now = max(self.now, self.horizon)
                break
            heapq.heappop(queue)
            self.now = max(self.now, when)
            if isinstance(event, Finished):
                del self._trials[event.number]
            out.append(event)
        return out

    def shutdown(self) -> None:
        self._queue.clear()
        self._trials.clear()
