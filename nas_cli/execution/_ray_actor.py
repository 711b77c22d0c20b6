"""The Ray backend's side that runs in Ray's worker processes, on any node: the trial actor,
and the inbox that carries what trials report to the driver while they run.

A trial never writes the driver's experiment folder (a node may not see it): it runs in a
folder of its own on its node. Its trial.log streams to the driver as it grows; the other
files (metrics, kept checkpoints) travel back with its outcome, larger ones in chunks the
driver asks for. Ray is imported only inside methods: the actor classes are made remote by
the driver.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from nas_cli.trials import TrialOutcome

REPORT_INTERVAL_S = 0.2   # a worker sends what it reports at most this often
LOG_INTERVAL_S = 0.5      # how often a running trial's log and memory peak are read
LOG_CHUNK = 1 << 20       # the most of a log sent at once
SHIPPED_FILE_LIMIT = 16 << 20  # a trial file larger than this comes back in chunks

# Items on their way to the driver, each tagged with the trial's `ticket` (one per attempt):
#   ("i", ticket, index, step, value)   an intermediate result (index: 0, 1, ... per attempt)
#   ("log", ticket, offset, data)       bytes of trial.log from `offset`
#   ("mem", ticket, peak)               the worker's peak memory so far, in bytes
Item = tuple[Any, ...]


class Inbox:
    """What trials report, waiting for the driver: an async actor whose `take` waits until
    something arrives (so the driver sees it at once without polling)."""

    def __init__(self) -> None:
        self._items: list[Item] = []
        self._arrived: Any = None

    def _event(self) -> Any:
        import asyncio

        if self._arrived is None:
            self._arrived = asyncio.Event()
        return self._arrived

    async def put(self, items: list[Item]) -> None:
        self._items.extend(items)
        self._event().set()

    async def take(self, wait: float) -> list[Item]:
        import asyncio

        if not self._items:
            try:
                await asyncio.wait_for(self._event().wait(), wait)
            except TimeoutError:
                pass
        items, self._items = self._items, []
        self._event().clear()
        return items


class Reporter:
    """A worker's items on their way to the inbox: the first at once, then at most one batch
    every REPORT_INTERVAL_S (a trial's outcome carries its results and log anyway)."""

    def __init__(self, inbox: Any):
        self.inbox = inbox
        self._batch: list[Item] = []
        self._lock = threading.Lock()
        self._sent = 0.0
        self._timer: threading.Timer | None = None

    def put(self, item: Item) -> None:
        with self._lock:
            self._batch.append(item)
            wait = self._sent + REPORT_INTERVAL_S - time.monotonic()
            if wait <= 0:
                self._send()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        with self._lock:
            self._timer = None
            self._send()

    def discard(self) -> None:
        """The trial ended: what is still unsent travels with its outcome."""
        with self._lock:
            self._batch = []

    def _send(self) -> None:
        if self._batch:
            self.inbox.put.remote(self._batch)
            self._batch, self._sent = [], time.monotonic()


class _Watch(threading.Thread):
    """While a trial runs: the new part of its trial.log, and its worker's memory peak."""

    def __init__(self, log: Path, ticket: int, reporter: Reporter):
        super().__init__(name="nas-trial-watch", daemon=True)
        self.log, self.ticket, self.reporter = log, ticket, reporter
        self.sent = 0
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        from nas_cli.execution._memory import peak_memory

        while not self.done.wait(LOG_INTERVAL_S):
            try:
                with open(self.log, "rb") as handle:
                    handle.seek(self.sent)
                    data = handle.read(LOG_CHUNK)
            except OSError:
                data = b""
            if data:
                self.reporter.put(("log", self.ticket, self.sent, data))
                self.sent += len(data)
            peak = peak_memory() or 0
            if peak > self.peak:
                self.peak = peak
                self.reporter.put(("mem", self.ticket, peak))

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=2)


class TrialActor:
    """A warm worker: threads and the payload once, then `run` one trial per call. Its methods
    run on two threads, so `stop` and `read` answer while a trial runs."""

    def __init__(self, payload: bytes, inbox: Any, threads: int, gpus: bool,
                 paths: list[str] | None = None):
        for path in paths or []:  # the driver's import path, where it exists on this node
            if path not in sys.path and os.path.isdir(path):
                sys.path.append(path)
        env = {name: str(threads) for name in
               ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        if not gpus:  # Ray leaves CUDA_VISIBLE_DEVICES alone for actors without GPUs
            env["CUDA_VISIBLE_DEVICES"] = ""
        os.environ.update(env)
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:
            pass
        from nas_cli.execution._payload import load_payload

        self.payload = load_payload(payload)
        if gpus:  # Ray gave this actor its GPUs: train on them
            self.payload.device = "cuda"
        self.reporter = Reporter(inbox)
        self.node = node_name()
        self._stop: set[int] = set()
        self._kept: Path | None = None  # the last trial's folder, until its large files are read

    def ready(self) -> str:
        return self.node

    def stop(self, number: int) -> None:
        """Early stopping: trial `number` stops at its next intermediate report."""
        self._stop.add(number)

    def run(self, ticket: int, number: int,
            arch: dict[str, Any]) -> tuple[TrialOutcome, dict[str, int]]:
        """One trial, in a folder of this node's own. Returns its outcome, with its files up
        to SHIPPED_FILE_LIMIT each, and {name: size} of the larger ones (`read` them, then
        `release`)."""
        from nas_cli.execution._trial import execute

        self.release()
        index = itertools.count()

        def report(step: int, value: float) -> None:
            self.reporter.put(("i", ticket, next(index), step, value))

        folder = Path(tempfile.mkdtemp(prefix=f"nas-trial-{number}-"))
        watch = _Watch(folder / "trial.log", ticket, self.reporter)
        watch.start()
        try:
            outcome = execute(self.payload, number, arch, folder, report,
                              should_stop=lambda: number in self._stop)
        finally:
            watch.stop()
            self.reporter.discard()
            self._stop.discard(number)
        outcome.node = self.node
        outcome.files, large = collect_files(folder)
        if large:
            self._kept = folder
        else:
            shutil.rmtree(folder, ignore_errors=True)
        return outcome, large

    def read(self, name: str, offset: int, size: int) -> bytes:
        """A chunk of a large file of the last trial."""
        if self._kept is None:
            return b""
        with open(self._kept / name, "rb") as handle:
            handle.seek(offset)
            return handle.read(size)

    def release(self) -> None:
        """The driver has the last trial's files: remove its folder."""
        if self._kept is not None:
            shutil.rmtree(self._kept, ignore_errors=True)
            self._kept = None


def node_name() -> str:
    """'ip/node-id-prefix': which node this is, also among several on one machine."""
    try:
        import ray

        node_id = ray.get_runtime_context().get_node_id()
        return f"{ray.util.get_node_ip_address()}/{node_id[:8]}"
    except Exception:  # noqa: BLE001 - outside Ray (tests)
        import socket

        return socket.gethostname()


def collect_files(folder: Path) -> tuple[dict[str, bytes], dict[str, int]]:
    """A trial folder's files: the small ones' contents, and the sizes of the large ones."""
    files: dict[str, bytes] = {}
    large: dict[str, int] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        size = path.stat().st_size
        if size > SHIPPED_FILE_LIMIT:
            large[name] = size
        else:
            files[name] = path.read_bytes()
    return files, large
