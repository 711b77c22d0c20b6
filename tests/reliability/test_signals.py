"""Ctrl-C, SIGTERM and `nas stop` while trials run (one of them has started a grandchild):
`nas run` stops within 5 s (130 for a signal, 0 for `nas stop`), leaves no process behind,
marks the running trials interrupted in a consistent study.db, and `nas resume` finishes it."""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers.cli import invoke
from reliability_support import (
    NasProcess,
    assert_study_consistent,
    fault_spec,
    new_marker,
    results,
    running_trials_started,
    temp_files,
    trials_by_number,
    wait_for,
    wait_gone,
    with_marker,
)

TRIAL_SLEEP_S = 60.0  # a run that waited for its trials would have them complete (the
                      # stop's latency is measured by bench/bench_stop.py, not asserted here)


@dataclass
class Stopped:
    """A `nas run` stopped while trials 0 and 1 ran (trial 1 had started a grandchild)."""

    how: str
    code: int
    out: str
    err: str
    path: Path
    root: Path
    slow_flag: Path
    marker: str
    left: set[int] = field(default_factory=set)    # processes of the run still running after
    stop_result: tuple[int, str, str] | None = None


def _stop_a_run(how: str, folder: Path, root: Path) -> Stopped:
    """Start `nas run` (4 trials of 60 s, 2 at a time), then stop it `how`: sigint (Ctrl-C in
    a terminal: SIGINT to the whole foreground process group), sigterm (to the driver),
    sigint-again (Ctrl-C every 0.1 s until it exits) or stop (`nas stop EXP`)."""
    marker = new_marker()
    slow_flag = folder / "slow"
    slow_flag.touch()
    spec = fault_spec(folder, how, faults=["ok", "grandchild"], reps=2, max_trial_number=4,
                      kwargs={"sleep": TRIAL_SLEEP_S, "slow_flag": str(slow_flag),
                              "marker": marker})
    with NasProcess(["run", spec], cwd=folder, root=root, marker=marker) as nas:
        path = nas.experiment()
        wait_for(lambda: running_trials_started(path, [0, 1]) and with_marker(marker), 60,
                 "trials 0 and 1 to run and the grandchild to start")
        seen = nas.watch()
        assert with_marker(marker) <= seen  # the grandchild is one of the driver's descendants
        stop_result = None
        if how in ("sigint", "sigint-again"):
            os.killpg(nas.pid, signal.SIGINT)
            for _ in range(100):  # Ctrl-C every 0.1 s until it exits, 10 s at most
                if how != "sigint-again" or nas.proc.poll() is not None:
                    break
                time.sleep(0.1)
                os.killpg(nas.pid, signal.SIGINT)
        elif how == "sigterm":
            os.kill(nas.pid, signal.SIGTERM)
        else:
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("NAS_EXPERIMENTS_DIR", str(root))
                stop_result = invoke("stop", path.name)
        code = nas.wait(timeout=50)  # before the trials would have ended by themselves
        left = wait_gone(seen | with_marker(marker), timeout=5)
        return Stopped(how, code, nas.out, nas.err, path, root, slow_flag, marker,
                       left, stop_result)


@pytest.fixture(scope="module")
def sigint_exp(rel_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Stopped:
    return _stop_a_run("sigint", tmp_path_factory.mktemp("sigint"), rel_root)


@pytest.fixture(scope="module")
def sigterm_exp(rel_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Stopped:
    return _stop_a_run("sigterm", tmp_path_factory.mktemp("sigterm"), rel_root)


@pytest.fixture(scope="module")
def stop_exp(rel_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Stopped:
    return _stop_a_run("stop", tmp_path_factory.mktemp("stop"), rel_root)


SIGNALLED = ["sigint_exp", "sigterm_exp"]
ALL = [*SIGNALLED, "stop_exp"]


@pytest.mark.parametrize("name", SIGNALLED)
def test_a_signal_stops_the_run_with_exit_130(request, name):
    run: Stopped = request.getfixturevalue(name)
    assert run.code == 130, run.err
    assert f"stopping experiment {run.path.name}: running trials end interrupted..." in run.err
    assert "Traceback" not in run.err + run.out
    assert f"nas resume {run.path.name}" in run.err


def test_nas_stop_stops_the_run_with_exit_0(stop_exp: Stopped):
    assert stop_exp.code == 0, stop_exp.err
    code, out, err = stop_exp.stop_result
    assert (code, err) == (0, "")
    assert f"experiment {stop_exp.path.name} stopped" in out
    assert results(stop_exp.path)["status"] == "stopped"


@pytest.mark.parametrize("name", ALL)
def test_no_worker_or_grandchild_is_left(request, name):
    run: Stopped = request.getfixturevalue(name)
    assert not run.left


@pytest.mark.parametrize("name", ALL)
def test_running_trials_are_interrupted_in_results_and_study(request, name):
    run: Stopped = request.getfixturevalue(name)
    data = results(run.path)
    assert data["status"] == ("stopped" if name == "stop_exp" else "interrupted")
    trials = trials_by_number(run.path)
    assert {n: t["status"] for n, t in trials.items()} == {0: "interrupted", 1: "interrupted"}
    assert all("rank" not in t for t in trials.values())
    study = assert_study_consistent(run.path)
    assert [t.state.name for t in study] == ["FAIL", "FAIL"]  # not COMPLETE, not RUNNING
    assert not (run.path / "run.pid").exists()
    assert temp_files(run.path) == []


@pytest.mark.parametrize("name", ALL)
def test_status_shows_the_stopped_experiment(request, name, monkeypatch):
    run: Stopped = request.getfixturevalue(name)
    monkeypatch.setenv("NAS_EXPERIMENTS_DIR", str(run.root))
    expected = "stopped" if name == "stop_exp" else "interrupted"
    code, out, err = invoke("status", run.path.name)
    assert (code, err) == (0, "")
    assert f"experiment {run.path.name} ({run.how}): {expected}" in out
    assert "2 interrupted" in out


def test_resume_after_ctrl_c_finishes_the_experiment(sigint_exp: Stopped, monkeypatch):
    monkeypatch.setenv("NAS_EXPERIMENTS_DIR", str(sigint_exp.root))
    sigint_exp.slow_flag.unlink()  # the reruns do not sleep
    code, out, err = invoke("resume", sigint_exp.path.name, "--quiet")
    assert (code, err) == (0, ""), out
    data = results(sigint_exp.path)
    assert data["status"] == "done"
    finished = [t for t in data["trials"] if t["status"] == "complete"]
    assert len(finished) == 4
    assert len({str(sorted(t["arch"].items())) for t in finished}) == 4  # each arch once
    interrupted = {t["trial"]: t for t in data["trials"] if t["status"] == "interrupted"}
    assert sorted(interrupted) == [0, 1]
    for trial in interrupted.values():
        rerun = next(t for t in finished if t["arch"] == trial["arch"])
        assert trial["error"] == f"interrupted; rerun as trial {rerun['trial']}"
    assert_study_consistent(sigint_exp.path)
    assert not wait_gone(with_marker(sigint_exp.marker), timeout=3)


def test_ctrl_c_again_and_again_leaves_nothing_behind(rel_root, tmp_path, monkeypatch):
    # the first Ctrl-C starts a clean stop, the next ones (every 0.1 s) force it
    run = _stop_a_run("sigint-again", tmp_path, rel_root)
    assert run.code == 130
    assert "Traceback" not in run.err
    assert not run.left
    assert_study_consistent(run.path)
    monkeypatch.setenv("NAS_EXPERIMENTS_DIR", str(rel_root))
    code, out, _ = invoke("status", run.path.name, "--json")
    assert code == 0 and json.loads(out)["status"] == "interrupted"


def test_ctrl_c_in_nas_trial_exits_130(nas, tmp_path):
    spec = fault_spec(tmp_path, faults=["ok", "keyboard"])
    code, out, err = nas("trial", spec, "--arch", '{"fault": "keyboard"}')
    assert code == 130
