"""`nas view`: the dashboard server a user starts (its API, as the browser app reads it), its
read-only guard, following a running experiment, and its failures."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def _request(url: str, method: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, data=b"{}",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_view_prints_the_study_page_on_loopback(view, experiment):
    log = view.log.read_text()
    first = log.splitlines()[0]
    assert first.startswith(f"experiment {experiment.id} (small-search, done, 8 trials): "
                            "http://127.0.0.1:")
    assert first.endswith("/dashboard/studies/1")
    assert "read-only" in log
    assert "Traceback" not in log


def test_dashboard_shows_the_trials_readably(view, experiment):
    (study,) = view.get("/api/studies")["study_summaries"]
    assert study["study_name"] == experiment.id
    detail = view.get(f"/api/studies/{study['study_id']}")

    assert detail["objective_names"] == ["score"]
    assert detail["has_intermediate_values"] is True
    trials = {t["number"]: t for t in detail["trials"]}
    assert len(trials) == 8
    results = {t["trial"]: t for t in experiment.results()["trials"]}
    for number, trial in trials.items():
        params = {p["name"]: p["param_external_value"] for p in trial["params"]}
        arch = results[number]["arch"]
        assert params["act"] == ["0: ReLU", "1: Tanh", "2: Sigmoid"][arch["act"]]
        assert params["block"] == arch["block"] and params["width"] == str(arch["width"])
    attrs = {a["key"]: a["value"] for a in trials[experiment.failed_trial]["user_attrs"]}
    assert trials[experiment.failed_trial]["state"] == "Fail"
    assert attrs["error"] == "RuntimeError: sigmoid after linear diverged <at step 1>"
    best = results[experiment.results()["trials"][0]["trial"]]
    attrs = {a["key"]: a["value"] for a in trials[best["trial"]]["user_attrs"]}
    assert attrs["loss"] == str(best["metrics"]["loss"]) and attrs["params"] == str(best["params"])
    rows = {a["key"]: a["value"] for a in detail["user_attrs"]}
    assert rows["name"] == "small-search" and rows["objective"] == "score"
    assert rows["choices: act"] == "(layer) 0: ReLU | 1: Tanh | 2: Sigmoid"


def test_dashboard_plots_and_importance_answer(view):
    importances = view.get("/api/studies/1/param_importances")["param_importances"]
    assert {i["name"] for i in importances[0]} == {"act", "block", "width"}
    figure = view.get("/api/studies/1/plot/parallel_coordinate")
    assert figure["data"] and "2: Sigmoid" in json.dumps(figure)


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/studies"), ("DELETE", "/api/studies/1"), ("PUT", "/api/studies/1/note"),
    ("POST", "/api/studies/1/rename"),
])
def test_dashboard_never_writes(view, experiment, method, path):
    before = (experiment.path / "study.db").stat().st_mtime_ns
    status, body = _request(view.url + path, method)

    assert status == 405
    assert "read-only" in body["reason"]
    assert (experiment.path / "study.db").stat().st_mtime_ns == before
    assert len(view.get("/api/studies")["study_summaries"]) == 1


def test_dashboard_follows_a_running_experiment(experiment, start_view, tmp_path):
    """A writer holds study.db open and adds a trial (as the driver does); the dashboard,
    already serving, shows it."""
    from nas_cli.store import TrialStore

    root = tmp_path / "experiments"
    shutil.copytree(experiment.path, root / experiment.id)
    store = TrialStore(root / experiment.id / "study.db", study_name=experiment.id)
    try:
        store.set_space(store.meta().space)
        with start_view(root, experiment.id, tmp_path) as server:
            assert len(server.get("/api/studies/1")["trials"]) == 8
            number = store.start_trial({"block": "skip", "act": 1, "width": 16})
            store.report(number, 0, 0.5)
            deadline = time.time() + 15
            while time.time() < deadline:
                trials = server.get("/api/studies/1")["trials"]
                if len(trials) == 9:
                    break
                time.sleep(0.5)
            new = trials[-1]
            assert (new["number"], new["state"]) == (8, "Running")
            assert {p["name"]: p["param_external_value"] for p in new["params"]}["act"] == "1: Tanh"
            assert new["intermediate_values"] == [{"step": 0, "value": 0.5}]
    finally:
        store.close()


def test_port_in_use_is_a_usage_error(nas, experiment):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = nas("view", experiment.id, "--exp-dir", experiment.root,
                             "--port", port)

    assert code == 2 and out == ""
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_unknown_experiment_is_a_usage_error(nas, experiment):
    code, _, err = nas("view", "nope", "--exp-dir", experiment.root)

    assert code == 2
    assert "no experiment 'nope'" in err


def test_missing_dashboard_is_one_clear_line(nas, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)
    code, out, err = nas("view", "--exp-dir", tmp_path)

    assert (code, out) == (1, "")
    assert err.strip() == "error: nas view needs optuna-dashboard: pip install 'nas-cli[view]'"


def test_view_and_report_never_import_torch(experiment, tmp_path: Path):
    """Both commands, run to the end in a fresh interpreter (the dashboard answering its API),
    leave torch unimported: they read files, never user code."""
    script = textwrap.dedent(f"""
        import json, socket, sys, threading, time, urllib.request
        from nas_cli.cli import main

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        args = ["view", {experiment.id!r}, "--exp-dir", {str(experiment.root)!r},
                "--port", str(port)]
        threading.Thread(target=main, args=(args,), daemon=True).start()
        for _ in range(200):
            try:
                for path in ("/api/studies/1", "/api/studies/1/param_importances",
                             "/api/studies/1/plot/parallel_coordinate", "/dashboard"):
                    urllib.request.urlopen(f"http://127.0.0.1:{{port}}{{path}}", timeout=10).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("the dashboard did not answer")
        code = main(["report", {experiment.id!r}, "--exp-dir", {str(experiment.root)!r},
                     "--output", {str(tmp_path / "r.html")!r}])
        print(json.dumps({{"code": code, "torch": sorted(m for m in sys.modules
                                                       if m.split(".")[0] == "torch")}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "torch": []}
