"""`nas run` end to end on the Tiny space: the output, exit code and every file the contract
names (spec.yaml, study.db, results.json, trials/<n>/), the overrides, ranking by mode, dedup."""

from __future__ import annotations

import json

import optuna
import yaml
from helpers.cli import Ran
from helpers.tiny import ARCHS, score_of

from nas_cli.spec import load_spec

RANKED_KEYS = {"rank", "trial", "arch", "metric", "metrics", "params", "duration_s", "status"}


def params_of(arch: dict) -> int:
    """Linear(4, h) + Linear(h, 1)."""
    return 4 * arch["hidden"] + arch["hidden"] + arch["hidden"] + 1


def key(arch: dict) -> str:
    return json.dumps(arch, sort_keys=True)


# --- the grid experiment: output, files, results.json ----------------------------------------


def test_run_prints_the_experiment_id_and_exits_0(grid_exp: Ran):
    assert grid_exp.code == 0, grid_exp.err
    assert grid_exp.err == ""
    lines = grid_exp.out.splitlines()
    assert lines[0].startswith(f"experiment {grid_exp.id} (alpha): ")
    assert lines[-1].startswith(f"experiment {grid_exp.id} done: 5 complete, 1 failed "
                                f"(space exhausted); results in ")
    assert lines[-1].endswith(str(grid_exp.path / "results.json"))


def test_run_leaves_the_contract_files(grid_exp: Ran):
    assert {p.name for p in grid_exp.path.iterdir()} >= {"spec.yaml", "study.db", "results.json",
                                                         "trials"}
    assert not (grid_exp.path / "run.pid").exists()
    trials = sorted(int(p.name) for p in (grid_exp.path / "trials").iterdir())
    assert trials == list(range(6))
    for entry in grid_exp.results["trials"]:
        folder = grid_exp.path / "trials" / str(entry["trial"])
        log = (folder / "trial.log").read_text()
        assert f"evaluating {entry['arch']}" in log
        if entry["status"] == "complete":
            saved = json.loads((folder / "metrics.json").read_text())
            assert saved["metrics"] == entry["metrics"]
            assert saved["params"] == entry["params"]
        else:
            assert "ValueError: hidden=8 diverged" in log  # the traceback is kept in the log
            assert not (folder / "metrics.json").exists()


def test_spec_yaml_is_the_spec_as_run(grid_exp: Ran):
    text = (grid_exp.path / "spec.yaml").read_text()
    data = yaml.safe_load(text)
    assert data["experiment_name"] == "alpha"
    assert data["trial_concurrency"] == 2 and data["max_trial_number"] == 20
    assert data["strategy"] == {"name": "grid", "seed": 3, "dedup": True}
    assert data["objective"] == {"metric": "default", "mode": "maximize"}  # the default, filled
    assert data["max_failed_trials"] == 5
    # it reads back as the same spec
    spec = load_spec(grid_exp.path / "spec.yaml", base_dir=grid_exp.results["spec_dir"])
    assert spec.max_trial_number == 20 and spec.strategy.name == "grid"


def test_results_json_has_the_contract_shape(grid_exp: Ran):
    results = grid_exp.results
    assert results["experiment"] == grid_exp.id
    assert results["name"] == "alpha"
    assert results["status"] == "done"
    assert results["objective"] == {"metric": "default", "mode": "maximize"}
    trials = results["trials"]
    ranked, failed = trials[:5], trials[5:]
    for position, entry in enumerate(ranked, 1):
        assert RANKED_KEYS <= set(entry), entry
        assert entry["rank"] == position
        assert entry["status"] == "complete"
        assert "error" not in entry
        assert entry["metric"] == score_of(entry["arch"])
        assert entry["metrics"] == {"default": entry["metric"], "score": entry["metric"],
                                    "loss": 100 - entry["metric"]}
        assert entry["params"] == params_of(entry["arch"])
        assert isinstance(entry["duration_s"], float) and 0 <= entry["duration_s"] < 60
    assert [e["metric"] for e in ranked] == sorted((e["metric"] for e in ranked), reverse=True)
    assert ranked[0]["arch"] == {"hidden": 16, "act": 1}
    [fail] = failed
    assert "rank" not in fail
    assert fail["status"] == "failed"
    assert fail["arch"] == {"hidden": 8, "act": 1}
    assert fail["error"] == "ValueError: hidden=8 diverged"
    assert fail["metric"] is None


def test_grid_covers_the_space_exactly_once(grid_exp: Ran):
    archs = [key(e["arch"]) for e in grid_exp.results["trials"]]
    assert sorted(archs) == sorted(key(a) for a in ARCHS)
    assert grid_exp.results["stop_reason"] == "space exhausted"


def test_study_db_is_an_optuna_study_of_the_trials(grid_exp: Ran):
    study = optuna.load_study(study_name=grid_exp.id,
                              storage=f"sqlite:///{grid_exp.path / 'study.db'}")
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 6
    by_number = {e["trial"]: e for e in grid_exp.results["trials"]}
    for trial in trials:
        entry = by_number[trial.number]
        assert trial.params == entry["arch"]  # params decode to the architecture
        if entry["status"] == "complete":
            assert trial.state == optuna.trial.TrialState.COMPLETE
            assert trial.value == entry["metric"]
        else:
            assert trial.state == optuna.trial.TrialState.FAIL
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.best_trial.params == {"hidden": 16, "act": 1}


# --- overrides, minimize, dedup ---------------------------------------------------------------


def test_random_with_dedup_stops_when_the_space_is_exhausted(random_exp: Ran):
    assert random_exp.code == 0, random_exp.err
    results = random_exp.results
    archs = [key(e["arch"]) for e in results["trials"]]
    assert len(archs) == 6 == len(set(archs))  # max_trial_number 20, 6 architectures
    assert results["stop_reason"] == "space exhausted"
    assert "(space exhausted)" in random_exp.out


def test_minimize_ranks_the_smallest_metric_first(random_exp: Ran):
    results = random_exp.results
    assert results["objective"] == {"metric": "loss", "mode": "minimize"}
    metrics = [e["metric"] for e in results["trials"]]
    assert metrics == sorted(metrics)
    assert [e["rank"] for e in results["trials"]] == list(range(1, 7))
    assert results["trials"][0]["arch"] == {"hidden": 16, "act": 1}  # loss 83.5
    assert results["trials"][0]["metric"] == 83.5


def test_name_concurrency_and_exp_dir_overrides(random_exp: Ran, cli_root):
    assert random_exp.path.parent == cli_root
    assert random_exp.results["name"] == "beta"
    spec = yaml.safe_load((random_exp.path / "spec.yaml").read_text())
    assert spec["experiment_name"] == "beta"
    assert spec["trial_concurrency"] == 1  # the spec file says 2
    assert random_exp.results["trial_concurrency"] == 1


def test_max_trials_override(short_exp: Ran):
    assert short_exp.code == 0, short_exp.err
    results = short_exp.results
    assert len(results["trials"]) == 2
    assert results["stop_reason"] == "max_trial_number reached"
    spec = yaml.safe_load((short_exp.path / "spec.yaml").read_text())
    assert spec["max_trial_number"] == 2 and spec["trial_concurrency"] == 2
