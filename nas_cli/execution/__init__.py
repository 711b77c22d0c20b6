"""Where trials run: the backend interface and its implementations.

| platform | backend      | what                                     |
|----------|--------------|------------------------------------------|
| local    | LocalBackend | warm worker processes on this machine    |
"""

from nas_cli.execution._base import Backend, Event, Finished, Intermediate
from nas_cli.execution._local import LocalBackend
from nas_cli.execution._trial import TrialPayload, execute, short_error

__all__ = ["Backend", "Event", "Finished", "Intermediate", "LocalBackend", "TrialPayload",
           "execute", "short_error"]
