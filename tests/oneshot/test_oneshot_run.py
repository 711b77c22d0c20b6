"""`strategy: spos` end to end on an unchanged example space: the supernet trains in a worker,
the search scores architectures on inherited weights, the best are retrained; status, export
and report work on what it stored; a driver killed mid-training resumes after its last epoch."""

from __future__ import annotations

import json
import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from nas_cli.evaluator import load_dataset
from nas_cli.evaluator._lightning import make_batches
from nas_cli.oneshot._inherit import validate

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"
NAS = [sys.executable, "-c", "from nas_cli.cli import main; main()"]
EPOCHS = 8  # of a tiny supernet: the driver is killed after the first, before the last


def spos_spec(folder: Path, concurrency: int = 2, space: dict | None = None, **strategy) -> Path:
    spec = {
        "model_space": space or {"module": str(SPACES / "digits.py"), "class": "DigitsNet"},
        "strategy": {"name": "RandomOneShot", "seed": 0, "supernet_epochs": 2,
                     "search": {"name": "evolution", "population_size": 4, "sample_size": 2},
                     "search_trials": 6, "retrain_top": 1, "eval_paths": 2,
                     "bn_recalibration_batches": 4, **strategy},
        "evaluator": {"type": "classification", "dataset": "digits", "max_epochs": 1,
                      "learning_rate": 0.003},
        "trial_concurrency": concurrency,
    }
    path = folder / "spos.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_spos_trains_searches_retrains_and_exports(nas, tmp_path):
    root = tmp_path / "exps"
    code, out, err = nas("run", spos_spec(tmp_path), "--exp-dir", root)
    assert code == 0, err
    assert "phase 1/3, supernet" in out and "supernet epoch 2/2" in out
    assert "phase 2/3, search" in out and "phase 3/3, retrain" in out
    path = next(root.iterdir())
    results = json.loads((path / "results.json").read_text())
    assert results["status"] == "done" and results["strategy"] == "spos"
    supernet = results["oneshot"]["supernet"]
    assert supernet["epochs_done"] == 2 and [h["epoch"] for h in supernet["history"]] == [1, 2]
    assert (path / "supernet" / "checkpoint.pt").is_file()
    trials = results["trials"]
    search = [t for t in trials if t["phase"] == "search"]
    retrain = [t for t in trials if t["phase"] == "retrain"]
    assert len(search) == 6 and all(t["inherited"] and t["status"] == "complete" for t in search)
    assert len(retrain) == 1 and not retrain[0]["inherited"]
    assert trials[0] is retrain[0] and trials[0]["rank"] == 1  # the retrained metric ranks first
    assert retrain[0]["arch"] == search[0]["arch"]  # the best of the search was retrained
    assert len(retrain[0]["intermediate"]) == 1     # trained for the evaluator's max_epochs

    code, out, err = nas("status", path.name, "--exp-dir", root, "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["oneshot"]["searched"] == 6 and status["oneshot"]["retrained"] == 1
    assert status["best"][0]["phase"] == "retrain"

    target = tmp_path / "models"
    code, out, err = nas("export", path.name, "--exp-dir", root, "--format", "model",
                         "--top", "2", "--output", target)
    assert code == 0, err
    best_search = search[0]  # exported with the weights it inherits from the supernet
    model = runpy.run_path(str(target / f"trial_{best_search['trial']}" / "load.py"))["model"]
    _, val = load_dataset("digits", task="classification")
    metrics = validate(model, make_batches(val, 1024, shuffle=False), "classification", "cpu")
    assert metrics["val_acc"] == pytest.approx(best_search["metric"], abs=1e-9)
    assert (target / f"trial_{retrain[0]['trial']}" / "model.pt").is_file()

    code, out, err = nas("report", path.name, "--exp-dir", root, "--output", tmp_path / "r.html")
    assert code == 0, err and (tmp_path / "r.html").stat().st_size > 0


def test_a_driver_killed_while_the_supernet_trains_resumes_after_its_last_epoch(tmp_path):
    root = tmp_path / "exps"
    tiny = {"module": str(Path(__file__).with_name("zoo.py")), "class": "TinyDigits"}
    spec = spos_spec(tmp_path, concurrency=1, space=tiny, supernet_epochs=EPOCHS, search_trials=1,
                     retrain_top=0, eval_paths=1)
    env = dict(os.environ, NAS_EXPERIMENTS_DIR=str(root))
    command = [*NAS, "run", str(spec), "-q"]
    driver = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, start_new_session=True)
    try:
        progress = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and driver.poll() is None:
            found = list(root.glob("*/supernet/progress.json")) if root.exists() else []
            if found and json.loads(found[0].read_text() or "{}").get("epochs_done", 0) >= 1:
                progress = found[0]
                break
            time.sleep(0.05)
        assert progress is not None, driver.stderr.read() if driver.poll() is not None else ""
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    before = json.loads(progress.read_text())["history"]
    assert len(before) < EPOCHS, "the supernet finished before the kill: use more epochs"
    path = progress.parent.parent
    resumed = subprocess.run([*NAS, "resume", path.name, "-q"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    history = json.loads((path / "results.json").read_text())["oneshot"]["supernet"]["history"]
    assert [h["epoch"] for h in history] == list(range(1, EPOCHS + 1))
    # the epochs finished before the kill were kept as they were, not trained again (at most
    # the epoch running at the kill was lost)
    assert history[: len(before)] == before
