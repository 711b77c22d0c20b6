"""The run loop through the library API, on an in-process backend (no workers: fast and
deterministic): limits, failures from the start, `nas stop`, Ctrl-C, resume and reruns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers.backends import InlineBackend
from helpers.cli import make_spec
from helpers.tiny import score_of

from nas_cli.errors import ExperimentError
from nas_cli.experiment import Listener, Run, create_experiment, open_experiment
from nas_cli.experiment import execute as run_experiment
from nas_cli.spec import load_spec
from nas_cli.trials import TrialState


class Recorder(Listener):
    """Keeps what the loop reported; `on_finished(run, n)` runs after the n-th finished trial."""

    def __init__(self, on_finished=None):
        self.log: list[tuple[str, Any]] = []
        self.on_finished = on_finished

    def started(self, run: Run) -> None:
        self.log.append(("started", None))

    def trial_started(self, run: Run, record) -> None:
        self.log.append(("trial_started", record.number))

    def trial_intermediate(self, run: Run, record, step: int, value: float) -> None:
        self.log.append(("trial_intermediate", (record.number, step, value)))

    def trial_finished(self, run: Run, record) -> None:
        self.log.append(("trial_finished", (record.number, record.state.value)))
        if self.on_finished is not None:
            self.on_finished(run, sum(1 for name, _ in self.log if name == "trial_finished"))

    def finished(self, run: Run) -> None:
        self.log.append(("finished", run.status))


def new_run(tmp_path: Path, backend: InlineBackend, listener: Listener | None = None,
            **overrides: Any) -> Run:
    spec = load_spec(make_spec(tmp_path, **overrides))
    run = create_experiment(spec, tmp_path / "experiments", listener)
    run.backend_factory = lambda spec: backend
    return run


def results(run: Run) -> dict[str, Any]:
    return json.loads((run.path / "results.json").read_text())


def test_runs_to_max_trials_and_reports_each_step(tmp_path):
    listener = Recorder()
    backend = InlineBackend(2)
    run = new_run(tmp_path, backend, listener, max_trial_number=3, trial_concurrency=2)
    run_experiment(run)
    assert run.status == "done" and run.stop_reason == "max_trial_number reached"
    assert backend.shut and not (run.path / "run.pid").exists()
    names = [name for name, _ in listener.log]
    assert names[0] == "started" and listener.log[-1] == ("finished", "done")
    assert names.count("trial_started") == names.count("trial_finished") == 3
    assert names.count("trial_intermediate") == 3
    for name, payload in listener.log:
        if name == "trial_intermediate":
            number, step, value = payload
            assert step == 0 and value == score_of(run.records[number].arch) / 2
    assert [t["trial"] for t in results(run)["trials"]] == \
        sorted(run.records, key=lambda n: -run.records[n].metric)
    assert run.best is not None and run.best.metric == max(r.metric for r in run.records.values())


def test_stops_when_the_first_trials_all_fail(tmp_path):
    run = new_run(tmp_path, InlineBackend(1), max_trial_number=20, max_failed_trials=3,
                  evaluator={"kwargs": {"fail_when": {}}})
    with pytest.raises(ExperimentError) as caught:
        run_experiment(run)
    first = run.records[0]
    assert caught.value.message == (f"the first 3 trials all failed; stopping (trial 0: "
                                    f"ValueError: hidden={first.arch['hidden']} diverged)")
    assert len(run.records) == 3
    assert results(run)["status"] == "failed"


def test_the_stop_file_stops_cleanly(tmp_path):
    def stop_after_two(run: Run, finished: int) -> None:
        if finished == 2:
            (run.path / "stop").touch()

    run = new_run(tmp_path, InlineBackend(1), Recorder(stop_after_two), max_trial_number=6)
    run_experiment(run)
    assert run.status == "stopped"
    assert run.stop_reason == "stopped by request"
    assert len(run.records) == 2
    assert results(run)["status"] == "stopped"


def test_ctrl_c_marks_running_trials_interrupted_and_cleans_up(tmp_path):
    backend = InlineBackend(2, hold={0, 1}, interrupt_after=3)
    run = new_run(tmp_path, backend, max_trial_number=6, trial_concurrency=2)
    run_experiment(run)
    assert run.status == "interrupted"
    assert backend.shut and not (run.path / "run.pid").exists()
    states = {t["trial"]: (t["status"], t["error"]) for t in results(run)["trials"]}
    assert states == {
        0: ("interrupted", "interrupted while running; `nas resume` reruns it"),
        1: ("interrupted", "interrupted while running; `nas resume` reruns it"),
    }


def test_the_time_limit_cancels_running_trials(tmp_path):
    run = new_run(tmp_path, InlineBackend(1, hold={0}), max_trial_number=6,
                  max_experiment_duration=0.5)
    run_experiment(run)
    assert run.status == "done"
    assert run.stop_reason == "max_experiment_duration reached"
    assert run.records[0].state is TrialState.INTERRUPTED
    assert run.records[0].error == "experiment time limit"


def test_resume_reruns_the_interrupted_trial_once_and_continues(tmp_path):
    def interrupt_after_two(run: Run, finished: int) -> None:
        if finished == 2:
            run.request_stop("interrupted")

    # first run: trial 1 never finishes; Ctrl-C after trials 0 and 2
    run = new_run(tmp_path, InlineBackend(2, hold={1}), Recorder(interrupt_after_two),
                  max_trial_number=4, trial_concurrency=2)
    run_experiment(run)
    assert run.status == "interrupted"
    before = {n: (r.arch, r.state) for n, r in run.records.items()}
    assert before[1][1] is TrialState.INTERRUPTED

    resumed = open_experiment(run.path, Recorder())
    resumed.backend_factory = lambda spec: InlineBackend(2)
    run_experiment(resumed, resume=True)
    assert resumed.status == "done"
    records = resumed.records
    assert sorted(records) == [0, 1, 2, 3, 4]
    for number in (0, 2):  # completed trials are kept as they were
        assert (records[number].arch, records[number].state) == before[number]
    assert records[1].state is TrialState.INTERRUPTED
    assert records[1].error == "interrupted; rerun as trial 3"
    assert records[3].arch == before[1][0] and records[3].state is TrialState.COMPLETE
    archs = [json.dumps(records[n].arch, sort_keys=True) for n in (0, 2, 3, 4)]
    assert len(set(archs)) == 4  # dedup holds across the resume
    assert resumed.finished_count == 4
    assert results(resumed)["status"] == "done"


def test_resuming_a_finished_experiment_runs_nothing_more(tmp_path):
    run = new_run(tmp_path, InlineBackend(1), max_trial_number=2)
    run_experiment(run)
    before = results(run)["trials"]
    resumed = open_experiment(run.path)
    resumed.backend_factory = lambda spec: InlineBackend(1)
    run_experiment(resumed, resume=True)
    assert resumed.status == "done"
    assert results(resumed)["trials"] == before


@pytest.mark.parametrize("presses", [1, 3])
def test_a_python_caller_gets_the_clis_ctrl_c_and_its_handlers_back(tmp_path, presses):
    """A real SIGINT during `execute` from Python: the run stops cleanly (not a traceback),
    the listener hears it once (pressed again while trials run, Ctrl-C waits for that clean
    stop), and the caller's own handler is in place afterwards."""
    import os
    import signal

    heard = []

    class Interrupting(Recorder):
        def stopping(self, run: Run) -> None:
            heard.append(run.stop_requested)

    def mine(signum, frame):  # the caller's handler, before and after
        raise AssertionError("the caller's handler ran during the experiment")

    def press(run: Run, n: int) -> None:
        if n == 1:
            for _ in range(presses):
                os.kill(os.getpid(), signal.SIGINT)

    listener = Interrupting(on_finished=press)
    run = new_run(tmp_path, InlineBackend(1), listener, max_trial_number=5)
    previous = signal.signal(signal.SIGINT, mine)
    try:
        run_experiment(run)
        assert signal.getsignal(signal.SIGINT) is mine
        assert signal.getsignal(signal.SIGTERM) is not None
    finally:
        signal.signal(signal.SIGINT, previous)
    assert heard == ["interrupted"]
    assert run.status == "interrupted" and results(run)["status"] == "interrupted"
    assert len([r for r in run.records.values() if r.state is TrialState.COMPLETE]) == 1


def test_a_failing_cleanup_step_is_logged_and_the_others_still_run(tmp_path, caplog):
    class BrokenShutdown(InlineBackend):
        def shutdown(self) -> None:
            super().shutdown()
            raise RuntimeError("the pool would not close")

    run = new_run(tmp_path, BrokenShutdown(1), max_trial_number=2)
    with caplog.at_level("WARNING", logger="nas_cli"):
        run_experiment(run)
    assert run.status == "done" and results(run)["status"] == "done"
    assert not (run.path / "run.pid").exists()
    assert [r.getMessage() for r in caplog.records] == [
        f"experiment {run.id}: while closing: RuntimeError: the pool would not close"]
