"""`strategy: DARTS` (NNI's name) end to end on an unchanged example space, with a hardware
penalty: the supernet and the distribution train in a worker, the most probable architectures
(the derived one first) are scored on inherited weights with their probabilities and FLOPs,
the derived one is retrained; status, export, the report's weights plot show them; a run
whose training dies resumes after its last epoch; a space the method cannot search is
refused before anything runs."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import yaml
from helpers.backends import InlineBackend

from nas_cli.errors import ExperimentError
from nas_cli.execution import Finished
from nas_cli.execution import execute as execute_trial
from nas_cli.experiment import create_experiment, execute, open_experiment
from nas_cli.spec import load_spec

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"


def spec_file(folder: Path, space: str, cls: str, **strategy) -> Path:
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump({
        "model_space": {"module": str(SPACES / f"{space}.py"), "class": cls},
        "strategy": {"name": "DARTS", "seed": 0, "supernet_epochs": 2, "search_trials": 3,
                     "retrain_top": 1, "arch_learning_rate": 0.01,
                     "bn_recalibration_batches": 2, **strategy},
        "evaluator": {"type": "classification", "dataset": "digits", "max_epochs": 1,
                      "learning_rate": 0.003, "batch_size": 128},
        "trial_concurrency": 2,
    }))
    return path


def test_darts_trains_derives_scores_retrains_and_reports(nas, tmp_path):
    root = tmp_path / "exps"
    spec = spec_file(tmp_path, "nb201", "NB201Net",
                     penalty={"metric": "flops", "weight": 0.1, "target": 1e6})
    code, out, err = nas("run", spec, "--exp-dir", root)
    assert code == 0, err
    assert "phase 1/3, supernet: training 2 epochs, darts: weight steps on training batches" in out
    assert "(validation: the derived architecture, of probability arch_prob)" in out
    assert "phase 2/3, search: the 3 most probable architectures (the derived one first)" in out
    path = next(root.iterdir())
    results = json.loads((path / "results.json").read_text())
    oneshot = results["oneshot"]
    assert results["strategy"] == "darts" and oneshot["supernet"]["epochs_done"] == 2
    assert oneshot["penalty"] == {"metric": "flops", "weight": 0.1, "target": 1e6,
                                  "latency_batch_size": 1}
    history = oneshot["supernet"]["history"]
    assert [h["epoch"] for h in history] == [1, 2] and "expected_flops" in history[-1]
    top = oneshot["top"]
    assert top[0]["arch"] == oneshot["derived"] and len(top) == 3
    assert [t["probability"] for t in top] == sorted((t["probability"] for t in top),
                                                     reverse=True)
    trials = {t["trial"]: t for t in results["trials"]}
    search = sorted((t for t in trials.values() if t["phase"] == "search"),
                    key=lambda t: t["trial"])
    assert [t["arch"] for t in search] == [t["arch"] for t in top]  # most probable first
    assert [t["metrics"]["arch_prob"] for t in search] == [t["probability"] for t in top]
    assert all(t["metrics"]["flops"] > 0 and t["params"] > 0 for t in search)
    (retrain,) = [t for t in trials.values() if t["phase"] == "retrain"]
    assert retrain["arch"] == oneshot["derived"]  # the derived one, not the best inherited

    code, out, err = nas("status", path.name, "--exp-dir", root)
    assert code == 0, err
    assert "one-shot (darts)" in out and "derived architecture (probability " in out
    code, out, err = nas("status", path.name, "--exp-dir", root, "--json")
    status = json.loads(out)["oneshot"]
    assert status["derived"] == oneshot["derived"]
    assert status["derived_probability"] == top[0]["probability"]

    target = tmp_path / "models"
    code, out, err = nas("export", path.name, "--exp-dir", root, "--format", "model", "--top",
                         "4", "--output", target)
    assert code == 0, err
    model = runpy.run_path(str(target / f"trial_{search[0]['trial']}" / "load.py"))["model"]
    assert sum(p.numel() for p in model.parameters()) == search[0]["params"]

    code, out, err = nas("report", path.name, "--exp-dir", root, "--output", tmp_path / "r.html")
    assert code == 0, err
    page = (tmp_path / "r.html").read_text()
    assert "Architecture weights per label" in page and 'id="fig-weights"' in page


class DiesAfterFirstEpoch(InlineBackend):
    """The supernet's worker dies once its first epoch is checkpointed."""

    def submit(self, number, arch, trial_dir, timeout):
        def report(step: int, value: float) -> None:
            raise RuntimeError("worker lost")

        self.queue.append(Finished.of(number, execute_trial(self.payload, number, arch,
                                                            trial_dir, report)))


def test_a_run_whose_training_dies_resumes_after_its_last_epoch(tmp_path):
    spec = load_spec(spec_file(tmp_path, "digits", "DigitsNet", name="enas", search_trials=2,
                               retrain_top=0))
    run = create_experiment(spec, tmp_path / "exps")
    run.backend_factory = lambda spec: DiesAfterFirstEpoch(1)
    with pytest.raises(ExperimentError, match=r"supernet training failed: RuntimeError: worker "
                                              r"lost .*`nas resume \S+` continues after epoch 1"):
        execute(run)
    progress = json.loads((run.path / "supernet" / "progress.json").read_text())
    assert progress["epochs_done"] == 1 and not run.records
    again = open_experiment(run.path)
    again.backend_factory = lambda spec: InlineBackend(1)
    assert execute(again, resume=True).status == "done"
    results = json.loads((run.path / "results.json").read_text())
    history = results["oneshot"]["supernet"]["history"]
    assert [h["epoch"] for h in history] == [1, 2] and history[0] == progress["history"][0]
    assert [t["arch"] for t in results["trials"] if t["phase"] == "search"] == \
        [t["arch"] for t in results["oneshot"]["top"]]


def test_a_space_the_method_cannot_search_is_refused_before_anything_runs(nas, tmp_path):
    spec = spec_file(tmp_path, "digits", "DigitsNet", name="Proxyless")
    code, out, err = nas("run", spec, "--exp-dir", tmp_path / "exps")
    assert code == 2
    assert err.count("\n") == 1 and "one-shot proxyless: DigitsNet.conv1.conv3x3 takes " \
        "ValueChoice arguments (channels), which ProxylessNAS does not handle (as in NNI): use " \
        "darts, gumbel_darts, enas or spos" in err
    assert not (tmp_path / "exps").exists() or not any((tmp_path / "exps").iterdir())
