"""Trial states and experiment statuses: a trial moves once, from RUNNING to where it ends
(a retry keeps it running, a rerun is a new trial); the engine ignores a second end of a
trial and refuses a move back to RUNNING; an experiment's status is an ExperimentStatus whose
values are the strings results.json and study.db have always held."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import make_spec
from helpers.tiny import score_of

from nas_cli import store as st
from nas_cli.execution import Backend, Event, Finished
from nas_cli.experiment import create_experiment
from nas_cli.experiment import execute as run_experiment
from nas_cli.spec import load_spec
from nas_cli.trials import (
    ExperimentStatus,
    InvalidTransition,
    TrialOutcome,
    TrialRecord,
    TrialState,
)

FINAL = [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED, TrialState.INTERRUPTED]


@pytest.mark.parametrize("state", FINAL)
def test_a_running_trial_ends_once(state: TrialState) -> None:
    record = TrialRecord(0, {"conv": 1})
    record.end(state, "why")
    assert (record.state, record.error) == (state, "why")
    for again in [TrialState.RUNNING, *FINAL]:  # nothing moves a trial that has ended
        with pytest.raises(InvalidTransition, match=f"trial 0 cannot go from {state.value}"):
            record.end(again)
    assert record.state is state


def test_a_running_trial_does_not_become_running() -> None:
    with pytest.raises(InvalidTransition, match="from running to running"):
        TrialRecord(3, {}).end(TrialState.RUNNING)


@pytest.mark.parametrize("text", ["running", "done", "failed", "interrupted", "stopped"])
def test_experiment_status_reads_and_writes_the_stored_strings(text: str) -> None:
    status = ExperimentStatus.read(text)
    assert status.value == text and status == text
    assert json.dumps({"status": status}) == json.dumps({"status": text})
    assert f"{status}" == text


def test_an_unknown_or_missing_status_reads_as_unknown() -> None:
    assert ExperimentStatus.read("paused") is ExperimentStatus.UNKNOWN
    assert ExperimentStatus.read(None) is ExperimentStatus.UNKNOWN


class TwiceBackend(Backend):
    """Completes each trial at once; `then` is a second Finished event sent for trial 0 (a
    backend bug): a FAILED end after it completed, or a move back to RUNNING."""

    def __init__(self, then: TrialState):
        self.capacity = 1
        self.then = then
        self.queue: list[Event] = []

    def start(self, payload: bytes) -> None:
        pass

    def submit(self, number: int, arch: dict[str, Any], trial_dir: Path,
               timeout: float | None) -> None:
        self.queue.append(Finished.of(number, TrialOutcome(metrics={"default": score_of(arch)})))
        if number == 0:
            self.queue.append(Finished(0, state=self.then, reason="ended twice"))

    def cancel(self, number: int, state: TrialState, reason: str) -> None:
        pass

    def events(self, timeout: float) -> list[Event]:
        out, self.queue = self.queue, []
        return out

    def shutdown(self) -> None:
        pass


def _run(tmp_path: Path, backend: Backend) -> Any:
    spec = load_spec(make_spec(tmp_path, max_trial_number=3))
    run = create_experiment(spec, tmp_path / "experiments")
    run.backend_factory = lambda spec: backend
    return run


def test_a_second_end_of_a_trial_changes_nothing(tmp_path: Path) -> None:
    run = _run(tmp_path, TwiceBackend(TrialState.FAILED))
    run_experiment(run)
    assert run.status is ExperimentStatus.DONE
    assert run.records[0].state is TrialState.COMPLETE and run.records[0].error is None
    trials = {t["trial"]: t for t in json.loads((run.path / st.RESULTS).read_text())["trials"]}
    assert [trials[n]["status"] for n in range(3)] == ["complete"] * 3
    info = st.load_info(run.path)
    assert info.status is ExperimentStatus.DONE and info.results.status == "done"


def test_the_engine_refuses_a_move_back_to_running(tmp_path: Path) -> None:
    class BackToRunning(TwiceBackend):
        def submit(self, number: int, arch: dict[str, Any], trial_dir: Path,
                   timeout: float | None) -> None:
            self.queue.append(Finished(number, state=TrialState.RUNNING, reason="still running"))

    run = _run(tmp_path, BackToRunning(TrialState.RUNNING))
    with pytest.raises(InvalidTransition, match="trial 0 cannot go from running to running"):
        run_experiment(run)
    # the run closed cleanly: the trial is left interrupted, for `nas resume` to rerun
    assert run.records[0].state is TrialState.INTERRUPTED
    assert st.load_info(run.path).status is ExperimentStatus.INTERRUPTED
