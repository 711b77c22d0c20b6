"""`nas export --format model`: trained weights + arch + a loader that rebuilds the model."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import torch

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"


def spec_text(keep: str) -> str:
    return (f"model_space: {{module: {SPACES / 'digits.py'}, class: DigitsNet}}\n"
            "strategy: {name: random, seed: 0}\n"
            "evaluator: {type: classification, dataset: digits, max_epochs: 1, "
            f"keep_checkpoints: {keep}}}\n"
            "trial_concurrency: 2\nmax_trial_number: 2\n")


def test_export_model_writes_weights_arch_and_a_loader(nas, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text("best"))
    root = tmp_path / "exps"
    code, out, err = nas("run", spec, "--exp-dir", root, "-q")
    assert code == 0, err
    target = tmp_path / "models"
    code, out, err = nas("export", "--format", "model", "--top", "2", "--output", target,
                         "--exp-dir", root)
    assert code == 0, err
    folders = sorted(target.iterdir())
    assert len(folders) == 2 and out.startswith("wrote 2 models to ")
    results = json.loads(next(root.iterdir()).joinpath("results.json").read_text())
    best = results["trials"][0]
    folder = target / f"trial_{best['trial']}"
    assert json.loads((folder / "arch.json").read_text()) == best["arch"]
    model = runpy.run_path(str(folder / "load.py"))["model"]
    saved = torch.load(folder / "model.pt", map_location="cpu")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())
    assert model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)


def test_export_model_without_kept_weights_says_how(nas, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text("none"))
    root = tmp_path / "exps"
    assert nas("run", spec, "--exp-dir", root, "-q")[0] == 0
    code, out, err = nas("export", "--format", "model", "--output", tmp_path / "m",
                         "--exp-dir", root)
    assert code == 2
    assert "kept no weights: run with evaluator.keep_checkpoints: best" in err
