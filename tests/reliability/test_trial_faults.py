"""Trials that raise, exit, get killed, segfault, hang or run out of memory fail alone: each is
`failed` with a one-line reason the user can act on, later trials complete, `nas run` exits 0.
When the first `max_failed_trials` trials all fail, the run gives up with exit 1."""

from __future__ import annotations

import pytest
from reliability_support import (
    FAULT_ORDER,
    FAULTS,
    Finished,
    assert_study_consistent,
    fault_spec,
    results,
    temp_files,
)

# fault -> the reason results.json (and the progress line) gives for its trial
REASONS = {
    "raise": "ValueError: fault injected: raise",
    "exit": "worker died with exit code 3",
    "sigkill": "worker died with signal 9 (SIGKILL)",
    "segv": "worker died with signal 11 (SIGSEGV)",
    "hang": "timed out after 2s",
}


def test_the_experiment_goes_on_and_exits_0(faults_exp: Finished):
    assert faults_exp.code == 0, faults_exp.err
    assert "Traceback" not in faults_exp.err + faults_exp.out
    data = faults_exp.results
    assert data["status"] == "done"
    assert sorted(t["trial"] for t in data["trials"] if t["status"] == "complete") == [0, 7]
    assert faults_exp.trial("ok_late")["trial"] == len(FAULT_ORDER) - 1  # after every fault


@pytest.mark.parametrize("fault", sorted(REASONS))
def test_each_fault_fails_its_trial_with_a_clear_reason(faults_exp: Finished, fault: str):
    trial = faults_exp.trial(fault)
    assert (trial["status"], trial["error"]) == ("failed", REASONS[fault])
    assert "rank" not in trial and trial["metric"] is None
    assert f"trial {trial['trial']} failed: {REASONS[fault]}" in faults_exp.out


def test_out_of_memory_fails_its_trial_and_says_so(faults_exp: Finished):
    trial = faults_exp.trial("oom")
    assert trial["status"] == "failed"
    assert trial["error"].startswith("out of memory (peak ") and trial["error"].endswith(" GiB)")
    log = (faults_exp.path / "trials" / str(trial["trial"]) / "trial.log").read_text()
    assert "MemoryError" in log  # the traceback says what the allocation was


def test_the_traceback_of_a_raising_trial_is_in_its_log(faults_exp: Finished):
    number = faults_exp.trial("raise")["trial"]
    log = (faults_exp.path / "trials" / str(number) / "trial.log").read_text()
    assert "Traceback (most recent call last)" in log
    assert "ValueError: fault injected: raise" in log


def test_the_traceback_of_a_raising_trial_names_the_users_file(faults_exp: Finished):
    number = faults_exp.trial("raise")["trial"]
    log = (faults_exp.path / "trials" / str(number) / "trial.log").read_text()
    assert f'File "{FAULTS}", line' in log
    assert 'raise ValueError(f"fault injected: {fault}")' in log  # the source line


@pytest.mark.parametrize("fault", ["exit", "sigkill", "segv", "hang"])
def test_what_a_dying_trial_printed_is_kept(faults_exp: Finished, fault: str):
    number = faults_exp.trial(fault)["trial"]
    log = (faults_exp.path / "trials" / str(number) / "trial.log").read_text()
    assert f"trial starts: {fault}" in log


def test_failures_are_listed_after_the_ranked_trials(faults_exp: Finished):
    trials = faults_exp.results["trials"]
    assert [t.get("rank") for t in trials[:2]] == [1, 2]
    assert all("rank" not in t and t["error"] for t in trials[2:])


def test_the_store_is_consistent_after_the_faults(faults_exp: Finished):
    trials = assert_study_consistent(faults_exp.path)
    assert len(trials) == len(FAULT_ORDER)
    assert sorted(t.number for t in trials if t.state.name == "COMPLETE") == [0, 7]


def test_no_worker_is_left_after_the_run(faults_exp: Finished):
    assert not faults_exp.left_workers


def test_a_timed_out_trial_leaves_no_child_process(faults_exp: Finished):
    # the 'hang' trial started a grandchild (marked) before it hung past max_trial_duration
    assert not faults_exp.left_marked


def test_no_temporary_file_is_left(faults_exp: Finished):
    assert temp_files(faults_exp.path) == []


def test_first_trials_all_failing_stops_with_exit_1(nas, tmp_path, exp_dir):
    spec = fault_spec(tmp_path, faults=["raise"], reps=8, max_trial_number=8,
                      max_failed_trials=3)
    code, out, err = nas("run", spec)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "3" in lines[0] and "ValueError: fault injected: raise" in lines[0]
    assert "Traceback" not in err
    [path] = exp_dir.iterdir()
    data = results(path)
    assert data["status"] == "failed"
    failed = [t for t in data["trials"] if t["status"] == "failed"]
    assert 3 <= len(failed) < 8  # stopped early
    assert all(t["error"] == "ValueError: fault injected: raise" for t in failed)
    assert_study_consistent(path)
