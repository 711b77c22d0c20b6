"""The local backend: a pool of warm worker processes (pebble, spawn start method).

Each worker imports torch and unpickles the space once, then runs many trials. pebble
replaces a worker that dies (the trial fails with the signal), kills one whose trial runs past
its time limit, and stops one on cancel (pruning, `nas stop`).

With GPUs, each trial runs in a fresh worker that sees only its own GPUs (CUDA_VISIBLE_DEVICES,
set before CUDA starts); a trial that finds no free GPU waits for one.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import shutil
import signal
import socket
import tempfile
import threading
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

from nas_cli.execution._base import Backend, Event, Finished, Intermediate, format_duration
from nas_cli.execution._gpu import GpuSlots, trial_env
from nas_cli.trials import TrialState


def _death_reason(exc: BaseException) -> str:
    code = getattr(exc, "exitcode", None)
    if isinstance(code, int) and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"worker died with signal {-code} ({name})"
    return f"worker died with exit code {code}"


class LocalBackend(Backend):
    """`trial_concurrency` warm workers on this machine (fewer if the GPUs hold fewer trials)."""

    def __init__(self, concurrency: int, *, threads: int | None = None,
                 gpus: GpuSlots | None = None, fresh_workers: bool = False,
                 warm_imports: tuple[str, ...] = ()):
        self.capacity = min(concurrency, gpus.capacity) if gpus else concurrency
        cores = os.cpu_count() or 1
        self.threads = threads or max(1, cores // self.capacity)
        self.gpus = gpus  # which trial holds which GPUs; None: CPU only
        self.fresh_workers = fresh_workers or gpus is not None
        self._waiting: list[tuple[int, dict[str, Any], Path, float | None]] = []  # for a GPU
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._futures: dict[int, Any] = {}
        self._cancelled: dict[int, tuple[TrialState, str]] = {}
        self._pids: dict[int, int] = {}  # trial -> the pid of the worker running it
        self._timeouts: dict[int, float | None] = {}
        self._pool: Any = None
        self.warm_imports = warm_imports  # modules workers import while they wait
        self._payload = b""
        self._inbox: socket.socket | None = None  # datagrams from the workers
        self._inbox_dir: str | None = None
        self._pump: threading.Thread | None = None
        self._closed = threading.Event()
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Start the workers now: they import torch while the driver builds the space."""
        if self._pool is not None:
            return
        from pebble import ProcessPool

        from nas_cli.execution import _worker

        context = multiprocessing.get_context("spawn")
        # Workers report on a Unix datagram socket, not a multiprocessing.Queue: a worker
        # killed while writing to a Queue leaves its lock held and silences every other one.
        self._inbox_dir = tempfile.mkdtemp(prefix="nas-")
        address = os.path.join(self._inbox_dir, "events")
        self._inbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._inbox.bind(address)
        self._inbox.settimeout(0.2)
        threads = str(self.threads)
        env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
               "OPENBLAS_NUM_THREADS": threads, "PYTHONUNBUFFERED": "1"}
        if not self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = ""
        self._pool = ProcessPool(
            max_workers=self.capacity, max_tasks=1 if self.fresh_workers else 0,
            initializer=_worker.initialize,
            initargs=(address, self.threads, env, self.warm_imports), context=context,
        )
        self._pump = threading.Thread(target=self._pump_intermediate, daemon=True)
        self._pump.start()

    def start(self, payload: bytes) -> None:
        self.prepare()
        self._payload = payload

    def _pump_intermediate(self) -> None:
        while not self._closed.is_set():
            try:
                item = json.loads(self._inbox.recv(65536))
            except (TimeoutError, OSError, ValueError):
                continue
            if item[0] == "pid":  # a trial started in this worker (its own process group)
                with self._lock:
                    self._pids[item[1]] = item[2]
                continue
            number, step, value = item
            self._events.put(Intermediate(number, step, value))

    def submit(self, number: int, arch: dict[str, Any], trial_dir: Path,
               timeout: float | None) -> None:
        env: dict[str, str] = {}
        if self.gpus is not None:
            with self._lock:  # as in _start_waiting: a GPU freed meanwhile is not missed
                gpus = self.gpus.acquire(number)
                if gpus is None:  # every GPU is taken: wait for a trial to end
                    self._waiting.append((number, arch, trial_dir, timeout))
                    return
            env = trial_env(gpus)
        self._schedule(number, arch, trial_dir, timeout, env)

    def _schedule(self, number: int, arch: dict[str, Any], trial_dir: Path,
                  timeout: float | None, env: dict[str, str]) -> None:
        from nas_cli.execution import _worker

        pool = self._pool
        if pool is None:  # shut down meanwhile
            return
        try:
            future = pool.schedule(_worker.run, timeout=timeout,
                                   args=(number, arch, str(trial_dir), env, self._payload))
        except Exception as exc:  # noqa: BLE001 - a broken pool: this trial fails, not the run
            if self.gpus is not None:
                self.gpus.release(number)
            self._events.put(Finished(number, state=TrialState.FAILED, reason=(
                f"the worker pool is broken: {type(exc).__name__}: {exc}")))
            return
        with self._lock:
            self._futures[number] = future
            self._timeouts[number] = timeout
        future.add_done_callback(lambda f, n=number: self._done(n, f))

    def _start_waiting(self) -> None:
        """Start the trials that waited for a GPU, while GPUs are free."""
        while True:
            with self._lock:
                if not self._waiting:
                    return
                number, arch, trial_dir, timeout = self._waiting[0]
                gpus = self.gpus.acquire(number)
                if gpus is None:
                    return
                self._waiting.pop(0)
            self._schedule(number, arch, trial_dir, timeout, trial_env(gpus))

    def _done(self, number: int, future: Any) -> None:
        with self._lock:
            self._futures.pop(number, None)
            cancelled = self._cancelled.pop(number, None)
            timeout = self._timeouts.pop(number, None)
            pid = self._pids.pop(number, None)
        if pid is not None and (cancelled is not None or future.cancelled()
                                or future.exception() is not None):
            _kill_group(pid)  # the worker was stopped or died: take what the trial started
        if self.gpus is not None:
            self.gpus.release(number)
            self._start_waiting()
        if cancelled is not None:
            self._events.put(Finished(number, state=cancelled[0], reason=cancelled[1]))
            return
        try:
            outcome = future.result()
        except CancelledError:
            self._events.put(Finished(number, state=TrialState.INTERRUPTED, reason="cancelled"))
        except TimeoutError:
            self._events.put(Finished(number, state=TrialState.FAILED,
                                      reason=f"timed out after {format_duration(timeout or 0)}"))
        except Exception as exc:  # noqa: BLE001 - ProcessExpired and pickling errors
            reason = _death_reason(exc) if hasattr(exc, "exitcode") else f"{type(exc).__name__}: {exc}"
            self._events.put(Finished(number, state=TrialState.FAILED, reason=reason))
        else:
            self._events.put(Finished.of(number, outcome))

    def cancel(self, number: int, state: TrialState, reason: str) -> None:
        with self._lock:
            waiting = [w for w in self._waiting if w[0] == number]
            if waiting:
                self._waiting.remove(waiting[0])
                self._events.put(Finished(number, state=state, reason=reason))
                return
            future = self._futures.get(number)
            if future is None:
                return
            self._cancelled[number] = (state, reason)
        future.cancel()

    def events(self, timeout: float) -> list[Event]:
        out: list[Event] = []
        try:
            out.append(self._events.get(timeout=timeout))
        except queue.Empty:
            return out
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    def shutdown(self) -> None:
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        self._closed.set()
        with self._lock:
            pids = set(_worker_pids(pool)) | set(self._pids.values())
        pool.stop()
        for pid in pids:  # each worker leads its own process group: take its children too
            _kill_group(pid)
        pool.join(timeout=5)
        if self._pump is not None:
            self._pump.join(timeout=1)
        if self._inbox is not None:
            self._inbox.close()
            shutil.rmtree(self._inbox_dir, ignore_errors=True)


def _kill_group(pid: int) -> None:
    """SIGKILL a (dead or stopped) worker's process group: the processes its trial started."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _worker_pids(pool: Any) -> list[int]:
    """The pids of pebble's workers (no public API for it; best effort)."""
    try:
        workers = pool._pool_manager.worker_manager.workers
        return [w.pid for w in workers.values() if w.pid]
    except AttributeError:
        return []
