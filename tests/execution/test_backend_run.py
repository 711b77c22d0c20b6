"""`nas run` end to end on each platform, and `platform: ray` without Ray installed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BEHAVIORS = Path(__file__).with_name("behaviors.py")


def results(exp_dir: Path) -> dict:
    (experiment,) = exp_dir.iterdir()
    return json.loads((experiment / "results.json").read_text())


def test_nas_run_on_the_local_pool(nas, write_spec, tmp_path: Path, exp_dir: Path) -> None:
    spec = write_spec(tmp_path, trial_concurrency=2, max_trial_number=3)
    code, out, err = nas("run", spec, "-q")
    assert code == 0, err
    data = results(exp_dir)
    assert [t["status"] for t in data["trials"]] == ["complete"] * 3


def test_nas_run_on_a_private_local_ray_with_a_gpu_per_trial(
        nas, write_spec, tmp_path: Path, exp_dir: Path) -> None:
    """No address: the run starts its own Ray (two fake GPUs from gpu_indices), stops it after."""
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized()
    spec = write_spec(tmp_path, trial_concurrency=2, max_trial_number=3, trial_gpu_number=1,
                      evaluator={"function": f"{BEHAVIORS}:visible_gpu"},
                      training_service={"platform": "ray", "gpu_indices": [0, 1]})
    code, out, err = nas("run", spec, "-q")
    assert code == 0, err
    assert not ray.is_initialized()
    data = results(exp_dir)
    assert [t["status"] for t in data["trials"]] == ["complete"] * 3
    assert {t["metrics"]["gpu"] for t in data["trials"]} <= {0.0, 1.0}
    experiment = next(exp_dir.iterdir())
    for trial in data["trials"]:  # the driver wrote the store; each trial its own folder
        assert (experiment / "trials" / str(trial["trial"]) / "metrics.json").is_file()


def test_platform_ray_without_ray_installed_is_refused(
        nas, write_spec, tmp_path: Path, exp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    spec = write_spec(tmp_path, training_service={"platform": "ray"})
    code, out, err = nas("run", spec)
    assert code == 2
    assert err.strip().splitlines() == [
        "error: training_service.platform ray needs ray: pip install 'nas-cli[ray]'"]
    assert not any(exp_dir.glob("*/trials/*"))  # no trial ran
