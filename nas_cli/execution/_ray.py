"""The Ray backend: trials run on warm Ray actors, on this machine or on a Ray cluster.

Each actor unpickles the payload once, then runs one trial at a time with `cpus_per_trial`
CPUs and `trial_gpu_number` GPUs (Ray sets its CUDA_VISIBLE_DEVICES). Intermediate results
stream back through a small inbox actor while trials run (in batches, at most a few a second
per actor); every one of them reaches the driver once, before its trial's end. The driver stays
the only writer of the store. A trial past its time limit, or cancelled, has its actor killed
and replaced; a trial whose actor (or node) dies fails alone, and its actor is replaced too.

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

from nas_cli.errors import ExperimentError
from nas_cli.execution._base import Backend, Event, Finished, Intermediate, format_duration
from nas_cli.trials import TrialOutcome, TrialState

_INBOX_WAIT_S = 5.0          # how long one inbox `take` call waits for results
_REPORT_INTERVAL_S = 0.2     # a worker sends its intermediate results at most this often
_SHIPPED_FILE_LIMIT = 64 << 20  # trial files larger than this stay on a remote node
_OBJECT_STORE_BYTES = 100 << 20  # a local Ray: the payload is small


# --- what runs in Ray's worker processes -----------------------------------------------------


class _Inbox:
    """Intermediate results on their way to the driver: an async actor whose `take` waits
    until some arrive (so the driver sees them at once without polling)."""

    def __init__(self) -> None:
        self._items: list[tuple[int, int, int, float]] = []  # (trial, index, step, value)
        self._arrived: Any = None

    def _event(self) -> Any:
        import asyncio

        if self._arrived is None:
            self._arrived = asyncio.Event()
        return self._arrived

    async def put(self, items: list[tuple[int, int, int, float]]) -> None:
        self._items.extend(items)
        self._event().set()

    async def take(self, wait: float) -> list[tuple[int, int, int, float]]:
        import asyncio

        if not self._items:
            try:
                await asyncio.wait_for(self._event().wait(), wait)
            except TimeoutError:
                pass
        items, self._items = self._items, []
        self._event().clear()
        return items


class _Reporter:
    """A worker's intermediate results on their way to the inbox: the first at once, then at
    most one batch every _REPORT_INTERVAL_S (a trial's outcome carries them all anyway)."""

    def __init__(self, inbox: Any):
        self.inbox = inbox
        self._batch: list[tuple[int, int, int, float]] = []
        self._lock = threading.Lock()
        self._sent = 0.0
        self._timer: threading.Timer | None = None

    def put(self, item: tuple[int, int, int, float]) -> None:
        with self._lock:
            self._batch.append(item)
            wait = self._sent + _REPORT_INTERVAL_S - time.monotonic()
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


class _TrialActor:
    """A warm worker: threads and the payload once, then `run` one trial per call."""

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
        self.reporter = _Reporter(inbox)

    def ready(self) -> str:
        return socket.gethostname()

    def run(self, number: int, arch: dict[str, Any], trial_dir: str) -> TrialOutcome:
        """One trial. On a node that does not see the driver's trial folder, the trial writes
        into a local one and its files travel back in the outcome (`files`)."""
        from nas_cli.execution._trial import execute

        index = itertools.count()

        def report(step: int, value: float) -> None:
            self.reporter.put((number, next(index), step, value))

        folder = Path(trial_dir)
        try:
            if folder.is_dir():
                return execute(self.payload, number, arch, folder, report)
            local = Path(tempfile.mkdtemp(prefix=f"nas-trial-{number}-"))
            try:
                outcome = execute(self.payload, number, arch, local, report)
                outcome.files = _collect_files(local, socket.gethostname())
            finally:
                shutil.rmtree(local, ignore_errors=True)
            return outcome
        finally:
            self.reporter.discard()


def _collect_files(folder: Path, host: str) -> dict[str, bytes]:
    """A trial folder's files, for the driver to write; a note in the log for the too large."""
    files: dict[str, bytes] = {}
    notes = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if path.stat().st_size > _SHIPPED_FILE_LIMIT:
            notes.append(f"{name}: too large to copy back from {host}; not kept\n")
        else:
            files[name] = path.read_bytes()
    if notes:
        files["trial.log"] = files.get("trial.log", b"") + "".join(notes).encode()
    return files


# --- the driver side -------------------------------------------------------------------------


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

    @property
    def idle(self) -> bool:
        return self.ready is None and self.broken is None and self.number is None


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

    # --- lifecycle ---

    def start(self, payload: bytes) -> None:
        import ray

        self._started = True
        if not ray.is_initialized():
            self._connect(ray)
            self._owns_ray = True
        self._payload_ref = ray.put(payload)
        self._inbox = ray.remote(_Inbox).options(num_cpus=0).remote()
        self._take = self._inbox.take.remote(_INBOX_WAIT_S)
        self._actor_class = ray.remote(_TrialActor).options(
            num_cpus=self.cpus_per_trial, num_gpus=self.gpus_per_trial, max_restarts=0,
            max_task_retries=0)
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
            if ray.is_initialized():
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

    def events(self, timeout: float) -> list[Event]:
        import ray

        end = time.monotonic() + timeout
        while not self._pending:
            self._expire()
            self._dispatch()
            refs = self._watched()
            now = time.monotonic()
            wait = min([end, *(s.deadline for s in self._slots if s.deadline)]) - now
            if self._pending or now >= end or not refs:
                if not refs and not self._pending:
                    time.sleep(max(0.0, end - now))
                break
            ready, _ = ray.wait(refs, num_returns=1, timeout=max(0.0, wait))
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
                for ref in ready:
                    self._arrived(ray, ref)
        events, self._pending = self._pending, []
        return events

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
            slot.ref = slot.actor.run.remote(number, arch, str(trial_dir))

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
            running = {slot.number: slot for slot in self._slots if slot.number is not None}
            for number, index, step, value in items:
                slot = running.get(number)
                if slot is not None and index >= slot.streamed:  # late ones: in the outcome
                    slot.streamed = index + 1
                    self._pending.append(Intermediate(number, step, value))
            self._take = self._inbox.take.remote(_INBOX_WAIT_S)
            return
        for slot in self._slots:
            if ref is slot.ready:
                try:
                    ray.get(ref)
                    slot.ready = None
                except ray.exceptions.RayError as exc:
                    self._broken(slot, _actor_error(exc))
                return
            if ref is slot.ref:
                self._finished(ray, slot)
                return

    def _broken(self, slot: _Slot, reason: str) -> None:
        """An actor failed to start: the first waiting trial fails with the reason."""
        slot.ready, slot.broken = None, reason
        if self._waiting:
            number = self._waiting.pop(0)[0]
            self._pending.append(Finished(number, state=TrialState.FAILED,
                                          reason=f"worker failed to start: {reason}"))

    def _finished(self, ray: Any, slot: _Slot) -> None:
        number, trial_dir, streamed = slot.number, slot.trial_dir, slot.streamed
        try:
            outcome = ray.get(slot.ref)
        except ray.exceptions.RayActorError as exc:
            self._pending.append(Finished(number, state=TrialState.FAILED,
                                          reason=f"worker died: {_actor_error(exc)}"))
            self._replace(slot)
            return
        except ray.exceptions.RayError as exc:
            self._pending.append(Finished(number, state=TrialState.FAILED,
                                          reason=_task_error(exc)))
            self._release(slot)
            return
        self._release(slot)
        for step, value in outcome.intermediate[streamed:]:  # not streamed yet
            self._pending.append(Intermediate(number, step, value))
        files, outcome.files = outcome.files, {}
        if files and trial_dir is not None:
            _write_files(trial_dir, files)
        self._pending.append(Finished.of(number, outcome))

    def _stop(self, slot: _Slot, state: TrialState, reason: str) -> None:
        """End the slot's trial now (time limit, pruning, stop): kill its actor, start another."""
        self._pending.append(Finished(slot.number, state=state, reason=reason))
        self._replace(slot)

    def _release(self, slot: _Slot) -> None:
        slot.number = slot.ref = slot.trial_dir = slot.timeout = slot.deadline = None
        slot.streamed = 0

    def _replace(self, slot: _Slot) -> None:
        import ray

        _kill(ray, slot.actor)
        fresh = self._new_slot()
        self._slots[self._slots.index(slot)] = fresh


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


def _write_files(trial_dir: Path, files: dict[str, bytes]) -> None:
    trial_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        target = trial_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab" if name == "trial.log" else "wb") as handle:
            handle.write(data)


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
