"""The project's errors: one base class, one subclass per layer.

The CLI turns a `NasError` into one line and its `exit_code`; any other exception is a bug.
"""

from __future__ import annotations


class NasError(Exception):
    """Base of every error a user can cause. `exit_code` is what `nas` exits with: 2 for bad
    input (the spec, an argument, an architecture, the model space or evaluator it names),
    1 when the experiment could not do its job."""

    exit_code = 1

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class UsageError(NasError):
    """A command-line argument is wrong (unknown experiment, bad --arch, ...)."""

    exit_code = 2


class SpecError(NasError):
    """The experiment spec is invalid; `problems` holds one line per problem."""

    exit_code = 2

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class SpaceError(NasError):
    """The model space cannot be imported, built or frozen with the given architecture (bad
    input, like a bad spec)."""

    exit_code = 2


class UnsupportedError(SpaceError):
    """A name of NNI's API that nas-cli does not have; the message says what to use instead."""


class ArchError(SpaceError):
    """An architecture does not fit its space (missing, unknown or out-of-range label)."""


class TrialError(NasError):
    """A trial failed; `reason` is the one-line reason shown to the user."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class StoreError(NasError):
    """The experiment's files cannot be read or written (corrupt study.db, full disk, ...)."""


class ExperimentError(NasError):
    """The experiment could not do its job (every trial failed, too many failures)."""


class ClusterLost(ExperimentError):
    """The cluster the trials run on is gone (its head stopped answering); `nas resume` goes
    on once it is back."""
