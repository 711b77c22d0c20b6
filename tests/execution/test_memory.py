"""Out of memory reads as out of memory: a CUDA out-of-memory error with its device and peak, a
worker the kernel's OOM killer ended, a Ray worker ended by Ray's memory monitor; and a lost
worker or node is told apart from a trial's own crash (the one is retried, the other not)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper
from nas_cli.evaluator._function import FunctionEvaluator
from nas_cli.execution import TrialPayload, execute
from nas_cli.execution._local import death
from nas_cli.execution._ray import _lost, _Slot
from nas_cli.trials import TrialState

CUDA_OOM = ("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 1 has a total capacity of "
            "79.15 GiB of which 1.06 GiB is free. Including non-PyTorch memory, this process has "
            "78.09 GiB memory in use. Of the allocated memory 77.50 GiB is allocated by PyTorch.")


@model_wrapper
class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 1)


def cuda_out_of_memory(model: Any) -> float:
    raise torch.cuda.OutOfMemoryError(CUDA_OOM)


def test_a_cuda_out_of_memory_error_reads_as_out_of_memory_with_its_device(
        tmp_path: Path) -> None:
    payload = TrialPayload(Linear, {}, [], FunctionEvaluator(cuda_out_of_memory), "default",
                           device="cuda")
    outcome = execute(payload, 0, {}, tmp_path)
    assert outcome.error == "out of memory on cuda:1 (peak 78.1 GiB)"
    assert outcome.out_of_memory and not outcome.pruned
    assert "torch.OutOfMemoryError: CUDA out of memory" in (tmp_path / "trial.log").read_text()


@pytest.mark.parametrize(("code", "oom_killed", "reason", "lost"), [
    (-signal.SIGKILL, False, "worker died with signal 9 (SIGKILL)", True),
    (-signal.SIGTERM, False, "worker died with signal 15 (SIGTERM)", True),
    (-signal.SIGKILL, True,
     "out of memory (peak 3.0 GiB): the kernel's OOM killer ended the worker", False),
    (-signal.SIGSEGV, True, "worker died with signal 11 (SIGSEGV)", False),
    (3, False, "worker died with exit code 3", False),
])
def test_a_dead_local_worker_is_lost_out_of_memory_or_the_trials_crash(
        code: int, oom_killed: bool, reason: str, lost: bool) -> None:
    event = death(code, peak=3 << 30, oom_killed=oom_killed)
    assert (event.state, event.reason, event.lost) == (TrialState.FAILED, reason, lost)
    assert event.outcome.out_of_memory == reason.startswith("out of memory")


class ActorDied(Exception):
    """Stands for ray.exceptions.ActorDiedError: what the driver reads is its message."""

    def __init__(self, error_msg: str, preempted: bool = False):
        super().__init__(error_msg)
        self.error_msg, self.preempted = error_msg, preempted


NODE_DIED = (
    "The actor died unexpectedly before finishing this task.\n\tclass_name: TrialActor\n\t"
    "actor_id: fe0b0d1b\n\tpid: 20501\n\tip: 192.0.2.2\nThe actor died because its node has "
    "died. Node Id: a980a5da1ca3\n\tthe actor's node was terminated unexpectedly: health check "
    "failed due to missing too many heartbeats")
MEMORY_MONITOR = (
    "The actor died unexpectedly before finishing this task.\n\tclass_name: TrialActor\n\t"
    "pid: 812\n\tip: 10.0.0.7\nThe actor is dead because its worker process has died. Worker "
    "exit type: OUT_OF_MEMORY Worker exit detail: Task was killed due to the node running low "
    "on memory. Memory on the node (IP: 10.0.0.7, ID: 5e1f) was 30.51GB used / 32.00GB limit "
    "(0.953344). Workers (tasks / actors) killed due to memory pressure (OOM), ...")
PROCESS_DIED = (
    "The actor died unexpectedly before finishing this task.\n\tclass_name: TrialActor\n\t"
    "pid: 4242\n\tip: 10.0.0.7\nThe actor is dead because its worker process has died. Worker "
    "exit type: SYSTEM_ERROR Worker exit detail: Worker unexpectedly exits with a connection "
    "error code 2. End of file.")


@pytest.mark.parametrize(("error", "reason", "lost"), [
    (ActorDied(NODE_DIED), "node 192.0.2.2/a980a5da lost: health check failed due to missing "
                           "too many heartbeats", True),
    (ActorDied("The actor died because its node has died.", preempted=True),
     "node 192.0.2.2/a980a5da lost", True),
    (ActorDied(MEMORY_MONITOR), "out of memory (peak 2.5 GiB): Ray's memory monitor ended the "
                                "worker (node memory 30.51GB of 32.00GB)", False),
    (ActorDied(PROCESS_DIED), "worker died: its process ended unexpectedly (a crash, an exit, or "
                              "the OOM killer) (pid 4242, node 10.0.0.7)", True),
])
def test_a_dead_ray_actor_is_a_lost_node_a_lost_worker_or_out_of_memory(
        error: Exception, reason: str, lost: bool) -> None:
    slot = _Slot(actor=None, node="192.0.2.2/a980a5da", peak=5 << 29)
    event = _lost(7, error, slot)
    assert (event.number, event.state, event.reason, event.lost) == \
        (7, TrialState.FAILED, reason, lost)
    assert event.outcome.node == "192.0.2.2/a980a5da" and event.outcome.peak_memory == 5 << 29
