"""The project's errors: one base class, one subclass per layer.

The CLI turns a `NasError` into one line and its `exit_code`; any other exception is a bug.
"""

from __future__ import annotations


class NasError(Exception):
    """Base of every error a user can cause. `exit_code` is what `nas` exits with."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} ({hint})")


class UsageError(NasError):
    """A command-line argument is wrong (unknown experiment, bad --arch, ...)."""

    exit_code = 2


class SpecError(NasError):
    """The experiment spec is invalid; `problems` holds one line per problem."""

    exit_code = 2

    def __init__(self, problems: list[str] | str, *, hint: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems), hint=hint)


class SpaceError(NasError):
    """The model space cannot be imported, built or frozen with the given architecture."""

    exit_code = 1


class UnsupportedError(SpaceError):
    """A name of NNI's API that nas-cli does not have; the message says what to use instead."""

    exit_code = 2


class ArchError(SpaceError):
    """An architecture does not fit its space (missing, unknown or out-of-range label)."""

    exit_code = 2


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
