"""Ctrl-C and SIGTERM while an experiment runs, for the CLI and Python callers alike."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from nas_cli.trials import ExperimentStatus

if TYPE_CHECKING:
    from nas_cli.experiment._run import Run

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals(run: Run) -> Iterator[None]:
    """While the block runs, the first Ctrl-C or SIGTERM asks the experiment to stop cleanly
    (running trials end interrupted, `nas resume` reruns them). Once trials run, further ones
    wait for that stop (the loop sees it within a poll; an exception raised at a random place
    could break the cleanup or land in a finalizer); before that (the space is still being
    built) a second one stops at once. The handlers in place before come back afterwards.
    Signals reach only the main thread: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if run.closing:  # already cleaning up: interrupting that would leave a mess
            return
        if run.stop_requested:
            if not run.looping:  # still preparing (building the space): stop now
                raise KeyboardInterrupt
            return
        run.request_stop(ExperimentStatus.INTERRUPTED)
        run.listener.stopping(run)

    saved = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)
