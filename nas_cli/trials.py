"""The one trial-state enum that every layer shares (strategy, execution, store, report)."""

from __future__ import annotations

import enum


class TrialState(str, enum.Enum):
    """A trial's life: WAITING -> RUNNING -> one of the four final states."""

    WAITING = "waiting"          # proposed, not started (e.g. re-queued by `nas resume`)
    RUNNING = "running"          # a worker is training/evaluating it
    COMPLETE = "complete"        # finished with a metric
    PRUNED = "pruned"            # stopped early from its intermediate results
    FAILED = "failed"            # raised, crashed, timed out or ran out of memory
    INTERRUPTED = "interrupted"  # the experiment was stopped while it ran; `nas resume` reruns it

    @property
    def is_finished(self) -> bool:
        """Finished trials count towards `max_trial_number`."""
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)
