"""On the local pool: a worker killed from outside is an infrastructure failure, so its trial
runs again (as the same trial, its first attempt recorded); a trial past `max_trial_memory`
fails "out of memory" with its peak, and the experiment goes on."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.cli import Ran, invoke, run_new
from reliability_support import fault_spec

from nas_cli import store as st


def test_a_killed_worker_is_retried_and_a_trial_over_its_memory_fails(tmp_path: Path,
                                                                      exp_dir: Path) -> None:
    spec = fault_spec(tmp_path, faults=["ok", "sigkill_once", "grow"], max_trial_number=3,
                      max_trial_memory="1GiB", max_trial_retries=1,
                      kwargs={"once_dir": str(tmp_path)})
    ran: Ran = run_new(exp_dir, spec)
    assert ran.code == 0, ran.err
    trials = {t["arch"]["fault"]: t for t in ran.results["trials"]}
    assert len(ran.results["trials"]) == 3  # the budget counts trials, not attempts

    retried = trials["sigkill_once"]
    assert retried["status"] == "complete"
    assert retried["attempts"] == [{"attempt": 1, "error": "worker died with signal 9 (SIGKILL)",
                                    "duration_s": retried["attempts"][0]["duration_s"]}]
    assert f"trial {retried['trial']} runs again (attempt 2 of 2): worker died with signal 9 " \
           "(SIGKILL)" in ran.out
    log = (ran.path / "trials" / str(retried["trial"]) / "trial.log").read_text()
    assert log.count("trial starts: sigkill_once") == 2  # both attempts' output is kept
    assert "--- attempt 2 (attempt 1: worker died with signal 9 (SIGKILL)) ---" in log

    grown = trials["grow"]
    assert grown["status"] == "failed" and "attempts" not in grown
    assert grown["error"].startswith("out of memory (peak ")
    assert grown["error"].endswith(" GiB; max_trial_memory is 1.0 GiB)")
    assert 0 < grown["peak_memory"] <= 1 << 30
    assert trials["ok"]["status"] == "complete" and trials["ok"]["peak_memory"] > 0

    status = invoke("status", ran.id)[1]  # nas status says it too
    assert f"trial {retried['trial']} ran 2 times (complete); lost before: worker died with " \
           "signal 9 (SIGKILL)" in status
    retries = json.loads(invoke("status", ran.id, "--json")[1])["retried"]
    assert retries == [{"trial": retried["trial"], "status": "complete", "attempts": 2,
                        "lost": ["worker died with signal 9 (SIGKILL)"]}]

    meta = {r.number: r for r in _records(ran.path)}  # study.db says the same
    assert meta[retried["trial"]].attempts == retried["attempts"]
    assert "max_trial_memory: 1GiB" in (ran.path / "spec.yaml").read_text()


def _records(path: Path) -> list:
    store = st.TrialStore(path / st.STUDY, study_name=path.name)
    try:
        return store.records()
    finally:
        store.close()
