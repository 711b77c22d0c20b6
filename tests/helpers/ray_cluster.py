"""A real multi-node Ray cluster on this machine, for tests: a head and worker nodes started
with `ray start --block` (each in a session of its own, with its own ports and temp folder),
stopped by pid. It leaves no process behind and does not touch any other Ray on the machine
(never `ray stop`, which ends every Ray of the user).

    with RayCluster(tmp_path) as cluster:
        cluster.start_head(cpus=1)
        node = cluster.add_node(cpus=1, env={"NAS_TEST_NODE": "node2"})
        ... f"127.0.0.1:{cluster.port}" ...
        cluster.kill_raylet(node)
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from helpers.ports import free_port

RAY = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; "
       "sys.argv[0] = 'ray'; sys.exit(main())"]
STARTED = "Ray runtime started"
# Node deaths noticed within seconds instead of Ray's default ~15-30 s.
FAST_HEALTH_CHECKS = {"RAY_health_check_initial_delay_ms": "0",
                      "RAY_health_check_period_ms": "500",
                      "RAY_health_check_timeout_ms": "500",
                      "RAY_health_check_failure_threshold": "3"}


class ClusterUnavailable(Exception):
    """Ray cannot start a cluster on this machine (the reason is the message)."""


@dataclass
class Node:
    name: str
    process: subprocess.Popen
    log: Path
    temp_dir: Path
    env: dict[str, str] = field(default_factory=dict)


class RayCluster:
    """Nodes of one cluster; `port` is the head's GCS port (the cluster's address)."""

    def __init__(self, root: Path):
        # Ray's socket paths must stay short: a folder in /tmp, not under pytest's tmp_path
        self.root = Path(tempfile.mkdtemp(prefix="nas-rc-", dir="/tmp"))
        self.logs = Path(root)
        self.port = free_port()
        self.nodes: list[Node] = []
        self.env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
                    **FAST_HEALTH_CHECKS}

    def __enter__(self) -> RayCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _ports(self) -> list[str]:
        low = random.randrange(30000, 60000, 100)
        return [f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}",
                f"--dashboard-agent-grpc-port={free_port()}",
                f"--dashboard-agent-listen-port={free_port()}",
                f"--runtime-env-agent-port={free_port()}", f"--metrics-export-port={free_port()}",
                f"--min-worker-port={low}", f"--max-worker-port={low + 99}"]

    def _start(self, name: str, args: Callable[[int], list[str]], env: dict[str, str] | None,
               cwd: Path | None = None, tries: int = 2) -> Node:
        """Start a node; a second try with other ports if the first fails (a port picked as
        free may be taken by someone else before Ray binds it)."""
        for attempt in range(1, tries + 1):
            try:
                return self._start_once(f"{name}-{attempt}" if attempt > 1 else name,
                                        args(attempt), env, cwd)
            except ClusterUnavailable:
                failed = self.nodes.pop()
                self.kill(failed)
                if attempt == tries:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self, name: str, args: list[str], env: dict[str, str] | None,
                    cwd: Path | None) -> Node:
        temp_dir = self.root / name
        temp_dir.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"ray-{name}.log"
        node_env = {**self.env, **(env or {})}
        with open(log, "w") as out:
            process = subprocess.Popen(
                [*RAY, "start", "--block", "--num-gpus=0", "--disable-usage-stats",
                 "--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}", *args, *self._ports()],
                stdout=out, stderr=subprocess.STDOUT, env=node_env, start_new_session=True,
                cwd=cwd)
        node = Node(name, process, log, temp_dir, env or {})
        self.nodes.append(node)
        deadline = time.monotonic() + 120
        while STARTED not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise ClusterUnavailable(f"`ray start` for {name} failed: {self._why(node)}")
            time.sleep(0.1)
        return node

    def _why(self, node: Node) -> str:
        """The last line of `ray start`'s output and of the GCS's log (kept next to the test's
        other files, since the cluster's temp folder goes when it stops)."""
        lines = [x for x in node.log.read_text(errors="replace").splitlines() if x.strip()]
        why = lines[-1] if lines else "no output"
        for gcs in node.temp_dir.glob("session_*/logs/gcs_server.*"):
            shutil.copy(gcs, self.logs / f"{node.name}-{gcs.name}")
            tail = [x for x in gcs.read_text(errors="replace").splitlines() if x.strip()]
            if tail:
                why += f" (gcs_server: {tail[-1][-300:]})"
        return why

    def start_head(self, cpus: int, name: str = "head") -> Node:
        """The head (again, after `kill`: a restarted head on the same port)."""
        restart = any(node.name.startswith("head") for node in self.nodes)

        def args(attempt: int) -> list[str]:
            if attempt > 1 and not restart:  # a first try failed: another port too
                self.port = free_port()
            return ["--head", f"--port={self.port}", f"--num-cpus={cpus}",
                    "--include-dashboard=false", f"--dashboard-port={free_port()}"]

        return self._start(name, args, None)

    def add_node(self, cpus: int, name: str, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> Node:
        """A worker node; its processes get `env` and work in `cwd`."""
        return self._start(name, lambda _: [f"--address={self.address}", f"--num-cpus={cpus}"],
                           env, cwd)

    def raylet(self, node: Node) -> int:
        """The pid of a node's raylet (a child of its `ray start`)."""
        for pid in _descendants(node.process.pid):
            if _comm(pid) == "raylet":
                return pid
        raise LookupError(f"{node.name} has no raylet")

    def kill_raylet(self, node: Node) -> None:
        """The node is lost (as when its host goes away): its raylet dies, its workers after."""
        os.kill(self.raylet(node), signal.SIGKILL)

    def kill(self, node: Node) -> None:
        """Every process of the node at once (Ray's workers lead process groups of their own):
        as when its host goes away."""
        pids = [node.process.pid, *_descendants(node.process.pid),
                *self.leftovers(node.temp_dir)]
        _kill_group(node.process.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        node.process.wait(timeout=30)

    def stop(self) -> None:
        """Kill everything this cluster started (process groups, then anything still naming
        its temp folder, such as workers that left their group), and remove the folder."""
        for node in self.nodes:
            _kill_group(node.process.pid)
        for node in self.nodes:
            try:
                node.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + 30
        while (left := self.leftovers()) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.2)
        shutil.rmtree(self.root, ignore_errors=True)

    def leftovers(self, folder: Path | None = None) -> list[int]:
        """Processes that name this cluster's temp folder (or a node's) in their command line."""
        mark = str(folder or self.root).encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if mark in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
        return found


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
