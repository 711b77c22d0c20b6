"""Where local workers come from: a fork server that imports torch once.

A spawned worker is a fresh interpreter that imports torch (about a second of CPU) before its
first trial: two workers on two cores import it twice, on the cores the driver needs. On Linux,
CPU workers are forked instead from multiprocessing's fork server, which imported torch and
the worker's modules once: a worker is then ready in milliseconds. `nas run` starts the server
first thing, from the raw spec file, so that its import overlaps the driver's own start (the
CLI, the spec checks, the store).

The server imports torch and never uses it (no thread pool, no CUDA): each forked worker sets
its threads, and takes the driver's environment of the moment (the server keeps the one it
started with). Trials on GPUs keep spawned workers, a fresh one per trial: CUDA must start in a
process that sees only the trial's GPUs, and a library that merely asked CUDA for its devices
while the server imported it would have fixed them for every child.
`NAS_WORKER_START=spawn` spawns every worker instead, as on other systems (macOS forbids many
libraries to run in a forked child once they were loaded: Accelerate, Objective-C).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

# What every worker imports before its first trial (see `_worker.initialize`).
PRELOAD = ("torch", "nas_cli.nn", "nas_cli.space._freeze", "nas_cli.execution._trial",
           "nas_cli.execution._worker")


_UNTOUCHED = object()  # SIGINT's handler was not changed


def warm_imports(evaluator_type: str) -> tuple[str, ...]:
    """What workers import besides torch for an evaluator type: Lightning, but for functions."""
    return () if evaluator_type == "function" else ("pytorch_lightning",)


def worker_context(extra: tuple[str, ...] = (), spawn: bool = False) -> Any:
    """The multiprocessing context workers start from: the fork server (its imports: PRELOAD
    and `extra`, when it starts) on Linux, else, with `spawn` or NAS_WORKER_START=spawn, spawn."""
    import multiprocessing

    if spawn or os.environ.get("NAS_WORKER_START", "").strip().lower() == "spawn" or \
            not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*PRELOAD, *extra])
    return context


def start_server(extra: tuple[str, ...] = ()) -> bool:
    """Start the fork server now, if workers come from it (it imports in the background);
    a running one is kept. False where workers are spawned."""
    if worker_context(extra).get_start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    # The server ignores Ctrl-C once it serves, not while it imports: started with SIGINT
    # ignored (kept across exec), a Ctrl-C in its first second prints no traceback of it.
    try:
        previous: Any = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: cannot touch signals, start it as it is
        previous = _UNTOUCHED
    try:
        forkserver.ensure_running()
    finally:
        if previous is not _UNTOUCHED:
            signal.signal(signal.SIGINT, previous)
    return True


def start_server_for_spec(path: str) -> bool:
    """`nas run SPEC` before anything else: start the server when the spec's trials will run
    in this machine's workers. The file is read as plain YAML; whatever is unclear (an
    unreadable file, another platform) starts nothing: the local backend starts the server
    when it needs it, and the spec's checks report what is wrong."""
    try:
        import yaml

        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except Exception:  # noqa: BLE001 - only a head start; the spec's checks report errors
        return False
    if not isinstance(data, dict):
        return False
    service = data.get("training_service") or {}
    if not isinstance(service, dict) or service.get("platform", "local") != "local":
        return False
    if data.get("trial_gpu_number") not in (None, 0):  # spawned workers (see above)
        return False
    evaluator = data.get("evaluator")
    kind = evaluator.get("type") if isinstance(evaluator, dict) else None
    try:
        return start_server(warm_imports(kind) if isinstance(kind, str) else ())
    except OSError:  # no socket or process here now: the backend decides how workers start
        return False


def stop_server() -> None:
    """End the fork server at once, if this process started one (the console script's exit:
    the server's own exit, an interpreter teardown with torch, would take a few tenths of a
    second more, holding the terminal's output open). Its workers have ended before."""
    module = sys.modules.get("multiprocessing.forkserver")
    server: Any = getattr(module, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)  # private: absent in another Python, no harm
    if not isinstance(pid, int):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:  # reap it and forget it: a later worker starts a new server
        server._stop()
    except (AttributeError, ChildProcessError, OSError):
        pass
