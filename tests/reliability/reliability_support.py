"""Helpers for the reliability tests: fault specs, the real `nas` command in a subprocess, and
finding the processes it leaves (by parent pid, or by a marker in their argv) through /proc.

    spec = fault_spec(tmp_path, faults=["ok", "raise"], reps=4, max_trial_number=6)
    with NasProcess(["run", spec], cwd=tmp_path, root=root) as nas:
        path = nas.experiment()          # waits for the experiment folder (with results.json)
        ...
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
FAULTS = HERE / "faults.py"

# `python -m nas_cli.cli` does not work (no __main__): the console script's entry point.
NAS = [sys.executable, "-c", "from nas_cli.cli import main; main()"]
FINISHED = {"complete", "failed", "pruned"}


# the faults of the shared `faults_exp` experiment, in trial order
FAULT_ORDER = ["ok", "raise", "exit", "sigkill", "segv", "hang", "oom", "ok_late"]


@dataclass
class Finished:
    """A `nas` subprocess that ran to its end: exit code, output, experiment folder."""

    code: int
    out: str
    err: str
    path: Path
    marker: str = ""
    left_workers: set[int] = field(default_factory=set)   # descendants running 3 s after it
    left_marked: set[int] = field(default_factory=set)    # marked grandchildren, likewise
    polls: list[tuple[list[str], int, str, str]] = field(default_factory=list)

    @property
    def results(self) -> dict[str, Any]:
        return json.loads((self.path / "results.json").read_text())

    def trial(self, fault: str) -> dict[str, Any]:
        return next(t for t in self.results["trials"] if t["arch"]["fault"] == fault)


def fault_spec(folder: Path, name: str = "spec", *, faults: list[str] | None = None,
               reps: int = 1, strategy: dict[str, Any] | None = None,
               kwargs: dict[str, Any] | None = None, **top: Any) -> Path:
    """A spec over the `Faulty` space of faults.py (grid in index order unless `strategy`)."""
    spec: dict[str, Any] = {
        "model_space": {"module": str(FAULTS), "class": "Faulty",
                        "init_kwargs": {"faults": faults or ["ok"], "reps": reps}},
        "strategy": strategy or {"name": "grid"},
        "evaluator": {"type": "function", "function": f"{FAULTS}:evaluate",
                      "kwargs": kwargs or {}},
        "trial_concurrency": 2,
        "max_trial_number": 4,
        **top,
    }
    path = Path(folder) / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def new_marker() -> str:
    """A text no other process has in its argv (for finding grandchildren)."""
    return f"nas-reliability-{uuid.uuid4().hex}"


# --- processes -------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, ppid) of a process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie has stopped running)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def descendants(pid: int) -> set[int]:
    """Every living process below `pid` (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for p in _pids():
        stat = _stat(p)
        if stat is not None and stat[0] not in ("Z", "X"):
            children.setdefault(stat[1], []).append(p)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def with_marker(marker: str) -> set[int]:
    """Living processes whose argv holds `marker`."""
    return {p for p in _pids() if p != os.getpid() and marker in cmdline(p) and alive(p)}


def wait_gone(pids: Iterable[int], timeout: float) -> set[int]:
    """Wait until none of `pids` runs; the ones still running after `timeout` seconds."""
    pids = set(pids)
    deadline = time.monotonic() + timeout
    while True:
        left = {p for p in pids if alive(p)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def kill_all(pids: Iterable[int]) -> None:
    """SIGKILL processes this test started (cleanup only)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             every: float = 0.1) -> Any:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


class NasProcess:
    """`nas ARGS...` as a subprocess in its own session, output to files; a context manager that
    kills what is left of it (and of what it started, by pid or marker) on exit."""

    def __init__(self, args: list[Any], *, cwd: Path, root: Path, marker: str | None = None):
        self.root = Path(root)
        self.cwd = Path(cwd)
        self.marker = marker
        tag = uuid.uuid4().hex[:8]
        self.out_file = self.cwd / f"nas-{tag}.out"
        self.err_file = self.cwd / f"nas-{tag}.err"
        env = dict(os.environ, NAS_EXPERIMENTS_DIR=str(self.root), PYTHONUNBUFFERED="1")
        self.before = set(self.root.iterdir()) if self.root.exists() else set()
        with open(self.out_file, "wb") as out, open(self.err_file, "wb") as err:
            self.proc = subprocess.Popen(NAS + [str(a) for a in args], cwd=self.cwd, env=env,
                                         stdout=out, stderr=err, start_new_session=True)
        self.pid = self.proc.pid
        self.seen: set[int] = set()  # every descendant seen by `watch`

    def __enter__(self) -> NasProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        kill_all(self.seen | descendants(self.pid))
        if self.marker:
            kill_all(with_marker(self.marker))

    def watch(self) -> set[int]:
        """The driver's living descendants now (remembered for cleanup)."""
        found = descendants(self.pid)
        self.seen |= found
        return found

    def experiment(self, timeout: float = 60) -> Path:
        """The experiment folder this process created (once it has results.json)."""
        def created() -> Path | None:
            self._check_running()
            new = [p for p in (self.root.iterdir() if self.root.exists() else [])
                   if p not in self.before and (p / "results.json").exists()]
            return new[0] if new else None

        return wait_for(created, timeout, "the experiment folder")

    def _check_running(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"nas exited early with {self.proc.returncode}:\n"
                                 f"{self.out}\n{self.err}")

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    @property
    def out(self) -> str:
        return self.out_file.read_text(errors="replace")

    @property
    def err(self) -> str:
        return self.err_file.read_text(errors="replace")


# --- what an experiment leaves ---------------------------------------------------------------


def results(path: Path) -> dict[str, Any]:
    return json.loads((path / "results.json").read_text())


def trials_by_number(path: Path) -> dict[int, dict[str, Any]]:
    return {t["trial"]: t for t in results(path)["trials"]}


def running_trials_started(path: Path, numbers: Iterable[int]) -> bool:
    """Whether each of these trials has started its evaluator (its log says so)."""
    for number in numbers:
        log = path / "trials" / str(number) / "trial.log"
        try:
            if "trial starts" not in log.read_text():
                return False
        except OSError:
            return False
    return True


def study_trials(path: Path) -> list[Any]:
    """The experiment's trials as Optuna reads them (fails if study.db is not a valid study)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(f"sqlite:///{path / 'study.db'}")
    try:
        study = optuna.load_study(study_name=path.name, storage=storage)
        return study.get_trials(deepcopy=False)
    finally:
        storage.remove_session()
        storage.engine.dispose()


def assert_study_consistent(path: Path) -> list[Any]:
    """study.db loads with Optuna and no trial is left RUNNING or WAITING."""
    trials = study_trials(path)
    stuck = [t.number for t in trials if t.state.name in ("RUNNING", "WAITING")]
    assert not stuck, f"trials {stuck} are still RUNNING in study.db"
    return trials


def temp_files(path: Path) -> list[Path]:
    """Temporary files (of atomic writes) left anywhere in an experiment folder."""
    return sorted(p for p in Path(path).rglob("*") if p.is_file() and (
        p.name.endswith(".tmp") or p.name.endswith("~")))


def arch_key(arch: dict[str, Any]) -> str:
    return json.dumps(arch, sort_keys=True)
