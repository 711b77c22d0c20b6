"""Code that runs inside a warm worker process (forked from the fork server, or spawned): set
threads, load the payload once, then run many trials. Imports torch only in `initialize`."""

from __future__ import annotations

import dataclasses
import json
import os
import select
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from nas_cli.trials import TrialOutcome

_payload: Any = None
_payload_key: bytes | None = None
_load_error: str | None = None
_events: Any = None
_control: socket.socket | None = None  # the driver's requests to this worker (prune)
_stop: set[int] = set()                # trials the driver asked to stop at their next report

RETIRED = 75  # exit code of a worker that ended itself after a trial ran out of memory


def _die_with_driver(driver: int) -> None:
    """When the driver dies (even by SIGKILL), end this worker and everything its trial started
    (its process group). A watchdog thread rather than the kernel's parent-death signal, so
    that the trial's own child processes go too; it watches the driver, which is not this
    worker's parent when the fork server forked it (the server lives as long as its workers)."""
    try:
        handle: int | None = os.pidfd_open(driver)  # readable once the driver has ended
    except ProcessLookupError:
        os.killpg(0, signal.SIGKILL)
        return
    except (AttributeError, OSError):  # no pidfd here (an old kernel): look every 0.5 s
        handle = None
    parent = os.getppid()

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])
        else:
            while os.getppid() == parent and running(driver):
                time.sleep(0.5)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="nas-driver-watchdog", daemon=True).start()


def running(pid: int) -> bool:
    """Whether the process `pid` runs (exists and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's: it exists
        pass
    return True


def initialize(events: Any, threads: int, env: dict[str, str],
               warm_imports: tuple[str, ...] = (), driver: int | None = None) -> None:
    """Once per worker, before the driver has even built the space: the driver's environment
    (`env`: all of it), torch threads, and the heavy imports (torch; Lightning for the training
    evaluators), done already in a worker forked from the fork server."""
    global _events
    os.environ.clear()
    os.environ.update(env)
    try:  # own process group: stopping the worker also stops what it started
        os.setpgid(0, 0)
    except OSError:
        pass
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # forked from the server, which
        signal.signal(signal.SIGINT, signal.default_int_handler)  # ignores Ctrl-C: as spawned
    _die_with_driver(driver or os.getppid())
    import importlib

    import torch

    torch.set_num_threads(max(1, threads))
    try:
        torch.set_num_interop_threads(max(1, threads))
    except RuntimeError:
        pass
    _events = _Outbox(events) if events else None
    if events:
        _listen(control_address(events, os.getpid()))
    for module in ("nas_cli.nn", "nas_cli.space._freeze", "nas_cli.execution._trial", *warm_imports):
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - only a warm-up; the trial reports real errors
            pass


class _Outbox:
    """Sends small JSON messages to the driver's datagram socket (each send is atomic: a
    worker killed mid-send cannot block the others)."""

    def __init__(self, address: str):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def put(self, item: tuple[Any, ...]) -> None:
        self.send(json.dumps(item).encode())

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendto(data, self.address)
        except OSError:  # the driver is gone or closing: nobody listens any more
            pass


def control_address(events: str, pid: int) -> str:
    """Where the worker `pid` listens for the driver's requests (next to the driver's inbox)."""
    return os.path.join(os.path.dirname(events), f"w-{pid}")


def _listen(address: str) -> None:
    global _control
    _control = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    _control.bind(address)
    _control.setblocking(False)


def _asked_to_stop(number: int) -> bool:
    """Whether the driver asked trial `number` to stop (read at each intermediate report)."""
    while _control is not None:
        try:
            message = json.loads(_control.recv(4096))
        except (BlockingIOError, InterruptedError):
            break
        except (OSError, ValueError):
            continue
        if message[0] == "prune":
            _stop.add(int(message[1]))
    return number in _stop


def outcome_message(number: int, outcome: TrialOutcome) -> bytes:
    """A trial's outcome as one datagram (well under the socket's size limit: the traceback is
    cut, and a long curve is left out; the driver has it from the intermediate reports)."""
    data = dataclasses.asdict(outcome)
    data.pop("files")
    if data["traceback"] and len(data["traceback"]) > 16000:
        data["traceback"] = "...\n" + data["traceback"][-16000:]
    text = json.dumps(["outcome", number, data])
    if len(text) > 60000:
        data["intermediate"] = []
        text = json.dumps(["outcome", number, data])
    return text.encode()


def _load(payload: bytes) -> None:
    """Unpickle the payload once per worker (trials carry it; it is the same for all); a
    failure is kept and reported by every trial."""
    global _payload, _payload_key, _load_error
    import hashlib

    from nas_cli.execution._payload import load_payload

    key = hashlib.blake2b(payload, digest_size=16).digest()
    if key == _payload_key:
        return
    _payload_key, _payload, _load_error = key, None, None
    try:
        _payload = load_payload(payload)
    except BaseException as exc:  # noqa: BLE001 - the user's module ran while unpickling
        from nas_cli.execution._trial import short_error

        _load_error = f"the worker could not load the model space: {short_error(exc)}"


def run(number: int, arch: dict[str, Any], trial_dir: str, env: dict[str, str],
        payload: bytes) -> TrialOutcome:
    """One trial in this worker; intermediate results stream to the driver as they come.
    The trial's environment (its GPUs) is set before the payload is first unpickled, so user
    code run while unpickling cannot start CUDA on the wrong devices."""
    from nas_cli.execution._trial import execute

    os.environ.update(env)
    _load(payload)
    if _load_error is not None:
        return TrialOutcome(error=_load_error, duration_s=0.0)
    trial_payload = _payload
    if env.get("CUDA_VISIBLE_DEVICES"):  # the trial holds GPUs: train on them
        trial_payload = dataclasses.replace(trial_payload, device="cuda")

    if _events is not None:  # the driver kills this process group if the trial must stop
        _events.put(("pid", number, os.getpid()))

    def report(step: int, value: float) -> None:
        if _events is not None:
            _events.put(("i", number, step, value))

    try:
        outcome = execute(trial_payload, number, arch, Path(trial_dir), report,
                          should_stop=lambda: _asked_to_stop(number))
    finally:
        _end_children()
        _stop.discard(number)
    if outcome.out_of_memory and _events is not None:
        # What the trial left behind may fill this worker again: the outcome goes to the
        # driver by datagram (before this process ends, so it arrives first) and a fresh
        # worker takes this one's place.
        _events.send(outcome_message(number, outcome))
        os._exit(RETIRED)
    return outcome


def _end_children() -> None:
    """Processes a finished trial left running (its own children) end with it (Linux)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as handle:
                children = [int(pid) for pid in handle.read().split()]
        except (OSError, ValueError):
            continue
        for pid in children:
            try:
                if os.getpgid(pid) == pid:  # a child that leads its own group: take the group
                    os.killpg(pid, signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
