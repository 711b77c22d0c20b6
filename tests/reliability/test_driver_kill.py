"""The driver killed with SIGKILL at random moments (as by the OOM killer or a lost node), each
time followed by `nas resume`, until the last resume runs to the end: exactly
`max_trial_number` trials finish, none of the completed ones is lost or changed, no architecture
is finished twice, the strategy continues where it was, and the orphaned workers go away."""

from __future__ import annotations

import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from reliability_support import (
    FINISHED,
    NasProcess,
    arch_key,
    assert_study_consistent,
    fault_spec,
    new_marker,
    results,
    running_trials_started,
    study_trials,
    temp_files,
    wait_for,
    wait_gone,
    with_marker,
)

MAX_TRIALS = 10
KILLS = 3
ORPHANS_GONE_WITHIN_S = 10.0  # trials take 0.5 s: a worker should notice its driver is gone

STRATEGIES = {
    # grid in index order: the finished architectures must be the first MAX_TRIALS of it
    "grid": {"name": "grid"},
    "evolution": {"name": "evolution", "seed": 3, "dedup": True, "population_size": 4,
                  "sample_size": 2},
}


@dataclass
class Chaos:
    strategy: str
    seed: int
    path: Path
    code: int                                        # of the last, uninterrupted resume
    err: str
    kills: list[dict[str, Any]] = field(default_factory=list)   # what each kill found
    orphans_left: list[set[int]] = field(default_factory=list)  # after ORPHANS_GONE_WITHIN_S
    orphan_seconds: list[float] = field(default_factory=list)   # how long orphans lingered


def _completed(path: Path) -> dict[int, tuple[float, str]]:
    """number -> (metric, arch) of the trials study.db holds as complete."""
    return {t.number: (t.value, arch_key(t.user_attrs["nas"]["arch"]))
            for t in study_trials(path) if t.state.name == "COMPLETE"}


def _trials_running(path: Path) -> int:
    """How many trials have started running in a worker (their log exists)."""
    return len(list((path / "trials").glob("*/trial.log")))


def _kill_driver(nas: NasProcess, rng: random.Random, chaos: Chaos, what: str) -> None:
    """SIGKILL the driver at a random moment: while it starts (one time in four), else 0-2 s
    after its first trial started running."""
    if rng.random() >= 0.25:
        before = _trials_running(chaos.path)
        wait_for(lambda: _trials_running(chaos.path) > before or nas.proc.poll() is not None, 60,
                 f"{what} to start a trial")
        time.sleep(rng.uniform(0.0, 2.0))
    else:
        time.sleep(rng.uniform(0.0, 3.0))
    if nas.proc.poll() is not None:  # it finished before the kill: nothing to kill
        chaos.kills.append({"what": what, "finished_first": nas.proc.returncode})
        return
    workers = nas.watch()
    os.kill(nas.pid, signal.SIGKILL)
    nas.wait(timeout=10)
    killed = time.monotonic()
    chaos.orphans_left.append(wait_gone(workers, ORPHANS_GONE_WITHIN_S))
    chaos.orphan_seconds.append(round(time.monotonic() - killed, 1))
    chaos.kills.append({"what": what, "completed": _completed(chaos.path)})


def _chaos(strategy: str, folder: Path, root: Path) -> Chaos:
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    spec = fault_spec(folder, strategy, faults=["ok", "raise"], reps=8,
                      strategy=STRATEGIES[strategy], max_trial_number=MAX_TRIALS,
                      max_failed_trials=0, kwargs={"sleep": 0.5})
    with NasProcess(["run", spec], cwd=folder, root=root) as nas:
        path = nas.experiment()
        chaos = Chaos(strategy, seed, path, 0, "")
        before = _trials_running(path)  # the first kill always finds trials running
        wait_for(lambda: _trials_running(path) > before, 60, "the first trial")
        _kill_driver(nas, rng, chaos, "run")
    for kill in range(1, KILLS + 1):
        with NasProcess(["resume", path.name], cwd=folder, root=root) as nas:
            if kill < KILLS:
                _kill_driver(nas, rng, chaos, f"resume {kill}")
            else:
                chaos.code = nas.wait(timeout=180)
                chaos.err = nas.err
    return chaos


@pytest.fixture(scope="module", params=sorted(STRATEGIES))
def chaos(request, rel_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Chaos:
    return _chaos(request.param, tmp_path_factory.mktemp(request.param), rel_root)


def test_the_last_resume_finishes_the_experiment(chaos: Chaos):
    assert chaos.code == 0, (chaos.seed, chaos.err)
    assert "Traceback" not in chaos.err
    assert results(chaos.path)["status"] == "done", chaos.seed


def test_exactly_max_trial_number_trials_finish(chaos: Chaos):
    trials = results(chaos.path)["trials"]
    finished = [t for t in trials if t["status"] in FINISHED]
    assert len(finished) == MAX_TRIALS, (chaos.seed, chaos.kills)
    assert {t["status"] for t in trials} <= FINISHED | {"interrupted"}


def test_no_architecture_finishes_twice(chaos: Chaos):
    finished = [arch_key(t["arch"]) for t in results(chaos.path)["trials"]
                if t["status"] in FINISHED]
    assert len(set(finished)) == len(finished), chaos.seed


def test_completed_trials_survive_every_kill_unchanged(chaos: Chaos):
    final = _completed(chaos.path)
    for kill in chaos.kills:
        for number, (metric, arch) in kill.get("completed", {}).items():
            assert final.get(number) == (metric, arch), (chaos.seed, kill["what"], number)
    in_results = {t["trial"]: (t["metric"], arch_key(t["arch"]))
                  for t in results(chaos.path)["trials"] if t["status"] == "complete"}
    assert in_results == final


def test_the_study_is_consistent(chaos: Chaos):
    trials = assert_study_consistent(chaos.path)
    states = [t.user_attrs["nas"]["state"] for t in trials]
    assert states.count("complete") + states.count("failed") == MAX_TRIALS


def test_an_interrupted_trial_is_rerun_at_most_once(chaos: Chaos):
    trials = results(chaos.path)["trials"]
    for trial in trials:
        if trial["status"] == "interrupted" and "rerun as trial" in (trial.get("error") or ""):
            rerun = int(trial["error"].rsplit(" ", 1)[1])
            same = next(t for t in trials if t["trial"] == rerun)
            assert same["arch"] == trial["arch"]


def test_the_strategy_continues_where_it_was(chaos: Chaos):
    trials = results(chaos.path)["trials"]
    finished = {arch_key(t["arch"]) for t in trials if t["status"] in FINISHED}
    if chaos.strategy == "grid":  # a restarted grid would skip or repeat part of the order
        order = [arch_key({"fault": f, "rep": r}) for r in range(1, 9) for f in ("ok", "raise")]
        assert finished == set(order[:MAX_TRIALS]), chaos.seed
    else:  # evolution: every trial a new architecture, the population rebuilt from the store
        tried = {arch_key(t["arch"]) for t in trials}
        assert len(finished) == MAX_TRIALS and finished <= tried, chaos.seed


def test_every_rerun_trial_names_its_rerun(chaos: Chaos):
    trials = sorted(results(chaos.path)["trials"], key=lambda t: t["trial"])
    for trial in trials:
        later = [t["trial"] for t in trials
                 if t["trial"] > trial["trial"] and t["arch"] == trial["arch"]]
        if trial["status"] == "interrupted" and later:
            assert trial["error"] == f"interrupted; rerun as trial {later[0]}", chaos.seed


def test_orphaned_workers_of_a_killed_driver_go_away(chaos: Chaos):
    assert all(not left for left in chaos.orphans_left), (chaos.orphans_left,
                                                           chaos.orphan_seconds)


def test_the_last_resume_leaves_no_pid_or_temp_file(chaos: Chaos):
    assert not (chaos.path / "run.pid").exists()
    assert temp_files(chaos.path) == []


def test_a_killed_driver_leaves_no_trial_child_running(rel_root, tmp_path):
    marker = new_marker()
    spec = fault_spec(tmp_path, faults=["grandchild"], reps=2, max_trial_number=2,
                      kwargs={"sleep": 30, "marker": marker})
    with NasProcess(["run", spec], cwd=tmp_path, root=rel_root, marker=marker) as nas:
        path = nas.experiment()
        wait_for(lambda: running_trials_started(path, [0, 1]) and len(with_marker(marker)) == 2,
                 60, "both trials to start their child")
        seen = nas.watch()
        os.kill(nas.pid, signal.SIGKILL)
        nas.wait(timeout=10)
        assert not wait_gone(seen, 5)
