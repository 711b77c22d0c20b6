"""The Ray backend, driver side: trials run on warm Ray actors (`_ray_actor`), on this machine
or on a Ray cluster.

Each actor unpickles the payload once, then runs one trial at a time with `cpus_per_trial`
CPUs and `trial_gpu_number` GPUs (Ray sets its CUDA_VISIBLE_DEVICES). What a trial reports
(intermediate results, its trial.log as it grows, its memory peak) streams back through a
small inbox actor while it runs; its other files come back with its outcome. This process
writes all of it: the driver is the only writer of the experiment folder, and a node never
needs to see it. Early stopping asks the trial's actor to stop at its next report.

A trial past its time limit, or cancelled, has its actor killed and replaced. A trial whose
worker or node was lost (a node died or was preempted, the actor was killed from outside)
ends as `lost`, for the engine to run again; one that ran out of memory fails with its peak,
and its actor is replaced. When the cluster's head stops answering, the run stops with one
line (`ClusterLost`) rather than being ended by Ray.

Ray is imported only when the backend starts: `import nas_cli.execution` stays light.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas_cli.durations import format_duration
from nas_cli.errors import ClusterLost, ExperimentError
from nas_cli.execution import _memory as memory
from nas_cli.execution._base import Backend, Event, Finished, Intermediate
from nas_cli.execution._ray_actor import Inbox, TrialActor
from nas_cli.trials import TrialOutcome, TrialState

_INBOX_WAIT_S = 5.0          # how long one inbox `take` call waits for results
_OBJECT_STORE_BYTES = 100 << 20  # a local Ray: the payload is small
_HEAD_CHECK_S = 1.0          # how often the driver checks that the cluster's head answers
_CHUNK = 8 << 20             # large trial files come back in pieces of this size


@dataclass
class _Slot:
    """One actor and the trial it runs."""

    actor: Any
    ready: Any = None                  # the pending `ready()` ObjectRef; None once it answered
    broken: str | None = None          # why the actor could not start
    number: int | None = None
    ref: Any = None                    # the running trial's ObjectRef
    trial_dir: Path | None = None
    timeout: float | None = None
    deadline: float | None = None      # monotonic time
    streamed: int = 0                  # how many intermediate results the driver has seen
    ticket: int = 0                    # this attempt's tag on what it reports
    log_base: int = 0                  # where this attempt's trial.log starts in the driver's
    peak: int | None = None            # the worker's memory peak, as last reported
    node: str | None = None            # where the actor runs (its `ready` answer)

    @property
    def idle(self) -> bool:
        return self.ready is None and self.broken is None and self.number is None

    @property
    def trial(self) -> int:
        """The number of the trial this busy slot runs."""
        if self.number is None:
            raise RuntimeError("an idle Ray slot has no trial")
        return self.number


def ray_gpus_per_trial(trial_gpu_number: int, max_trial_number_per_gpu: int = 1) -> float:
    """Ray's `num_gpus` for one trial: a fraction when several one-GPU trials share a GPU."""
    if trial_gpu_number == 1 and max_trial_number_per_gpu > 1:
        return 1.0 / max_trial_number_per_gpu
    return float(trial_gpu_number)


class RayBackend(Backend):
    """Trials on `concurrency` warm Ray actors.

    `address` None starts a private local Ray for the run (and stops it after); "auto",
    "host:6379" or "ray://host:10001" connect to a running cluster and leave it running. When
    Ray is already initialized in this process, the backend uses that connection as it is.
    `local_gpus` are the GPU ids a private local Ray may hand out.
    """

    def __init__(self, concurrency: int, *, address: str | None = None,
                 cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0,
                 local_gpus: Sequence[str] | None = None):
        self.concurrency = concurrency
        self.capacity = concurrency
        self.address = address
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_trial = gpus_per_trial
        self.local_gpus = list(local_gpus or [])
        if address is None and gpus_per_trial > 0 and self.local_gpus:
            self.capacity = min(concurrency,
                                math.floor(len(self.local_gpus) / gpus_per_trial + 1e-9))
        self._slots: list[_Slot] = []
        self._waiting: list[tuple[int, dict[str, Any], Path, float | None]] = []
        self._pending: list[Event] = []
        self._inbox: Any = None
        self._take: Any = None
        self._actor_class: Any = None
        self._payload_ref: Any = None
        self._owns_ray = False
        self._temp_dir: str | None = None
        self._started = False
        self._tickets = itertools.count(1)
        self._head: tuple[str, int] | None = None  # the GCS's host and port
        self._head_checked = 0.0
        self._lost = False                          # the head stopped answering

    # --- lifecycle ---

    def start(self, payload: bytes) -> None:
        import ray

        if self._started:  # a new payload (one-shot phases): fresh actors load it
            for slot in self._slots:
                _kill(ray, slot.actor)
            self._payload_ref = ray.put(payload)
            self._slots = [self._new_slot() for _ in range(self.concurrency)]
            return
        self._started = True
        if not ray.is_initialized():
            self._connect(ray)
            self._owns_ray = True
            _quiet_driver(ray)
        self._head = _head_address(ray)
        self._payload_ref = ray.put(payload)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        self._inbox = ray.remote(Inbox).options(num_cpus=0, scheduling_strategy=here).remote()
        self._take = self._inbox.take.remote(_INBOX_WAIT_S)
        self._actor_class = ray.remote(TrialActor).options(
            num_cpus=self.cpus_per_trial, num_gpus=self.gpus_per_trial, max_restarts=0,
            max_task_retries=0, max_concurrency=2)  # `stop` and `read` answer during `run`
        self._slots = [self._new_slot() for _ in range(self.concurrency)]

    def _connect(self, ray: Any) -> None:
        """Start a private local Ray, or connect to the cluster at `address`."""
        saved = _signal_handlers()  # a local Ray head installs its own SIGTERM handler
        try:
            if self.address is None:
                self._start_local(ray)
                return
            _check_reachable(self.address)
            kwargs: dict[str, Any] = {"logging_level": logging.ERROR}
            if not self.address.startswith("ray://"):
                kwargs["log_to_driver"] = False
            try:
                ray.init(address=self.address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise ExperimentError(
                    f"training_service.address: cannot connect to Ray at {self.address!r} "
                    f"({type(exc).__name__}: {first}); is a cluster running there (`ray start "
                    "--head`)? One with token authentication needs RAY_AUTH_MODE=token and "
                    "its token here too") from None
        finally:
            _restore_signal_handlers(saved)

    def _start_local(self, ray: Any) -> None:
        cpus = max(os.cpu_count() or 1, math.ceil(self.concurrency * self.cpus_per_trial))
        self._temp_dir = tempfile.mkdtemp(prefix="nas-ray-", dir="/tmp")  # sockets: short path
        gpus = self.local_gpus if self.gpus_per_trial > 0 else []
        saved_cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
        if gpus:  # Ray hands out the ids it sees there
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
        try:
            ray.init(address="local", num_cpus=cpus, num_gpus=len(gpus),
                     include_dashboard=False, object_store_memory=_OBJECT_STORE_BYTES,
                     _temp_dir=self._temp_dir, log_to_driver=False, configure_logging=True,
                     logging_level=logging.ERROR)
        finally:
            if saved_cvd is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = saved_cvd

    def _new_slot(self) -> _Slot:
        threads = max(1, int(self.cpus_per_trial))
        actor = self._actor_class.remote(self._payload_ref, self._inbox, threads,
                                         self.gpus_per_trial > 0, [p for p in sys.path if p])
        return _Slot(actor=actor, ready=actor.ready.remote())

    def shutdown(self) -> None:
        if not self._started:
            return
        self._started = False
        import ray

        try:
            if ray.is_initialized() and not self._lost:  # a lost cluster took its actors along
                for slot in self._slots:
                    _kill(ray, slot.actor)
                _kill(ray, self._inbox)
        finally:
            self._slots, self._waiting, self._take = [], [], None
            if self._owns_ray:
                self._owns_ray = False
                ray.shutdown()
            if self._temp_dir is not None:
                shutil.rmtree(self._temp_dir, ignore_errors=True)
                self._temp_dir = None

    # --- trials ---

    def submit(self, number: int, arch: dict[str, Any], trial_dir: Path,
               timeout: float | None) -> None:
        self._waiting.append((number, arch, trial_dir, timeout))
        self._dispatch()

    def cancel(self, number: int, state: TrialState, reason: str) -> None:
        for item in self._waiting:
            if item[0] == number:
                self._waiting.remove(item)
                self._pending.append(Finished(number, state=state, reason=reason))
                return
        for slot in self._slots:
            if slot.number == number:
                self._stop(slot, state, reason)
                return

    def prune(self, number: int, trial_dir: Path, reason: str) -> None:
        """Ask the trial's actor to stop it at its next intermediate report."""
        for slot in self._slots:
            if slot.number == number:
                slot.actor.stop.remote(number)
                return

    def events(self, timeout: float) -> list[Event]:
        import ray

        end = time.monotonic() + timeout
        while not self._pending:
            self._check_head()
            self._expire()
            self._dispatch()
            refs = self._watched()
            now = time.monotonic()
            wait = min([end, now + _HEAD_CHECK_S,
                        *(s.deadline for s in self._slots if s.deadline)]) - now
            if self._pending or now >= end or not refs:
                if not refs and not self._pending:
                    time.sleep(max(0.0, end - now))
                break
            ready, _ = ray.wait(refs, num_returns=1, timeout=max(0.0, wait))
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
                self._check_head()  # before reading: Ray ends a driver whose node is gone
                for ref in ready:
                    self._arrived(ray, ref)
        events, self._pending = self._pending, []
        return events

    def _check_head(self) -> None:
        """Stop with one line when the cluster's head no longer answers (a restarted or lost
        head node): reading from a dead local Ray would end this process without a word."""
        now = time.monotonic()
        if self._head is None or now - self._head_checked < _HEAD_CHECK_S:
            return
        self._head_checked = now
        try:
            socket.create_connection(self._head, timeout=2).close()
        except OSError as exc:
            self._lost = True
            host, port = self._head
            raise ClusterLost(
                f"lost the Ray cluster: its head at {host}:{port} stopped answering "
                f"({exc.strerror or exc}); running trials are interrupted") from None

    def _watched(self) -> list[Any]:
        refs = [self._take] if self._take is not None else []
        for slot in self._slots:
            if slot.ready is not None:
                refs.append(slot.ready)
            elif slot.ref is not None:
                refs.append(slot.ref)
        return refs

    def _dispatch(self) -> None:
        """Start waiting trials on idle actors (an actor that could not start is retried only
        when a trial waits, and then that trial fails if it cannot start again)."""
        while self._waiting:
            slot = next((s for s in self._slots if s.idle), None)
            if slot is None:
                broken = next((s for s in self._slots if s.broken), None)
                if broken is not None:
                    self._replace(broken)
                return
            number, arch, trial_dir, timeout = self._waiting.pop(0)
            slot.number, slot.trial_dir, slot.timeout = number, trial_dir, timeout
            slot.deadline = time.monotonic() + timeout if timeout else None
            slot.ticket, slot.peak = next(self._tickets), None
            slot.log_base = _size(trial_dir / "trial.log")  # a rerun's log goes after the last
            slot.ref = slot.actor.run.remote(slot.ticket, number, arch)

    def _expire(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            if slot.deadline is not None and now >= slot.deadline:
                self._stop(slot, TrialState.FAILED,
                           f"timed out after {format_duration(slot.timeout or 0)}")

    def _arrived(self, ray: Any, ref: Any) -> None:
        if ref is self._take:
            try:
                items = ray.get(ref)
            except ray.exceptions.RayError:  # the inbox's node died: no more live progress
                self._take = None
                return
            self._received(items)
            self._take = self._inbox.take.remote(_INBOX_WAIT_S)
            return
        for slot in self._slots:
            if ref is slot.ready:
                try:
                    slot.node = ray.get(ref)
                    slot.ready = None
                except ray.exceptions.RayError as exc:
                    self._broken(slot, _actor_error(exc))
                return
            if ref is slot.ref:
                self._finished(ray, slot)
                return

    def _received(self, items: list[tuple[Any, ...]]) -> None:
        """What running trials reported; items of attempts that already ended are dropped
        (their outcome had everything)."""
        running = {slot.ticket: slot for slot in self._slots if slot.number is not None}
        for item in items:
            slot = running.get(item[1])
            if slot is None:
                continue
            if item[0] == "i":
                _, _, index, step, value = item
                if index >= slot.streamed:
                    slot.streamed = index + 1
                    self._pending.append(Intermediate(slot.trial, step, value))
            elif item[0] == "log" and slot.trial_dir is not None:
                _write_at(slot.trial_dir / "trial.log", slot.log_base + item[2], item[3])
            elif item[0] == "mem":
                slot.peak = max(item[2], slot.peak or 0)

    def _broken(self, slot: _Slot, reason: str) -> None:
        """An actor failed to start: the first waiting trial fails with the reason."""
        slot.ready, slot.broken = None, reason
        if self._waiting:
            number = self._waiting.pop(0)[0]
            self._pending.append(Finished(number, state=TrialState.FAILED,
                                          reason=f"worker failed to start: {reason}"))

    def _finished(self, ray: Any, slot: _Slot) -> None:
        number, trial_dir, streamed = slot.trial, slot.trial_dir, slot.streamed
        try:
            outcome, large = ray.get(slot.ref)
        except (ray.exceptions.RayActorError, ray.exceptions.OutOfMemoryError) as exc:
            self._pending.append(_lost(number, exc, slot))
            self._replace(slot)
            return
        except ray.exceptions.RayError as exc:
            self._pending.append(Finished(number, state=TrialState.FAILED,
                                          reason=_task_error(exc)))
            self._release(slot)
            return
        if trial_dir is not None:
            self._save_files(slot, trial_dir, outcome.files, large)
        outcome.files = {}
        for step, value in outcome.intermediate[streamed:]:  # not streamed yet
            self._pending.append(Intermediate(number, step, value))
        self._pending.append(Finished.of(number, outcome))
        if outcome.out_of_memory:  # what the trial left may fill the worker again
            self._replace(slot)
        else:
            self._release(slot)

    def _save_files(self, slot: _Slot, trial_dir: Path, files: dict[str, bytes],
                    large: dict[str, int]) -> None:
        """Write a finished trial's files into trials/<n>/ (the log from where this attempt's
        began); fetch the large ones from its actor piece by piece."""
        import ray

        trial_dir.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            if name == "trial.log":
                _write_at(trial_dir / name, slot.log_base, data, truncate=True)
            else:
                _write_file(trial_dir / name, data)
        for name, size in large.items():
            target = trial_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(target, "wb") as handle:
                    for offset in range(0, size, _CHUNK):
                        handle.write(ray.get(slot.actor.read.remote(name, offset, _CHUNK)))
            except ray.exceptions.RayError as exc:
                _write_at(trial_dir / "trial.log", _size(trial_dir / "trial.log"),
                          f"{name}: could not be copied from {slot.node}: {exc}\n".encode())
        if large:
            slot.actor.release.remote()

    def _stop(self, slot: _Slot, state: TrialState, reason: str) -> None:
        """End the slot's trial now (time limit, pruning, stop): kill its actor, start another."""
        self._pending.append(Finished(slot.trial, state=state, reason=reason))
        self._replace(slot)

    def _release(self, slot: _Slot) -> None:
        slot.number = slot.ref = slot.trial_dir = slot.timeout = slot.deadline = None
        slot.streamed = 0

    def _replace(self, slot: _Slot) -> None:
        import ray

        _kill(ray, slot.actor)
        fresh = self._new_slot()
        self._slots[self._slots.index(slot)] = fresh


def _lost(number: int, exc: BaseException, slot: _Slot) -> Finished:
    """A trial whose actor died: out of memory (Ray's memory monitor ended it; not retried),
    or lost with its worker or node (retried)."""
    text = str(getattr(exc, "error_msg", None) or exc)
    if type(exc).__name__ == "OutOfMemoryError" or "memory pressure" in text or \
            "low on memory" in text:
        used = re.search(r"was ([\d.]+GB) used / ([\d.]+GB) limit", text)
        detail = f" (node memory {used.group(1)} of {used.group(2)})" if used else ""
        reason = memory.out_of_memory_reason("cpu", slot.peak) + \
            f": Ray's memory monitor ended the worker{detail}"
        return Finished(number, TrialOutcome(error=reason, peak_memory=slot.peak,
                                             out_of_memory=True, node=slot.node),
                        TrialState.FAILED, reason)
    if getattr(exc, "preempted", False) or "node has died" in text or "node died" in text:
        why = re.search(r"the actor's node was terminated[^:]*: (.*)", text)
        reason = f"node {slot.node or '?'} lost" + (f": {why.group(1).strip()}" if why else "")
    else:
        reason = f"worker died: {_actor_error(exc)}"
    return Finished(number, TrialOutcome(peak_memory=slot.peak, node=slot.node),
                    TrialState.FAILED, reason, lost=True)


# --- helpers ---------------------------------------------------------------------------------


def _kill(ray: Any, actor: Any) -> None:
    if actor is None:
        return
    try:
        ray.kill(actor, no_restart=True)
    except Exception:  # noqa: BLE001 - already dead, or the connection is gone
        pass


def _actor_error(exc: BaseException) -> str:
    """Ray's many-line actor death message as one line: why, which process, which node."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(getattr(exc, "error_msg", None) or exc))
    if getattr(exc, "actor_init_failed", False):  # the traceback's last line: "Type: message"
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1][:300] if lines else type(exc).__name__
    detail = re.search(r"Worker exit detail: (.*?)(?:\. |\.?$)", text, re.S)
    if detail and "connection error" in detail.group(1):  # Ray's words for a vanished process
        why = "its process ended unexpectedly (a crash, an exit, or the OOM killer)"
    elif detail:
        why = detail.group(1).strip()
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        why = next((line for line in lines if "dead because" in line or "died because" in line),
                   lines[0] if lines else type(exc).__name__).split(". ")[0]
    pid = re.search(r"pid: (\d+)", text)
    ip = re.search(r"ip: ([\w.:-]+)", text)
    where = ", ".join(x for x in (pid and f"pid {pid.group(1)}", ip and f"node {ip.group(1)}") if x)
    why = why.rstrip(".")
    line = f"{why} ({where})" if where else why
    return line if len(line) <= 300 else line[:297] + "..."


def _task_error(exc: BaseException) -> str:
    """A task's exception as 'Type: message' (Ray wraps it in RayTaskError)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    from nas_cli.execution._trial import short_error

    return short_error(exc)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _write_at(path: Path, offset: int, data: bytes, truncate: bool = False) -> None:
    """Write `data` at `offset` of `path` (made if missing); with `truncate`, it ends there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, data, offset)
        if truncate:
            os.ftruncate(fd, offset + len(data))
    finally:
        os.close(fd)


def _write_file(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _head_address(ray: Any) -> tuple[str, int] | None:
    """The cluster head's GCS address ("host:port"), to check that it still answers."""
    try:
        host, _, port = ray.get_runtime_context().gcs_address.rpartition(":")
        return host, int(port)
    except Exception:  # noqa: BLE001 - Ray Client, or a Ray that does not say
        return None


def _quiet_driver(ray: Any) -> None:
    """Ray prints node deaths and worker crashes to this process's stdout as many-line dumps;
    the backend reports each as one line on its trial, so that printing is switched off (the
    switch Ray's own debugger uses while it holds the terminal)."""
    worker = getattr(getattr(ray, "_private", None), "worker", None)
    if worker is not None and hasattr(worker, "_worker_logs_enabled"):
        worker._worker_logs_enabled = False


def _check_reachable(address: str) -> None:
    """Fail at once, not after minutes of Ray's retries, when nothing listens at host:port."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():  # "auto", or a form Ray resolves itself
        return
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise ExperimentError(
            f"training_service.address: nothing answers at {address!r} ({exc.strerror or exc}); "
            "start a cluster there with `ray start --head`, or leave the address out to run "
            "Ray on this machine") from None


def _signal_handlers() -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(saved: dict[int, Any]) -> None:
    for sig, handler in saved.items():
        if handler is not None:
            signal.signal(sig, handler)
