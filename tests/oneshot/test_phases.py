"""The one-shot phases through the library API on an in-process backend: a supernet that
diverges ends the run with one line (nothing half-done left as a result); a space that cannot
become a supernet is refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers.backends import InlineBackend

from nas_cli.errors import ExperimentError
from nas_cli.experiment import create_experiment, execute
from nas_cli.spec import load_spec

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"
ZOO = Path(__file__).with_name("zoo.py")


def spec_file(folder: Path, space: dict, dataset) -> Path:
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump({
        "model_space": space,
        "strategy": {"name": "spos", "seed": 0, "supernet_epochs": 2, "search_trials": 2},
        "evaluator": {"type": "classification", "dataset": dataset, "max_epochs": 1},
    }))
    return path


def test_a_diverging_supernet_fails_the_run_in_one_line(tmp_path):
    spec = load_spec(spec_file(tmp_path, {"module": str(SPACES / "digits.py"),
                                          "class": "DigitsNet"},
                               {"factory": f"{ZOO}:nan_digits"}))
    run = create_experiment(spec, tmp_path / "exps")
    run.backend_factory = lambda spec: InlineBackend(1)
    with pytest.raises(ExperimentError) as caught:
        execute(run)
    message = caught.value.message
    assert message.startswith("supernet training failed: TrialError: supernet training "
                              "diverged: the training loss is nan in epoch 1; lower "
                              "evaluator.learning_rate")
    assert "\n" not in message and run.status == "failed" and not run.records
    assert "trial.log" in message and (run.path / "supernet" / "trial.log").is_file()


def test_a_space_that_cannot_become_a_supernet_is_refused_before_anything_runs(nas, tmp_path):
    spec = spec_file(tmp_path, {"module": str(ZOO), "class": "TooManyCopies"}, "digits")
    code, out, err = nas("run", spec, "--exp-dir", tmp_path / "exps")
    assert code == 2
    assert err.count("\n") == 1 and "TooManyCopies.unit (Gate)" in err and "72" in err
    assert not (tmp_path / "exps").exists() or not any((tmp_path / "exps").iterdir())
