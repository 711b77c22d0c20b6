"""One conformance suite for every execution backend, driven through the `Backend` interface.

Each backend starts once per module (a local Ray too) and runs trials of the `Behaviors` space,
whose `do` choice says what a trial does: complete, stream, raise, sleep, exit, kill. The
simulated backend replays a table of the same space (ok: 1 virtual second, sleep: a minute);
it runs the tests that do not need a process (raising, dying, files, wall-clock gaps).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from nas_cli.execution import (
    Backend,
    Finished,
    GpuSlots,
    Intermediate,
    LocalBackend,
    RayBackend,
    SimulatedBackend,
    TrialPayload,
)
from nas_cli.trials import TrialState

BACKENDS = ["local", "ray"]
PROCESS_FREE = "simulated"  # runs no user code: no tracebacks, worker deaths, files or params


def _load_behaviors() -> Any:
    """tests/execution/behaviors.py, imported by path and pickled by value (like a user's
    script), so that neither pool workers nor Ray workers need to import it."""
    name = "nas_test_behaviors"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("behaviors.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        cloudpickle.register_pickle_by_value(module)
    return sys.modules[name]


behaviors = _load_behaviors()
_numbers = itertools.count(1)


def table_payload() -> bytes:
    """The Behaviors space with a table evaluator: `ok` takes 1 s, `sleep` a minute."""
    from nas_cli.evaluator._table import Table, TableEvaluator, TableRow

    rows = [TableRow(behaviors.arch("ok"), {"default": 1.0}, 1.0),
            TableRow(behaviors.arch("sleep"), {"default": 1.0}, 60.0)]
    evaluator = TableEvaluator(Table(Path("behaviors.csv"), rows, ["default"]))
    return cloudpickle.dumps(TrialPayload(behaviors.Behaviors, {}, [], evaluator, "default"))


def payload(record: Path | None = None) -> bytes:
    evaluator = behaviors.RecordingEvaluator(behaviors.evaluate,
                                             {"record": str(record)} if record else {})
    return cloudpickle.dumps(TrialPayload(behaviors.Behaviors, {}, [], evaluator, "default"))


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray for the module, with two fake GPUs (Ray sets CUDA_VISIBLE_DEVICES anyway)."""
    ray = pytest.importorskip("ray")
    import logging
    import tempfile

    temp_dir = tempfile.mkdtemp(prefix="nas-ray-test-", dir="/tmp")
    ray.init(address="local", num_cpus=8, num_gpus=2, include_dashboard=False,
             object_store_memory=100 << 20, _temp_dir=temp_dir, log_to_driver=False,
             configure_logging=True, logging_level=logging.ERROR)
    yield
    ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)


def make_backend(kind: str, request: pytest.FixtureRequest, concurrency: int = 2,
                 **options: Any) -> Backend:
    if kind == "ray":
        request.getfixturevalue("local_ray")
        return RayBackend(concurrency, **options)
    if kind == PROCESS_FREE:
        return SimulatedBackend(concurrency, **options)
    return LocalBackend(concurrency, **options)


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `record` file the shared backends' trials are given ("log" waits for `.go` next
    to it)."""
    return tmp_path_factory.mktemp("record") / "record"


@pytest.fixture(scope="module", params=[*BACKENDS, PROCESS_FREE])
def backend(request: pytest.FixtureRequest, record: Path) -> Iterator[Backend]:
    """A started backend with two workers, shared by the module's tests of that kind."""
    started = make_backend(request.param, request)
    started.start(table_payload() if started.virtual else payload(record))
    yield started
    started.shutdown()
    started.shutdown()  # idempotent


def submit(backend: Backend, tmp_path: Path, do: str, timeout: float | None = None) -> int:
    number = next(_numbers)
    trial_dir = tmp_path / str(number)
    trial_dir.mkdir(parents=True)
    backend.submit(number, behaviors.arch(do), trial_dir, timeout)
    return number


def wait_for(backend: Backend, numbers: list[int], limit: float = 60
             ) -> tuple[dict[int, Finished], list[tuple[float, Intermediate]]]:
    """The Finished event of each trial in `numbers`, and their Intermediate events with the
    time each arrived."""
    finished: dict[int, Finished] = {}
    intermediate: list[tuple[float, Intermediate]] = []
    deadline = time.monotonic() + limit
    while len(finished) < len(numbers):
        assert time.monotonic() < deadline, f"trials {numbers} did not finish: {finished}"
        for event in backend.events(timeout=0.25):
            if event.number not in numbers:
                continue
            if isinstance(event, Finished):
                finished[event.number] = event
            else:
                intermediate.append((time.monotonic(), event))
    return finished, intermediate


def runs_user_code(backend: Backend) -> None:
    """Skip on the simulated backend: a look-up cannot raise, die, sleep or write files."""
    if backend.virtual:
        pytest.skip("the simulated backend runs no user code")


def test_a_trial_completes_with_metrics(backend: Backend, tmp_path: Path) -> None:
    number = submit(backend, tmp_path, "ok")
    event = wait_for(backend, [number])[0][number]
    assert (event.state, event.reason) == (TrialState.COMPLETE, None)
    assert event.outcome.metrics["default"] == 1.0
    if backend.virtual:  # a look-up builds no model and writes no file
        assert (event.outcome.params, event.outcome.duration_s) == (None, 1.0)
        return
    assert event.outcome.params == 2 + 1
    assert (tmp_path / str(number) / "metrics.json").is_file()


def test_intermediate_results_stream_while_the_trial_runs(backend: Backend, tmp_path: Path,
                                                          record: Path) -> None:
    """The trial reports three values, then waits until the test has seen all three."""
    runs_user_code(backend)
    streamed = Path(f"{record}.streamed")
    streamed.unlink(missing_ok=True)  # the record file is shared by the module's backends
    number = submit(backend, tmp_path, "stream")
    intermediate: list[Intermediate] = []
    deadline = time.monotonic() + 60  # a guard against a hang, not a speed check
    while len(intermediate) < 3:
        assert time.monotonic() < deadline, intermediate
        for event in backend.events(timeout=0.1):
            if event.number == number:
                assert not isinstance(event, Finished), event  # it waits for the file
                intermediate.append(event)
    assert [(e.step, round(e.value, 3)) for e in intermediate] == [(0, 0.1), (1, 0.2), (2, 0.3)]
    streamed.touch()
    assert wait_for(backend, [number])[0][number].state is TrialState.COMPLETE


def test_a_raising_trial_fails_with_its_reason(backend: Backend, tmp_path: Path) -> None:
    runs_user_code(backend)
    number = submit(backend, tmp_path, "raise")
    event = wait_for(backend, [number])[0][number]
    assert event.state is TrialState.FAILED
    assert event.reason == "ValueError: width 1 diverged"
    assert "ValueError" in (tmp_path / str(number) / "trial.log").read_text()


def test_a_trial_past_its_time_limit_fails(backend: Backend, tmp_path: Path) -> None:
    number = submit(backend, tmp_path, "sleep", timeout=1.0)  # it sleeps 60 s
    event = wait_for(backend, [number], limit=50)[0][number]  # ended: it did not sleep it out
    assert (event.state, event.reason) == (TrialState.FAILED, "timed out after 1s")


@pytest.mark.parametrize("do", ["exit", "kill"])
def test_a_dying_worker_fails_only_its_trial(backend: Backend, tmp_path: Path, do: str) -> None:
    runs_user_code(backend)
    dying, other = submit(backend, tmp_path, do), submit(backend, tmp_path, "ok")
    finished = wait_for(backend, [dying, other])[0]
    assert finished[dying].state is TrialState.FAILED
    assert finished[dying].reason.startswith("worker died")
    # killed from outside: the worker was lost, the trial may run again; an exit is the
    # trial's own doing (Ray cannot tell the two apart: both read as a lost worker there)
    assert finished[dying].lost is (do == "kill" or isinstance(backend, RayBackend))
    assert finished[other].state is TrialState.COMPLETE
    after = submit(backend, tmp_path, "ok")  # the worker was replaced
    assert wait_for(backend, [after])[0][after].state is TrialState.COMPLETE


@pytest.mark.parametrize("state", [TrialState.PRUNED, TrialState.INTERRUPTED])
def test_cancel_ends_a_running_trial_with_the_requested_state(
        backend: Backend, tmp_path: Path, state: TrialState) -> None:
    number = submit(backend, tmp_path, "sleep")
    time.sleep(0.5)
    backend.cancel(number, state, "stopped by the test")
    event = wait_for(backend, [number], limit=50)[0][number]  # the trial sleeps 60 s
    assert (event.state, event.reason) == (state, "stopped by the test")
    backend.cancel(number, state, "again")  # a finished trial: nothing happens


def test_prune_stops_a_trial_at_its_next_report(backend: Backend, tmp_path: Path) -> None:
    """Early stopping reaches the trial by a call, not a file: it stops at its next report."""
    number = submit(backend, tmp_path, "report" if not backend.virtual else "sleep")
    if not backend.virtual:
        first = None
        while first is None:
            first = next((e for e in backend.events(timeout=0.25)
                          if isinstance(e, Intermediate) and e.number == number), None)
    backend.prune(number, tmp_path / str(number), "pruned by the test")
    event = wait_for(backend, [number], limit=30)[0][number]
    if backend.virtual:  # the simulated trial ends at once, pruned
        assert event.state is TrialState.PRUNED
        return
    assert event.state is TrialState.FAILED and event.outcome.pruned  # the engine says PRUNED
    last = event.outcome.intermediate[-1][0]
    assert event.reason == f"pruned at step {last}" and last < 599
    assert not (tmp_path / str(number) / "prune").exists()
    assert sorted(p.name for p in (tmp_path / str(number)).iterdir()) == ["trial.log"]


def test_the_log_reaches_the_driver_while_the_trial_runs(backend: Backend, tmp_path: Path,
                                                          record: Path) -> None:
    """The trial waits until its first line is in trials/<n>/trial.log on the driver's side
    (on Ray it writes a folder of its own: the line travels while the trial runs)."""
    runs_user_code(backend)
    release = Path(f"{record}.go")
    release.unlink(missing_ok=True)
    number = submit(backend, tmp_path, "log")
    log = tmp_path / str(number) / "trial.log"
    deadline = time.monotonic() + 60
    while not (log.exists() and ": log" in log.read_text()):
        assert time.monotonic() < deadline, "the trial's log never reached the driver"
        assert not [e for e in backend.events(timeout=0.1) if isinstance(e, Finished)]
    release.touch()
    event = wait_for(backend, [number])[0][number]
    assert event.state is TrialState.COMPLETE
    assert log.read_text().count(": log") == 1  # the final copy replaced the streamed one


def test_files_a_trial_writes_reach_the_driver(backend: Backend, tmp_path: Path) -> None:
    """Checkpoints and other files end up in trials/<n>/, whole, large ones too."""
    runs_user_code(backend)
    number = submit(backend, tmp_path, "files")
    assert wait_for(backend, [number])[0][number].state is TrialState.COMPLETE
    folder = tmp_path / str(number)
    assert (folder / "ckpt" / "small.pt").read_bytes() == b"small"
    big = (folder / "big.pt").read_bytes()
    assert len(big) == behaviors.BIG and big[:256] == bytes(range(256)) and big[-1:] == b"!"
    assert sorted(p.name for p in folder.iterdir()) == ["big.pt", "ckpt", "metrics.json",
                                                        "trial.log"]


def test_a_trial_out_of_memory_fails_and_its_worker_is_replaced(backend: Backend,
                                                                tmp_path: Path) -> None:
    runs_user_code(backend)
    number = submit(backend, tmp_path, "oom")
    event = wait_for(backend, [number])[0][number]
    assert event.state is TrialState.FAILED and not event.lost
    assert event.reason.startswith("out of memory (peak ") and event.reason.endswith(" GiB)")
    assert event.outcome.out_of_memory
    log = (tmp_path / str(number) / "trial.log").read_text()
    assert "MemoryError" in log  # the traceback, for the details
    pid = int(log.split("trial in pid ")[1].split(":")[0])
    later = [submit(backend, tmp_path, "ok") for _ in range(3)]
    finished = wait_for(backend, later)[0]
    assert all(e.state is TrialState.COMPLETE for e in finished.values())
    assert pid not in {int(e.outcome.metrics["pid"]) for e in finished.values()}


# --- GPUs: each trial sees exactly its own; no GPU is shared; trials wait for one -----------


@pytest.mark.parametrize("kind", BACKENDS)
def test_each_trial_sees_only_its_own_gpu(kind: str, tmp_path: Path,
                                          request: pytest.FixtureRequest) -> None:
    record = tmp_path / "gpus.jsonl"
    if kind == "ray":  # the module's Ray has two fake GPUs; a trial holds one and 2 CPUs
        backend = make_backend(kind, request, 3, cpus_per_trial=2, gpus_per_trial=1)
    else:
        backend = make_backend(kind, request, 3, threads=2,
                               gpus=GpuSlots(["0", "1"], per_trial=1))
        assert backend.capacity == 2  # two GPUs, one trial each
    backend.start(payload(record))
    try:
        numbers = [submit(backend, tmp_path, "gpu") for _ in range(4)]  # more than GPUs
        finished = wait_for(backend, numbers, limit=90)[0]
    finally:
        backend.shutdown()
    assert all(e.state is TrialState.COMPLETE for e in finished.values()), finished
    runs = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(runs) == 4
    assert {r["gpus"] for r in runs} <= {"0", "1"}  # exactly one id each
    assert all(r["device"] == "cuda" and r["threads"] == 2 for r in runs)
    for a, b in itertools.combinations(runs, 2):
        if a["start"] < b["end"] and b["start"] < a["end"]:  # ran at the same time
            assert a["gpus"] != b["gpus"]


def test_a_ray_trial_never_sees_the_drivers_folder(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ray actor is not even told where the experiment lives: the trial runs in a folder of
    its node's temp dir, and its files come back with its outcome."""
    from nas_cli.execution import _ray_actor

    class Inbox:
        class put:  # noqa: N801 - stands for an actor method
            @staticmethod
            def remote(items: list) -> None:
                pass

    node_tmp = tmp_path / "node-tmp"
    node_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(node_tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    monkeypatch.chdir(node_tmp)
    actor = object.__new__(_ray_actor.TrialActor)  # not __init__: it sets this process's threads
    actor.payload, actor.reporter = cloudpickle.loads(payload()), _ray_actor.Reporter(Inbox())
    actor.node, actor._stop, actor._kept = "node-2", set(), None
    outcome, large = actor.run(1, 7, behaviors.arch("files"))
    assert outcome.node == "node-2" and outcome.metrics["default"] == 1.0
    assert sorted(outcome.files) == ["ckpt/small.pt", "metrics.json", "trial.log"]
    assert large == {"big.pt": behaviors.BIG}
    assert actor.read("big.pt", behaviors.BIG - 1, 10) == b"!"
    kept = actor._kept
    assert kept is not None and kept.parent == node_tmp
    actor.release()
    assert not kept.exists() and list(node_tmp.iterdir()) == []
