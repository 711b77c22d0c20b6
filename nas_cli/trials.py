"""The trial state machine and record that every layer shares (strategy, execution, store,
report). No torch here: `nas status` imports it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

HP_PREFIX = "hp/"  # labels of searched hyperparameters in a trial's architecture


def split_arch(arch: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A trial's architecture as (the model's decisions, the searched hyperparameters by
    evaluator field or kwarg name): `{"conv": 1, "hp/learning_rate": 0.01}` ->
    `({"conv": 1}, {"learning_rate": 0.01})`."""
    model = {k: v for k, v in arch.items() if not k.startswith(HP_PREFIX)}
    hparams = {k[len(HP_PREFIX):]: v for k, v in arch.items() if k.startswith(HP_PREFIX)}
    return model, hparams


class TrialState(str, enum.Enum):
    """A trial's life: RUNNING (from the moment the driver records it) -> one of the four
    final states, once (`TrialRecord.end`). A trial lost with its worker and retried stays
    RUNNING; an interrupted one is rerun by `nas resume` as a new trial."""

    RUNNING = "running"          # a worker is training/evaluating it
    COMPLETE = "complete"        # finished with a metric
    PRUNED = "pruned"            # stopped early from its intermediate results
    FAILED = "failed"            # raised, crashed, timed out or ran out of memory
    INTERRUPTED = "interrupted"  # the experiment was stopped while it ran; `nas resume` reruns it

    @property
    def is_finished(self) -> bool:
        """Finished trials count towards `max_trial_number`."""
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)

    def can_become(self, other: TrialState) -> bool:
        """Whether a trial in this state may move to `other`: only a running trial moves,
        and only to a final state or INTERRUPTED (nothing goes back to RUNNING)."""
        return self is TrialState.RUNNING and other is not TrialState.RUNNING


class InvalidTransition(RuntimeError):
    """A trial was asked to move where it cannot (a bug in a backend or the engine)."""


class ExperimentStatus(enum.StrEnum):
    """An experiment's state, as results.json ("status") and study.db ("nas:status") keep it:
    the member's value is the stored string, so files written before read the same."""

    RUNNING = "running"          # its driver is running it
    DONE = "done"                # it reached its limits or exhausted the space
    FAILED = "failed"            # its first trials all failed, every trial failed, or no
                                 # architecture met the constraints
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM, a lost cluster or store, or its driver died
    STOPPED = "stopped"          # `nas stop`
    # what a reader may see; never written
    UNREADABLE = "unreadable"    # results.json cannot be read (`nas resume` rewrites it)
    UNKNOWN = "unknown"          # no status, or one this version does not know

    @classmethod
    def read(cls, value: str | None) -> ExperimentStatus:
        """A stored status (the string as written); none or another is UNKNOWN."""
        try:
            return cls(value) if value is not None else cls.UNKNOWN
        except ValueError:
            return cls.UNKNOWN


@dataclass
class TrialRecord:
    """Everything kept about one trial; the store, results.json and reports share it (the
    store writes it as `TrialDetails` in study.db and `TrialEntry` in results.json)."""

    number: int
    arch: dict[str, Any]
    state: TrialState = TrialState.RUNNING
    metric: float | None = None            # the (first) objective's value
    values: list[float] | None = None       # several objectives: each one's value, in order
    metrics: dict[str, float] = field(default_factory=dict)
    intermediate: list[tuple[int, float]] = field(default_factory=list)
    params: int | None = None               # parameter count of the frozen model
    duration_s: float | None = None
    error: str | None = None                # one-line reason when failed/pruned/interrupted
    started_at: float | None = None         # unix time
    peak_memory: int | None = None          # bytes: the worker's peak resident memory
    node: str | None = None                 # where it ran, on a cluster
    # earlier attempts lost with their worker or node: {"attempt", "error", "node", ...}
    attempts: list[dict[str, Any]] = field(default_factory=list)
    phase: str | None = None                # one-shot: "search" (inherited weights), "retrain"

    def end(self, state: TrialState, error: str | None = None) -> None:
        """A running trial reaches `state` (final, or INTERRUPTED) with its one-line reason;
        any other move raises InvalidTransition (a finished trial never runs again)."""
        if not self.state.can_become(state):
            raise InvalidTransition(f"trial {self.number} cannot go from {self.state.value} to "
                                    f"{state.value}")
        self.state, self.error = state, error


@dataclass
class TrialOutcome:
    """What running one trial produced, as the worker hands it to the driver (picklable).

    A completed trial has `metrics`; a failed one has `error` (one line) and, when the user's
    code raised, its `traceback`; a trial stopped by early stopping has `pruned` too. A trial
    ended from outside (killed, timed out, cancelled) has an empty outcome: the backend's
    `Finished` event says why.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    params: int | None = None               # parameter count of the frozen model
    duration_s: float | None = None          # time in the worker; None: not measured there
    intermediate: list[tuple[int, float]] = field(default_factory=list)  # (step, value)
    error: str | None = None                 # one-line reason; None when the trial completed
    traceback: str | None = None
    pruned: bool = False
    files: dict[str, bytes] = field(default_factory=dict)  # trial files for the driver to write
    peak_memory: int | None = None           # bytes: the worker's peak resident memory
    out_of_memory: bool = False              # memory ran out (`error` says where): a fresh worker
    node: str | None = None                  # where it ran, on a cluster

    @property
    def failed(self) -> bool:
        return self.error is not None


INHERITED_PHASE = "search"   # one-shot trials scored on weights inherited from the supernet
RETRAIN_PHASE = "retrain"    # one-shot trials trained from scratch: they rank first


def rank(records: list[TrialRecord], mode: str) -> list[TrialRecord]:
    """Completed trials best first (ties: earlier trial first), then the others by number.
    Retrained one-shot trials rank before those scored on inherited weights."""
    complete = [r for r in records if r.state is TrialState.COMPLETE and r.metric is not None]
    sign = -1.0 if mode == "maximize" else 1.0
    complete.sort(key=lambda r: (r.phase != RETRAIN_PHASE, sign * (r.metric or 0.0), r.number))
    ranked = {id(r) for r in complete}
    others = sorted((r for r in records if id(r) not in ranked), key=lambda r: r.number)
    return complete + others
