"""A real two-node Ray cluster started by the test (its own ports and temp folders, stopped by
pid; the suite's own Ray is not touched): `nas run` against its address; the second node is
lost mid-trial (its raylet killed), the lost trial runs again on the head; then the head itself
goes away mid-run, `nas run` stops with one line, the head is restarted and `nas resume`
finishes. In the end: exactly `max_trial_number` finished trials, none completed twice, every
trial's files in the driver's folder although no trial ever wrote there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.cli import TINY, make_spec

pytest.importorskip("ray")

from helpers.ray_cluster import ClusterUnavailable, RayCluster  # noqa: E402

NAS = [sys.executable, "-c", "from nas_cli.cli import main; main()"]
MAX_TRIALS = 5


def wait_until(what: str, check: Callable[[], object], process: subprocess.Popen,
               limit: float = 120) -> object:
    deadline = time.monotonic() + limit
    while not (found := check()):
        assert process.poll() is None, f"nas exited ({process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {limit} s"
        time.sleep(0.05)
    return found


def markers(folder: Path, kind: str, node: str | None = None) -> list[tuple[str, str]]:
    """(node, arch as JSON) of the `kind` ("start" or "done") markers trials left."""
    out = []
    for path in folder.iterdir():
        found_kind, found_node, _ = path.name.split("-")
        if found_kind == kind and node in (None, found_node):
            out.append((found_node, path.read_text()))
    return out


def nas(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([*NAS, *args], stdout=open(log, "w"), stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)


def test_a_lost_node_is_retried_and_a_lost_head_resumes(tmp_path: Path) -> None:
    marks = tmp_path / "markers"
    marks.mkdir()
    node_tmp = tmp_path / "node2-tmp"  # the second node's temp folder: not the driver's
    node_tmp.mkdir()
    with RayCluster(tmp_path) as cluster:
        try:
            head = cluster.start_head(cpus=1)
            node2 = cluster.add_node(cpus=1, name="node2", cwd=node_tmp,
                                     env={"NAS_TEST_NODE": "node2", "TMPDIR": str(node_tmp)})
        except ClusterUnavailable as exc:
            pytest.skip(str(exc))
        spec = make_spec(
            tmp_path, "cluster", strategy={"name": "grid", "seed": None},
            evaluator={"function": f"{TINY}:evaluate_on_node",
                       "kwargs": {"markers": str(marks), "steps": 10}},
            trial_concurrency=2, max_trial_number=MAX_TRIALS, max_trial_retries=1,
            training_service={"platform": "ray", "address": cluster.address})
        env = {**cluster.env, "NAS_EXPERIMENTS_DIR": str(tmp_path / "experiments")}
        for key in ("NAS_TEST_NODE", "TMPDIR"):
            env.pop(key, None)
        driver = nas("run", str(spec), env=env, log=tmp_path / "run.out")
        try:
            # the second node runs a trial; once its first line reached the driver's folder
            # (streamed: the node has its own folder), the node is lost
            lost = wait_until("trial on node2", lambda: markers(marks, "start", "node2"),
                              driver)[0][1]
            wait_until("its log on the driver", lambda: [
                p for p in (tmp_path / "experiments").glob("*/trials/*/trial.log")
                if f"on node2: temp {node_tmp}, cwd {node_tmp}" in p.read_text()], driver)
            cluster.kill_raylet(node2)
            # ... and runs again on the head, to its end; then the head goes away mid-trial
            wait_until("retry on the head", lambda: ("head", lost) in markers(marks, "done"),
                       driver)
            done = {arch for _, arch in markers(marks, "done")}
            wait_until("next trial on the head",
                       lambda: [a for _, a in markers(marks, "start", "head") if a not in done],
                       driver)
            cluster.kill(head)
            code = driver.wait(timeout=60)
            err = driver.stderr.read()
        finally:
            if driver.poll() is None:
                driver.kill()
        experiment = next((tmp_path / "experiments").iterdir())
        assert code == 1, err
        host = err.split("its head at ")[-1].split(":")[0]  # the address Ray gave its head
        assert err == (f"error: lost the Ray cluster: its head at {host}:{cluster.port} "
                       "stopped answering (Connection refused); running trials are "
                       f"interrupted; `nas resume {experiment.name}` continues the experiment "
                       "once the cluster is back\n")

        cluster.start_head(cpus=2, name="head-again")
        resumed = nas("resume", experiment.name, env=env, log=tmp_path / "resume.out")
        code = resumed.wait(timeout=300)
        assert code == 0, resumed.stderr.read()

    results = json.loads((experiment / "results.json").read_text())
    trials = {t["trial"]: t for t in results["trials"]}
    finished = [t for t in trials.values() if t["status"] in ("complete", "failed", "pruned")]
    assert len(finished) == MAX_TRIALS and all(t["status"] == "complete" for t in finished)
    archs = [json.dumps(t["arch"], sort_keys=True) for t in finished]
    assert len(set(archs)) == MAX_TRIALS  # no architecture completed twice

    retried = next(t for t in finished if json.dumps(t["arch"], sort_keys=True) == lost)
    [attempt] = retried["attempts"]
    assert attempt["error"].startswith(f"node {attempt['node']} lost")
    assert attempt["node"] != retried["node"]  # it ran again on the head
    interrupted = [t for t in trials.values() if t["status"] == "interrupted"]
    assert interrupted and all(t["error"].startswith("interrupted; rerun as trial ")
                               for t in interrupted)  # running (or waiting for the head)

    for trial in finished:  # every trial's files reached the driver's folder
        folder = experiment / "trials" / str(trial["trial"])
        assert json.loads((folder / "metrics.json").read_text())["metrics"] == trial["metrics"]
        assert "attempt " in (folder / "trial.log").read_text()
    log = (experiment / "trials" / str(retried["trial"]) / "trial.log").read_text()
    assert f"on node2: temp {node_tmp}, cwd {node_tmp}" in log  # kept from the lost attempt
    assert "--- attempt 2 (attempt 1: node " in log and "on head: temp" in log
    assert any(p.name.startswith("nas-trial-") for p in node_tmp.iterdir())  # where it wrote
    assert cluster.leftovers() == [] and all(n.process.poll() is not None for n in cluster.nodes)
    assert os.path.exists(experiment / "study.db")
