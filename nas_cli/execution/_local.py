"""The local backend: a pool of warm worker processes (pebble).

CPU workers are forked from a fork server that imported torch once (`_server`; spawned on GPUs
and where there is none); each unpickles the space once, then runs many trials. Workers and
driver talk over Unix datagram sockets: a worker sends its trial's start, intermediate results
and (before ending itself) an outcome; the driver asks a trial to stop at its next report
(early stopping) on the worker's own socket, never through a file. pebble replaces a worker
that dies, kills one whose trial runs past its time limit, and stops one on cancel (`nas stop`).

A worker that dies reads as: lost (killed from outside by SIGKILL, SIGTERM, ...: the engine
may run its trial again), out of memory (the kernel's OOM killer ended a process of ours
meanwhile), or the trial's own crash (a crash signal, an exit code). A worker whose trial ran
out of memory ends itself after sending the outcome: a fresh one takes its place.

Local workers see the experiment folder (same machine): they write trials/<n>/ (trial.log,
metrics, checkpoints) as they go, so a worker that dies leaves what it wrote. The driver stays
the only writer of study.db and results.json.

With GPUs, each trial runs in a fresh worker that sees only its own GPUs (CUDA_VISIBLE_DEVICES,
set before CUDA starts); a trial that finds no free GPU waits for one.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from nas_cli.durations import format_duration
from nas_cli.execution import _memory as memory
from nas_cli.execution._base import Backend, Event, Finished, Intermediate
from nas_cli.execution._gpu import GpuSlots, trial_env
from nas_cli.trials import TrialOutcome, TrialState

# Signals that end a worker from outside (someone's `kill`, a shutdown, a lost session): the
# trial was not at fault, so it may run again. A crash signal (SIGSEGV, SIGABRT, ...) or an
# exit code comes from the trial's own code, and is not retried.
_FROM_OUTSIDE = {signal.SIGKILL, signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT}
_PEAK_EVERY_S = 0.5  # how often the driver reads the running workers' peak memory


def death(code: int | None, peak: int | None = None, oom_killed: bool = False) -> Finished:
    """What a worker's unexpected end means for its trial (`number` is filled in later).

    `oom_killed`: the kernel's OOM killer ended a process of ours meanwhile; a SIGKILL then is
    read as out of memory (not retried: the trial would fill the memory again)."""
    if isinstance(code, int) and code < 0:
        try:
            sig = signal.Signals(-code)
            name = sig.name
        except ValueError:
            sig, name = None, str(-code)
        if sig is signal.SIGKILL and oom_killed:
            reason = memory.out_of_memory_reason("cpu", peak) + \
                ": the kernel's OOM killer ended the worker"
            return Finished(-1, TrialOutcome(error=reason, peak_memory=peak,
                                             out_of_memory=True), TrialState.FAILED, reason)
        return Finished(-1, TrialOutcome(peak_memory=peak), TrialState.FAILED,
                        f"worker died with signal {-code} ({name})", lost=sig in _FROM_OUTSIDE)
    return Finished(-1, TrialOutcome(peak_memory=peak), TrialState.FAILED,
                    f"worker died with exit code {code}")


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
        self._peaks: dict[int, int] = {}  # trial -> its worker's peak memory, as last read
        self._oom_kills: dict[int, int | None] = {}  # trial -> the OOM-kill count at its start
        self._outcomes: dict[int, TrialOutcome] = {}  # sent by a worker that then ended itself
        self._prune: set[int] = set()  # asked to stop before their worker was known
        self._live: set[int] = set()   # scheduled in the pool and not ended
        self._timeouts: dict[int, float | None] = {}
        self._pool: Any = None
        self.warm_imports = warm_imports  # modules workers import while they wait
        self._payload = b""
        self._inbox: socket.socket | None = None  # datagrams from the workers
        self._inbox_dir: str | None = None
        self._address = ""                  # the inbox's
        self._outbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # to workers, to itself
        self._pump: threading.Thread | None = None
        self._closed = threading.Event()
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Start the workers now: they import torch while the driver builds the space."""
        if self._pool is not None:
            return
        from pebble import ProcessPool

        from nas_cli.execution import _worker
        from nas_cli.execution._server import start_server, worker_context

        # forked from the fork server; on GPUs spawned, so that CUDA starts in each worker alone
        context = worker_context(self.warm_imports, spawn=self.gpus is not None)
        if context.get_start_method() == "forkserver":  # from this thread, not the pool's:
            try:                                          # Ctrl-C ignored while it imports
                start_server(self.warm_imports)
            except OSError:  # no fork server here (its socket, its process): spawn them
                context = worker_context(spawn=True)
        # Workers report on a Unix datagram socket, not a multiprocessing.Queue: a worker
        # killed while writing to a Queue leaves its lock held and silences every other one.
        self._inbox_dir = tempfile.mkdtemp(prefix="nas-")
        address = self._address = os.path.join(self._inbox_dir, "events")
        self._inbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._inbox.bind(address)
        self._inbox.settimeout(0.2)
        threads = str(self.threads)
        # the driver's environment now (a fork server keeps the one it started with)
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
               "OPENBLAS_NUM_THREADS": threads, "PYTHONUNBUFFERED": "1"}
        if not self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = ""
        self._pool = ProcessPool(
            max_workers=self.capacity, max_tasks=1 if self.fresh_workers else 0,
            initializer=_worker.initialize,
            initargs=(address, self.threads, env, self.warm_imports, os.getpid()),
            context=context,
        )
        self._pump = threading.Thread(target=self._pump_messages, daemon=True)
        self._pump.start()

    def start(self, payload: bytes) -> None:
        self.prepare()
        self._payload = payload

    def _pump_messages(self) -> None:
        """Everything the workers send, in the order they sent it: a trial's worker, its
        intermediate results, an outcome sent before its worker ended; and the driver's own
        note that a worker died, which comes after anything that worker sent."""
        inbox = self._inbox
        if inbox is None:  # prepare() opens it before starting this thread
            return
        sampled = 0.0
        while not self._closed.is_set():
            if time.monotonic() - sampled > _PEAK_EVERY_S:
                sampled = time.monotonic()
                self._sample_peaks()
            try:
                item = json.loads(inbox.recv(1 << 17))
            except (TimeoutError, OSError, ValueError):
                continue
            kind, number = item[0], item[1]
            if kind == "i":
                self._events.put(Intermediate(number, item[2], item[3]))
            elif kind == "pid":  # a trial started in this worker (its own process group)
                with self._lock:
                    if number not in self._live:  # ended meanwhile (its result came first)
                        continue
                    self._pids[number] = item[2]
                    self._oom_kills[number] = memory.oom_kills()
                    prune = number in self._prune
                    self._prune.discard(number)
                if prune:
                    self._ask(item[2], ["prune", number])
            elif kind == "outcome":
                self._outcomes[number] = TrialOutcome(**item[2])
            elif kind == "expired":
                self._expired(number, item[2], orphaned=item[3])

    def _sample_peaks(self) -> None:
        with self._lock:
            running = list(self._pids.items())
        for number, pid in running:
            peak = memory.peak_memory(pid)
            with self._lock:
                if peak is not None and number in self._pids:  # not ended meanwhile
                    self._peaks[number] = max(peak, self._peaks.get(number, 0))

    def _expired(self, number: int, code: int | None, orphaned: bool = False) -> None:
        """A trial's worker died: its outcome if it sent one first, else the death's meaning
        (`orphaned`: the worker was lost with the fork server that forked it)."""
        outcome = self._outcomes.pop(number, None)
        with self._lock:
            before = self._oom_kills.pop(number, None)
            peak = self._peaks.pop(number, None)
        if outcome is not None:
            self._events.put(Finished.of(number, outcome))
            return
        if orphaned:
            self._events.put(Finished(number, TrialOutcome(peak_memory=peak), TrialState.FAILED,
                                      "its worker was lost: the fork server that started it "
                                      "was killed", lost=True))
            return
        after = memory.oom_kills() if before is not None else None
        killed = after is not None and before is not None and after > before
        event = death(code, peak, oom_killed=killed)
        event.number = number
        self._events.put(event)

    def _ask(self, pid: int, message: list[Any]) -> None:
        """Send a request to the worker `pid` (it reads them at the trial's next report)."""
        from nas_cli.execution._worker import control_address

        try:
            self._outbox.sendto(json.dumps(message).encode(), control_address(self._address, pid))
        except OSError:  # the worker is gone: nothing left to ask
            pass

    def prune(self, number: int, trial_dir: Path, reason: str) -> None:
        with self._lock:
            pid = self._pids.get(number)
            if pid is None:  # not started in its worker yet: asked when it starts
                self._prune.add(number)
                return
        self._ask(pid, ["prune", number])

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
        with self._lock:
            self._live.add(number)
        try:
            future = pool.schedule(_worker.run, timeout=timeout,
                                   args=(number, arch, str(trial_dir), env, self._payload))
        except Exception as exc:  # noqa: BLE001 - a broken pool: this trial fails, not the run
            with self._lock:
                self._live.discard(number)
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
        if self.gpus is None:  # nothing waits without GPU slots
            return
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
        from pebble import ProcessExpired

        from nas_cli.execution._worker import running

        exc = None if future.cancelled() else future.exception()
        expired = isinstance(exc, ProcessExpired)  # the worker died
        with self._lock:
            self._live.discard(number)
            self._futures.pop(number, None)
            cancelled = self._cancelled.pop(number, None)
            timeout = self._timeouts.pop(number, None)
            pid = self._pids.pop(number, None)
            self._prune.discard(number)
            if not expired:
                self._peaks.pop(number, None)
                self._oom_kills.pop(number, None)
        # A worker reported dead that still runs was forked by a fork server that died (its
        # exit statuses went with it): lost from outside, not the trial's doing.
        orphaned = expired and pid is not None and running(pid)
        if pid is not None and (cancelled is not None or future.cancelled() or exc is not None):
            _kill_group(pid)  # the worker was stopped or died: take what the trial started
        if self.gpus is not None:
            self.gpus.release(number)
            self._start_waiting()
        if cancelled is not None:
            self._outcomes.pop(number, None)
            self._events.put(Finished(number, state=cancelled[0], reason=cancelled[1]))
        elif future.cancelled():
            self._events.put(Finished(number, state=TrialState.INTERRUPTED, reason="cancelled"))
        elif isinstance(exc, TimeoutError):
            self._events.put(Finished(number, state=TrialState.FAILED,
                                      reason=f"timed out after {format_duration(timeout or 0)}"))
        elif isinstance(exc, ProcessExpired):  # decided by the pump, after whatever the
            self._post(["expired", number, exc.exitcode, orphaned])  # worker sent before
        elif exc is not None:  # pickling errors
            self._events.put(Finished(number, state=TrialState.FAILED,
                                      reason=f"{type(exc).__name__}: {exc}"))
        else:
            self._events.put(Finished.of(number, future.result()))

    def _post(self, message: list[Any]) -> None:
        """A message to this backend's own inbox: it queues behind what workers sent."""
        try:
            self._outbox.sendto(json.dumps(message).encode(), self._address)
        except OSError:  # shutting down
            pass

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
        self._post(["closed", -1])  # the pump waits on its inbox: wake it now, not in 0.2 s
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
        if self._inbox_dir is not None:
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
