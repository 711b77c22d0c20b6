"""Ray's many-line actor errors become one-line trial reasons (no Ray needed)."""

from __future__ import annotations

from nas_cli.execution._ray import _actor_error


class FakeActorDied(Exception):
    def __init__(self, error_msg: str, actor_init_failed: bool = False):
        super().__init__(error_msg)
        self.error_msg = error_msg
        self.actor_init_failed = actor_init_failed


CRASH = (
    "The actor died unexpectedly before finishing this task.\n\tclass_name: _TrialActor\n"
    "\tactor_id: 6005\n\tpid: 19073\n\tnamespace: fba9\n\tip: 192.0.2.2\nThe actor is dead "
    "because its worker process has died. Worker exit type: SYSTEM_ERROR Worker exit detail: "
    "Worker unexpectedly exits with a connection error code 2. End of file. Some common causes "
    "include: (1) the process was killed by the OOM killer due to high memory usage, ..."
)
INIT = (
    "The actor died because of an error raised in its creation task, \x1b[36mray::_TrialActor."
    "__init__()\x1b[39m (pid=32738, ip=192.0.2.2)\n  File \"/x/_ray.py\", line 131, in "
    "__init__\n    self.payload = cloudpickle.loads(payload)\n"
    "ModuleNotFoundError: No module named 'userpkg'"
)


def test_a_crashed_worker_says_so_with_its_pid_and_node() -> None:
    assert _actor_error(FakeActorDied(CRASH)) == (
        "its process ended unexpectedly (a crash, an exit, or the OOM killer) "
        "(pid 19073, node 192.0.2.2)")


def test_a_worker_that_could_not_start_gives_the_error_it_raised() -> None:
    assert _actor_error(FakeActorDied(INIT, actor_init_failed=True)) == (
        "ModuleNotFoundError: No module named 'userpkg'")


def test_a_dead_node_keeps_rays_reason() -> None:
    text = ("The actor died unexpectedly before finishing this task.\n\tpid: 7\n\tip: 10.0.0.3\n"
            "The actor is dead because its node has died. Node Id: abc")
    assert _actor_error(FakeActorDied(text)) == (
        "The actor is dead because its node has died (pid 7, node 10.0.0.3)")
