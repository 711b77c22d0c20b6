"""Local workers come from a fork server that imported torch once; `nas run` starts it from the
raw spec before anything else, and ends it on exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import cloudpickle
import pytest

from nas_cli.cli import _run_spec_argument
from nas_cli.evaluator._function import FunctionEvaluator
from nas_cli.execution import GpuSlots, LocalBackend, TrialPayload
from nas_cli.execution import _server as server
from nas_cli.trials import TrialState
from tests.execution.test_backends import behaviors, payload, submit, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="workers are forked from a server on Linux only")


def _what_the_worker_sees(model, mark: str = "NAS_TEST_MARK") -> dict[str, float]:
    """Its parent, whether torch came imported, and the driver's `mark` variable."""
    return {"default": 1.0, "ppid": float(os.getppid()),
            "mark": float(os.environ.get(mark, "-1")),
            "cwd_is_driver": float(os.getcwd() == os.environ.get("NAS_TEST_CWD"))}


def _payload() -> bytes:
    evaluator = FunctionEvaluator(_what_the_worker_sees)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        return cloudpickle.dumps(TrialPayload(behaviors.Behaviors, {}, [], evaluator, "default"))
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _server_pid() -> int | None:
    from multiprocessing import forkserver

    return forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]


def _run_trials(tmp_path: Path, count: int = 2, **options) -> list:
    backend = LocalBackend(2, **options)
    backend.start(_payload())
    try:
        numbers = [submit(backend, tmp_path, "ok") for _ in range(count)]
        finished = wait_for(backend, numbers)[0]
    finally:
        backend.shutdown()
    assert {e.state for e in finished.values()} == {TrialState.COMPLETE}
    return [e.outcome.metrics for e in finished.values()]


def test_workers_are_forked_from_the_server_with_the_drivers_environment_now(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert server.start_server()
    pid = _server_pid()
    # set after the server started: workers still see it, and the driver's folder
    monkeypatch.setenv("NAS_TEST_MARK", "7")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NAS_TEST_CWD", str(tmp_path))
    for metrics in _run_trials(tmp_path / "trials"):
        assert metrics["ppid"] == pid != os.getpid()
        assert (metrics["mark"], metrics["cwd_is_driver"]) == (7.0, 1.0)


def test_nas_worker_start_spawn_spawns_every_worker(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAS_WORKER_START", "spawn")
    monkeypatch.setenv("NAS_TEST_MARK", "3")
    assert not server.start_server()
    for metrics in _run_trials(tmp_path):
        assert (metrics["ppid"], metrics["mark"]) == (os.getpid(), 3.0)


def test_trials_on_gpus_run_in_spawned_workers(tmp_path: Path) -> None:
    """CUDA must start in a process that sees only the trial's GPUs: no forked worker."""
    server.start_server()
    for metrics in _run_trials(tmp_path, gpus=GpuSlots(["0", "1"], per_trial=1)):
        assert metrics["ppid"] == os.getpid()


def test_a_stopped_server_is_replaced_by_the_next_pool(tmp_path: Path) -> None:
    server.start_server()
    before = _server_pid()
    server.stop_server()
    assert _server_pid() is None
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)
    metrics = _run_trials(tmp_path, count=1)[0]
    assert metrics["ppid"] == _server_pid() not in (None, before)


def test_trials_lost_with_a_killed_server_may_run_again(tmp_path: Path) -> None:
    """The server holds its workers' exit statuses: killed (by hand, by the OOM killer), the
    pool reads its running workers as dead. Their trials are lost (the engine reruns them),
    not failed by their own doing; their workers end, and the next trial runs on a new server."""
    record = tmp_path / "record"
    backend = LocalBackend(2)
    backend.start(payload(record))
    try:
        running = [submit(backend, tmp_path, "stream") for _ in range(2)]
        deadline = time.monotonic() + 60
        started: set[int] = set()
        while started != set(running):  # both report, then wait for `.streamed`
            assert time.monotonic() < deadline, "the trials did not start"
            started |= {e.number for e in backend.events(timeout=0.25)}
        workers = set(backend._pids.values())
        os.kill(_server_pid(), signal.SIGKILL)
        finished = wait_for(backend, running)[0]
        assert all(e.lost and e.state is TrialState.FAILED for e in finished.values()), finished
        assert all("fork server" in e.reason for e in finished.values())
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in workers)
        number = submit(backend, tmp_path, "ok")
        assert wait_for(backend, [number])[0][number].state is TrialState.COMPLETE
    finally:
        record.with_name("record.streamed").touch()
        backend.shutdown()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize(("args", "spec"), [
    (["run", "spec.yaml"], "spec.yaml"),
    (["run", "--name", "x", "-q", "--exp-dir=out", "s.yml"], "s.yml"),
    (["run", "--max-trials", "3", "--concurrency", "2", "s.yaml", "--quiet"], "s.yaml"),
    (["run", "--help"], None),
    (["run"], None),
    (["status", "spec.yaml"], None),
    ([], None),
])
def test_the_spec_of_a_run_command_line(args: list[str], spec: str | None) -> None:
    assert _run_spec_argument(args) == spec


def test_the_run_options_that_take_a_value_are_those_of_nas_run() -> None:
    """The CLI reads `nas run`'s SPEC before typer does: its list of the options that take a
    value is the command's own."""
    import typer

    from nas_cli.cli import _RUN_VALUE_OPTIONS
    from nas_cli.cli._app import app

    run = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    taking = {name for param in run.params if param.param_type_name == "option"
              and not param.is_flag for name in param.opts}
    assert taking == _RUN_VALUE_OPTIONS


@pytest.mark.parametrize(("text", "starts"), [
    ("evaluator: {type: function, function: m.f}\n", True),
    ("training_service: {platform: local}\n", True),
    ("training_service: {platform: ray}\n", False),
    ("training_service: {platform: simulated, table: t.csv}\n", False),
    ("trial_gpu_number: 1\n", False),
    ("trial_gpu_number: 0\n", True),
    ("training_service: [local]\n", False),
    ("- not a spec\n", False),
    ("key: [unclosed\n", False),
])
def test_a_run_starts_the_server_only_for_trials_on_this_machine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, starts: bool) -> None:
    started: list[tuple[str, ...]] = []
    monkeypatch.setattr(server, "start_server", lambda extra=(): started.append(extra) or True)
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    assert server.start_server_for_spec(str(spec)) is starts
    assert len(started) == int(starts)
    assert not server.start_server_for_spec(str(tmp_path / "missing.yaml"))


def test_a_training_evaluator_preloads_lightning_too(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[str, ...]] = []
    monkeypatch.setattr(server, "start_server", lambda extra=(): started.append(extra) or True)
    spec = tmp_path / "spec.yaml"
    spec.write_text("evaluator: {type: classification, dataset: digits}\n")
    server.start_server_for_spec(str(spec))
    spec.write_text("evaluator: {type: function, function: m.f}\n")
    server.start_server_for_spec(str(spec))
    assert started == [("pytorch_lightning",), ()]


def _servers_with(marker: str) -> list[int]:
    """Fork servers whose environment holds `marker` (started by one command of a test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"multiprocessing.forkserver" in cmdline and marker.encode() in environ:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_nas_run_leaves_no_process_behind(write_spec, tmp_path: Path) -> None:
    """The console script ends its fork server before it exits (the server's own teardown
    would outlive the command by a few tenths of a second)."""
    name, value = "NAS_TEST_RUN", uuid.uuid4().hex
    spec = write_spec(tmp_path, max_trial_number=2)
    with open(tmp_path / "out.txt", "w") as out:  # not a pipe: returns when `nas` exits
        code = subprocess.call([sys.executable, "-c", "from nas_cli.cli import main; main()",
                                "run", str(spec), "-q", "--exp-dir", str(tmp_path / "exp")],
                               stdout=out, stderr=subprocess.STDOUT,
                               env={**os.environ, name: value}, timeout=300)
    leftover = _servers_with(f"{name}={value}")
    assert code == 0, (tmp_path / "out.txt").read_text()
    assert "2 complete" in (tmp_path / "out.txt").read_text()
    assert leftover == []


SLOW_SERVER = """\
import sys, time
try:
    with open("/proc/self/cmdline", "rb") as handle:
        if b"multiprocessing.forkserver" in handle.read():
            time.sleep(float(__import__("os").environ["NAS_TEST_SERVER_DELAY"]))
except OSError:
    pass
"""


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_ctrl_c_while_the_server_still_imports_stops_cleanly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (SIGINT to the terminal's whole process group) in the first seconds, while the
    fork server still imports: the run stops as usual, and the server prints no traceback."""
    from tests.reliability.reliability_support import NasProcess, fault_spec

    site = tmp_path / "site"  # the fork server (only it) starts 4 s late: still importing
    site.mkdir()
    (site / "sitecustomize.py").write_text(SLOW_SERVER)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.setenv("NAS_TEST_SERVER_DELAY", "4")
    spec = fault_spec(tmp_path, faults=["ok"], max_trial_number=2)
    with NasProcess(["run", spec], cwd=tmp_path, root=tmp_path / "exp") as nas:
        nas.experiment()  # the driver is running the experiment; no worker exists yet
        os.killpg(nas.pid, signal.SIGINT)
        code = nas.wait(timeout=60)
        assert code == 130, nas.err
        assert "Traceback" not in nas.err + nas.out
        assert "KeyboardInterrupt" not in nas.err + nas.out
        assert "continue with `nas resume" in nas.err


def test_workers_are_spawned_when_no_server_can_start(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork server that cannot start (its socket's path too long, no process left): the
    head start is skipped quietly and the pool spawns its workers."""
    def refuse(extra=()):
        raise OSError("AF_UNIX path too long")

    monkeypatch.setattr(server, "start_server", refuse)
    spec = tmp_path / "spec.yaml"
    spec.write_text("evaluator: {type: function, function: m.f}\n")
    assert server.start_server_for_spec(str(spec)) is False
    for metrics in _run_trials(tmp_path / "trials"):
        assert metrics["ppid"] == os.getpid()
