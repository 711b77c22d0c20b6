"""The simulated backend through the engine: completions in the order a cluster of N workers
would deliver them, failure and straggler injection, early stopping and time limits in
virtual time, and virtual times labelled as such."""

from __future__ import annotations

import heapq
import json
import math
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import invoke, run_new
from helpers.tables import every_row, row, table_spec, write_table

from nas_cli.execution._simulated import LOST
from nas_cli.experiment import Listener, create_experiment, execute
from nas_cli.spec import load_spec

# distinct training times, so the order of completions is unambiguous
SECONDS = {(4, 0): 5.0, (4, 1): 1.0, (8, 0): 3.0, (8, 1): 2.0, (16, 0): 4.0, (16, 1): 6.5}


class Order(Listener):
    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def trial_started(self, run, record) -> None:
        self.starts.append(record.number)

    def trial_finished(self, run, record) -> None:
        self.ends.append(record.number)


def run_spec(spec: Path, tmp_path: Path, listener: Listener | None = None):
    run = create_experiment(load_spec(spec), tmp_path / "experiments", listener)
    return execute(run)


def results(run) -> dict[str, Any]:
    return json.loads((run.path / "results.json").read_text())


def expected_ends(durations: list[float], workers: int) -> list[float]:
    """List scheduling: each trial, in order, on the worker that frees first."""
    free = [0.0] * workers
    ends = []
    for duration in durations:
        start = heapq.heappop(free)
        ends.append(start + duration)
        heapq.heappush(free, start + duration)
    return ends


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_trials_end_in_virtual_time_order_for_n_workers(tmp_path, workers):
    table = write_table(tmp_path, every_row(SECONDS))
    spec = table_spec(tmp_path, table, workers=workers, strategy={"name": "grid", "seed": 0})
    order = Order()
    run = run_spec(spec, tmp_path, order)
    assert run.status == "done" and order.starts == list(range(6))
    durations = [SECONDS[run.records[n].arch["hidden"], run.records[n].arch["act"]]
                 for n in range(6)]
    ends = expected_ends(durations, workers)
    assert order.ends == sorted(range(6), key=lambda n: ends[n])
    assert [run.records[n].duration_s for n in range(6)] == durations
    data = results(run)
    assert data["clock"] == "virtual" and data["elapsed_s"] == max(ends)
    assert data["trial_concurrency"] == workers
    assert data["trials"][0]["arch"] == {"hidden": 16, "act": 1}  # the best, ranked first
    assert not any((run.path / "trials").iterdir())  # a simulated trial writes no files


def test_failures_stragglers_and_noise_are_injected(tmp_path):
    table = write_table(tmp_path, every_row({k: 10.0 for k in SECONDS}))
    spec = table_spec(tmp_path, table, workers=3, max_trial_number=40, max_failed_trials=0,
                      strategy={"name": "random", "dedup": False, "seed": 1},
                      training_service={"failure_rate": 0.3, "stragglers": 0.3,
                                        "straggler_factor": 3, "seed": 5})
    trials = results(run_spec(spec, tmp_path))["trials"]
    failed = [t for t in trials if t["status"] == "failed"]
    complete = [t for t in trials if t["status"] == "complete"]
    assert failed and complete and len(failed) + len(complete) == 40
    # a lost worker is retried once (max_trial_retries: 1), as on a real cluster
    assert all(t["error"] == f"{LOST}; gave up after 2 attempts" for t in failed)
    retried = [t for t in complete if t.get("attempts")]
    assert retried and all(t["attempts"][0]["error"] == LOST for t in retried)
    assert {t["duration_s"] for t in complete} == {10.0, 30.0}  # on time, or straggling
    assert all(0 <= t["duration_s"] < 30 for t in failed)

    noisy = table_spec(tmp_path, table, workers=2, name="noisy",
                       training_service={"time_noise": 0.2})
    durations = [t["duration_s"] for t in results(run_spec(noisy, tmp_path))["trials"]]
    assert len(set(durations)) == 6
    assert all(10 * math.exp(-1) < d < 10 * math.exp(1) for d in durations)


def test_early_stopping_stops_a_trial_at_the_virtual_time_of_its_epoch(tmp_path):
    """Four epochs of one virtual second each; a pruned trial took as many seconds as epochs
    it reported, and the single worker's clock is the sum of the trials' times."""
    rows = [row(h, a, acc=(h / 16 + a / 100), seconds=4.0,
                curve=[round((h / 16 + a / 100) * f, 4) for f in (0.25, 0.5, 0.75, 1.0)])
            for h in (4, 8, 16) for a in (0, 1)]
    table = write_table(tmp_path, rows)
    spec = table_spec(tmp_path, table, strategy={"name": "grid", "seed": 3},
                      early_stopping={"type": "median", "n_startup_trials": 1})
    run = run_spec(spec, tmp_path)
    data = results(run)
    pruned = [t for t in data["trials"] if t["status"] == "pruned"]
    assert pruned, data["trials"]
    for trial in pruned:
        steps = [step for step, _ in trial["intermediate"]]
        assert steps == list(range(len(steps))) and len(steps) < 4
        assert trial["duration_s"] == float(len(steps))
        assert trial["error"].startswith(f"pruned at step {steps[-1]} (acc=")
    assert data["elapsed_s"] == sum(t["duration_s"] for t in data["trials"])
    for trial in data["trials"]:
        if trial["status"] == "complete":
            assert trial["duration_s"] == 4.0 and len(trial["intermediate"]) == 4


def test_time_limits_are_virtual_and_labelled(tmp_path):
    table = write_table(tmp_path, every_row({k: 10.0 for k in SECONDS} | {(16, 1): 60.0}))
    spec = table_spec(tmp_path, table, workers=2, strategy={"name": "grid", "seed": 0},
                      max_experiment_duration="25s", max_trial_duration="30s")
    root = tmp_path / "experiments"
    ran = run_new(root, spec, "--exp-dir", root, "-q")
    assert ran.code == 0, ran.err
    data = ran.results
    assert (data["status"], data["stop_reason"], data["elapsed_s"]) == \
        ("done", "max_experiment_duration reached", 25.0)
    trials = {t["trial"]: t for t in data["trials"]}
    for number in (0, 1, 2, 3):  # two rounds of 10 s, unless one is the 60 s architecture
        trial = trials[number]
        if trial["arch"] == {"hidden": 16, "act": 1}:
            assert trial["status"] in ("failed", "interrupted")
        else:
            assert (trial["status"], trial["duration_s"]) == ("complete", 10.0)
    late = [t for t in trials.values() if t["status"] == "interrupted"]
    assert late and all(t["error"] == "experiment time limit" for t in late)
    code, out, _ = invoke("status", ran.id, "--exp-dir", root)
    assert code == 0 and "elapsed 25s (virtual: a simulated cluster)" in out


def test_a_trial_over_max_trial_duration_fails_at_that_virtual_time(tmp_path):
    table = write_table(tmp_path, every_row({k: 2.0 for k in SECONDS} | {(4, 0): 100.0}))
    spec = table_spec(tmp_path, table, max_trial_duration="1m",
                      strategy={"name": "grid", "seed": 0})
    data = results(run_spec(spec, tmp_path))
    slow = next(t for t in data["trials"] if t["arch"] == {"hidden": 4, "act": 0})
    assert (slow["status"], slow["error"], slow["duration_s"]) == \
        ("failed", "timed out after 1m", 60.0)
    assert data["elapsed_s"] == 60.0 + 5 * 2.0


@pytest.mark.parametrize("service, message", [
    ({"platform": "simulated"}, "training_service: platform simulated replays a table: set "
                                "evaluator.type: table (with evaluator.path: FILE)"),
    ({"platform": "local", "workers": 4}, "training_service.workers: only applies to platform "
                                          "simulated, not local"),
])
def test_simulated_specs_are_checked(tmp_path, write_spec, service, message):
    spec = write_spec(tmp_path, training_service=service)
    code, _, err = invoke("run", spec, "--exp-dir", tmp_path / "experiments")
    assert code == 2 and err.strip() == f"error: {message}"


@pytest.mark.parametrize("rule", [{"type": "median", "n_startup_trials": 3},
                                  {"type": "asha", "reduction_factor": 2}])
def test_early_stopping_decides_the_same_from_its_cache_of_the_study(tmp_path, monkeypatch,
                                                                      rule):
    """The pruners read the study from a cache: finished trials kept as they end, the rung
    values ASHA writes kept as it writes them (Optuna would read every running trial again
    at each decision). Every trial ends as it does when Optuna reads the study itself, and
    after each trial the cache holds what Optuna reads."""
    from nas_cli.experiment import _early

    rows = [row(h, a, acc=(h / 16 + a / 100), seconds=2.0 + h / 8 + a,
                curve=[round((h / 16 + a / 100) * f, 4) for f in (0.25, 0.5, 0.75, 1.0)])
            for h in (4, 8, 16) for a in (0, 1)]
    table = write_table(tmp_path, rows)
    spec = table_spec(tmp_path, table, workers=4, max_trial_number=40,
                      strategy={"name": "random", "seed": 5, "dedup": False},
                      early_stopping=rule)

    class Compare(Listener):
        """After each trial: the cache holds exactly the completed trials Optuna reads."""
        checked = 0

        def trial_finished(self, run, record) -> None:
            stopping = run.early_stopping
            if stopping._finished is None:
                return
            from optuna.trial import TrialState

            stopping.store.frozen_trial(record.number)  # the store commits for Optuna
            read = stopping.study.get_trials(deepcopy=False)
            assert {t.number: (t.state, t.intermediate_values, t.system_attrs)
                    for t in stopping._finished_trials()} == \
                {t.number: (t.state, t.intermediate_values, t.system_attrs)
                 for t in read if t.state.is_finished()}
            running = {t._trial_id: {k: v for k, v in t.system_attrs.items()
                                     if k.startswith("completed_rung_")}
                       for t in read if t.state == TrialState.RUNNING}
            assert stopping._rungs == {i: attrs for i, attrs in running.items() if attrs}
            Compare.checked += 1

    def trials(folder: Path, listener: Listener | None = None) -> list[tuple[Any, ...]]:
        run = create_experiment(load_spec(spec), folder, listener)
        return [(t["trial"], t["arch"], t["status"], t.get("error"), t["intermediate"])
                for t in sorted(results(execute(run))["trials"], key=lambda t: t["trial"])]

    Compare.checked = 0
    cached = trials(tmp_path / "cached", Compare())
    assert Compare.checked > 20
    monkeypatch.setattr(_early, "_Cached", lambda study, finished, rungs: study)  # Optuna
    assert trials(tmp_path / "optuna") == cached
    states = {state for _, _, state, _, _ in cached}
    assert states == {"complete", "pruned"}, cached
