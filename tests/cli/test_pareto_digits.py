"""A two-objective experiment with searched hyperparameters, end to end on digits: `nas space`
lists them, `nas run` trains with them (Lightning, one epoch), study.db records them with their
Optuna distributions and both directions, `nas status`, `nas export --pareto` and `nas report`
show the front."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory):
    from helpers.cli import run_new

    folder = tmp_path_factory.mktemp("digits")
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "experiment_name": "digits-pareto",
        "model_space": {"module": str(ROOT / "search_spaces" / "digits.py"), "class": "DigitsNet"},
        "strategy": {"name": "tpe", "seed": 0},
        "evaluator": {"type": "classification", "dataset": "digits", "max_epochs": 1,
                      "learning_rate": {"loguniform": [1e-3, 1e-1]},
                      "batch_size": {"choice": [64, 128]},
                      "optimizer": {"_type": "choice", "_value": ["adam", "sgd"]}},
        "objective": [{"metric": "val_acc"}, {"metric": "params", "mode": "minimize"}],
        "trial_concurrency": 2, "max_trial_number": 3,
    }))
    ran = run_new(folder / "exps", spec, "--exp-dir", folder / "exps")
    assert ran.code == 0, (ran.out, ran.err)
    return spec, ran


def test_space_lists_the_hyperparameters(digits, nas):
    spec, _ = digits
    code, out, err = nas("space", spec)
    assert code == 0, err
    assert "infinitely many architectures" in out
    assert "hp/learning_rate" in out and "loguniform(0.001, 0.1)" in out
    assert "hp/batch_size" in out and "hp/optimizer" in out
    code, out, _ = nas("space", spec, "--json")
    labels = json.loads(out)["labels"]
    assert labels["hp/learning_rate"] == {"kind": "hp", "candidates": [],
                                          "distribution": {"low": 0.001, "high": 0.1, "log": True}}
    assert labels["hp/batch_size"]["candidates"] == [64, 128]


def test_each_trial_records_its_hyperparameters(digits):
    import optuna

    _, ran = digits
    results = ran.results
    assert results["objectives"] == [{"metric": "val_acc", "mode": "maximize"},
                                     {"metric": "params", "mode": "minimize"}]
    complete = [t for t in results["trials"] if t["status"] == "complete"]
    assert len(complete) == 3
    for entry in complete:
        assert 1e-3 <= entry["arch"]["hp/learning_rate"] <= 0.1
        assert entry["arch"]["hp/batch_size"] in (64, 128)
        assert entry["values"] == [entry["metrics"]["val_acc"], entry["params"]]
    study = optuna.load_study(study_name=ran.id, storage=f"sqlite:///{ran.path / 'study.db'}")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    trial = study.trials[0]
    assert trial.distributions["hp/learning_rate"] == optuna.distributions.FloatDistribution(
        1e-3, 1e-1, log=True)
    assert trial.params["hp/learning_rate"] == complete[0]["arch"]["hp/learning_rate"] or \
        trial.number != complete[0]["trial"]
    assert isinstance(trial.distributions["hp/optimizer"],
                      optuna.distributions.CategoricalDistribution)
    assert sorted(t.number for t in study.best_trials) == results["pareto_front"]


def test_status_export_and_report_show_the_front(digits, nas):
    _, ran = digits
    front = ran.results["pareto_front"]
    code, out, err = nas("status", ran.id, "--exp-dir", ran.path.parent)
    assert code == 0, err
    assert f"Pareto front: {len(front)} trials" in out and "val_acc (max)" in out
    code, out, err = nas("export", ran.id, "--exp-dir", ran.path.parent, "--pareto",
                         "--format", "json")
    entries = json.loads(out)
    assert [e["trial"] for e in entries] and sorted(e["trial"] for e in entries) == front
    assert set(entries[0]["hparams"]) == {"learning_rate", "batch_size", "optimizer"}
    assert all(not k.startswith("hp/") for k in entries[0]["arch"])
    code, out, err = nas("report", ran.id, "--exp-dir", ran.path.parent)
    assert code == 0, err
    page = Path(out.strip()).read_text()
    assert 'id="fig-pareto"' in page and 'id="fig-hypervolume"' in page
    assert "log10 hp\\u002flearning_rate" in page  # a numeric axis in the parallel coordinates
