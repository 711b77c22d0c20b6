"""Experiments shared by the reliability tests (each `nas run` starts workers that import torch:
seconds each on a busy machine), all in one experiments folder:

- `faults_exp`: one `nas run` (a subprocess) whose 8 trials raise, exit, get killed, segfault,
  hang past `max_trial_duration`, run out of memory, or complete (first and last).
- `live_exp`:   one `nas run` (a subprocess) of 12 short trials while `nas status` and
  `nas export` are called again and again (in this process).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from reliability_support import (  # noqa: E402
    FAULT_ORDER,
    Finished,
    NasProcess,
    fault_spec,
    new_marker,
    wait_gone,
    with_marker,
)


@pytest.fixture(scope="package")
def rel_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The experiments folder of the shared experiments."""
    return tmp_path_factory.mktemp("reliability") / "experiments"


@pytest.fixture(scope="package")
def faults_exp(rel_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """Grid in index order over FAULT_ORDER: one trial per fault, 2 at a time, 2 s limit."""
    folder = tmp_path_factory.mktemp("faults")
    marker = new_marker()
    spec = fault_spec(folder, "faults", faults=FAULT_ORDER, max_trial_number=len(FAULT_ORDER),
                      max_trial_duration="2s", kwargs={"marker": marker},
                      max_trial_retries=0)  # a killed worker is retried in test_worker_loss
    with NasProcess(["run", spec], cwd=folder, root=rel_root, marker=marker) as nas:
        path = nas.experiment()
        seen: set[int] = set()
        while nas.proc.poll() is None:
            seen |= nas.watch()
            time.sleep(0.2)
        code = nas.wait(timeout=1)
        marked = wait_gone(with_marker(marker), timeout=3)
        workers = wait_gone(seen - marked, timeout=3)
        return Finished(code, nas.out, nas.err, path, marker, workers, marked)


@pytest.fixture(scope="package")
def live_exp(rel_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """12 trials of 0.3 s (every other one raises) while status/export run in a loop."""
    from helpers.cli import invoke

    folder = tmp_path_factory.mktemp("live")
    spec = fault_spec(folder, "live", faults=["ok", "raise"], reps=6, max_trial_number=12,
                      max_failed_trials=0, kwargs={"sleep": 0.3})
    polls: list[tuple[list[str], int, str, str]] = []
    with NasProcess(["run", spec], cwd=folder, root=rel_root) as nas:
        path = nas.experiment()
        commands = [["status", path.name, "--json"], ["status", "--json"],
                    ["export", path.name, "--format", "json"], ["status", path.name],
                    ["export", "--format", "json", "--top", "3"]]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("NAS_EXPERIMENTS_DIR", str(rel_root))
            while nas.proc.poll() is None:
                for args in commands:
                    polls.append((args, *invoke(*args)))
            for args in commands:  # once more after the end
                polls.append((args, *invoke(*args)))
        code = nas.wait(timeout=1)
        return Finished(code, nas.out, nas.err, path, polls=polls)
