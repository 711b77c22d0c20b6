"""Retries of infrastructure failures, through the library API on an in-process backend that
loses trials on purpose: a trial lost with its worker or node runs again as the same trial
(recorded as an attempt in results.json and study.db), up to `max_trial_retries` times; a
trial's own failures never do; the budget counts trials; a lost cluster stops the run with
one line and `nas resume` finishes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import make_spec
from helpers.tiny import score_of

from nas_cli import store as st
from nas_cli.errors import ClusterLost
from nas_cli.execution import Backend, Event, Finished, Intermediate
from nas_cli.experiment import Listener, Run, create_experiment, open_experiment
from nas_cli.experiment import execute as run_experiment
from nas_cli.spec import load_spec
from nas_cli.trials import TrialOutcome, TrialState

LOST = "node 10.0.0.2/4f2a9c1e lost: health check failed due to missing too many heartbeats"


class LosingBackend(Backend):
    """Ends each submitted trial at once. `script[n]` says what each attempt of trial n does:
    "lost" (its node went away), "raise", "timeout", "prune" (reports, then early stopping
    ends it) or "ok" (the default, also once the script runs out)."""

    def __init__(self, capacity: int, script: dict[int, list[str]] | None = None,
                 cluster_lost_after: int | None = None):
        self.capacity = capacity
        self.script = {n: list(steps) for n, steps in (script or {}).items()}
        self.cluster_lost_after = cluster_lost_after  # ClusterLost after this many submissions
        self.submitted: list[int] = []
        self.queue: list[Event] = []
        self.pruned: list[int] = []
        self.held: set[int] = set()

    def start(self, payload: bytes) -> None:
        pass

    def submit(self, number: int, arch: dict[str, Any], trial_dir: Path,
               timeout: float | None) -> None:
        self.submitted.append(number)
        steps = self.script.get(number) or ["ok"]
        what = steps.pop(0)
        if what == "lost":
            self.queue.append(Finished(number, TrialOutcome(node="10.0.0.2/4f2a9c1e"),
                                       TrialState.FAILED, LOST, lost=True))
        elif what == "raise":
            self.queue.append(Finished.of(number, TrialOutcome(error="ValueError: diverged")))
        elif what == "timeout":
            self.queue.append(Finished(number, state=TrialState.FAILED,
                                       reason="timed out after 1s"))
        elif what == "prune":
            self.held.add(number)
            self.queue.append(Intermediate(number, 0, 0.0))
        elif what == "hold":
            self.held.add(number)
        else:
            outcome = TrialOutcome(metrics={"default": score_of(arch)}, params=1, duration_s=0.1,
                                   intermediate=[(0, score_of(arch))], node="10.0.0.1/0b7d3e55")
            self.queue.append(Intermediate(number, 0, score_of(arch)))
            self.queue.append(Finished.of(number, outcome))

    def prune(self, number: int, trial_dir: Path, reason: str) -> None:
        """The trial stops at its next report, and its worker goes with it: it reads lost."""
        self.pruned.append(number)
        self.held.discard(number)
        self.queue.append(Finished(number, state=TrialState.FAILED, reason=LOST, lost=True))

    def cancel(self, number: int, state: TrialState, reason: str) -> None:
        if number in self.held:
            self.held.discard(number)
            self.queue.append(Finished(number, state=state, reason=reason))

    def events(self, timeout: float) -> list[Event]:
        if self.cluster_lost_after is not None and len(self.submitted) >= self.cluster_lost_after:
            raise ClusterLost("lost the Ray cluster: its head at 10.0.0.1:6379 stopped "
                              "answering (Connection refused); running trials are interrupted")
        out, self.queue = self.queue, []
        return out

    def shutdown(self) -> None:
        pass


class Retries(Listener):
    def __init__(self) -> None:
        self.retried: list[tuple[int, int]] = []

    def trial_retried(self, run: Run, record: Any) -> None:
        self.retried.append((record.number, len(record.attempts)))


def new_run(tmp_path: Path, backend: Backend, listener: Listener | None = None,
            **overrides: Any) -> Run:
    spec = load_spec(make_spec(tmp_path, **overrides))
    run = create_experiment(spec, tmp_path / "experiments", listener)
    run.backend_factory = lambda spec: backend
    return run


def trials(run: Run) -> dict[int, dict[str, Any]]:
    data = json.loads((run.path / "results.json").read_text())
    return {t["trial"]: t for t in data["trials"]}


def stored(run: Run) -> dict[int, Any]:
    store = st.TrialStore(run.path / st.STUDY, study_name=run.id)
    try:
        return {r.number: r for r in store.records()}
    finally:
        store.close()


def test_a_lost_trial_runs_again_as_the_same_trial(tmp_path: Path) -> None:
    backend, listener = LosingBackend(2, {1: ["lost"]}), Retries()
    run = new_run(tmp_path, backend, listener, max_trial_number=3, trial_concurrency=2)
    run_experiment(run)
    assert run.status == "done"
    assert sorted(backend.submitted) == [0, 1, 1, 2]  # four attempts, three trials
    assert listener.retried == [(1, 1)]
    found = trials(run)
    assert sorted(found) == [0, 1, 2] and all(t["status"] == "complete" for t in found.values())
    assert found[1]["metric"] == score_of(found[1]["arch"])
    assert found[1]["node"] == "10.0.0.1/0b7d3e55"
    attempts = found[1]["attempts"]
    assert [(a["attempt"], a["error"], a["node"]) for a in attempts] == \
        [(1, LOST, "10.0.0.2/4f2a9c1e")]
    assert "attempts" not in found[0]
    assert stored(run)[1].attempts == attempts  # study.db keeps them too (for resume)
    log = (run.path / "trials" / "1" / "trial.log").read_text()
    assert f"--- attempt 2 (attempt 1: {LOST}) ---" in log


@pytest.mark.parametrize("retries", [0, 2])
def test_retries_are_bounded_by_max_trial_retries(tmp_path: Path, retries: int) -> None:
    backend = LosingBackend(1, {0: ["lost"] * 5})
    run = new_run(tmp_path, backend, max_trial_number=2, max_trial_retries=retries)
    run_experiment(run)
    assert backend.submitted == [0] * (retries + 1) + [1]
    failed = trials(run)[0]
    assert failed["status"] == "failed"
    if retries:
        assert failed["error"] == f"{LOST}; gave up after {retries + 1} attempts"
        assert [a["attempt"] for a in failed["attempts"]] == list(range(1, retries + 1))
    else:
        assert failed["error"] == LOST and "attempts" not in failed
    assert trials(run)[1]["status"] == "complete"


def test_a_trials_own_failures_are_never_retried(tmp_path: Path) -> None:
    """An exception, a timeout and early stopping end a trial for good (the pruned one even
    takes its worker along here, which would otherwise read as lost)."""
    backend = LosingBackend(1, {1: ["raise"], 2: ["timeout"], 3: ["prune"]})
    run = new_run(tmp_path, backend, max_trial_number=5, max_trial_retries=3,
                  early_stopping={"type": "median", "n_startup_trials": 1})
    run_experiment(run)
    assert backend.submitted == [0, 1, 2, 3, 4]
    found = trials(run)
    assert [found[n]["status"] for n in range(5)] == \
        ["complete", "failed", "failed", "pruned", "complete"]
    assert backend.pruned[0] == 3  # early stopping asked the backend to stop it
    assert not any("attempts" in t for t in found.values())


def test_a_lost_cluster_stops_with_one_line_and_resume_finishes(tmp_path: Path) -> None:
    run = new_run(tmp_path, LosingBackend(2, {1: ["hold"]}, cluster_lost_after=2),
                  max_trial_number=4, trial_concurrency=2)
    with pytest.raises(ClusterLost) as caught:
        run_experiment(run)
    assert caught.value.message == (
        "lost the Ray cluster: its head at 10.0.0.1:6379 stopped answering (Connection "
        f"refused); running trials are interrupted; `nas resume {run.id}` continues the "
        "experiment once the cluster is back")
    assert run.status == "interrupted"
    assert [t["status"] for t in trials(run).values()] == ["interrupted", "interrupted"]

    resumed = open_experiment(run.path)
    resumed.backend_factory = lambda spec: LosingBackend(2)
    run_experiment(resumed, resume=True)
    assert resumed.status == "done" and resumed.finished_count == 4
    found = trials(resumed)
    assert [found[n]["error"] for n in (0, 1)] == ["interrupted; rerun as trial 2",
                                                   "interrupted; rerun as trial 3"]
