"""Bad input: each refused with one clear line on stderr (no traceback), the documented exit code
(2 bad usage or spec, 1 the experiment could not do its job), and nothing overwritten.
A full disk stops a run with exit 1 and one line, no workers left, the old results.json intact."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.cli import deep_merge
from reliability_support import (
    FAULTS,
    Finished,
    assert_study_consistent,
    cmdline,
    descendants,
    fault_spec,
    results,
    wait_gone,
)


@pytest.fixture
def no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a worker pool starts (bad input must be refused before)."""
    from nas_cli.execution import LocalBackend

    def refuse(self, payload):
        raise AssertionError("a worker pool was started")

    monkeypatch.setattr(LocalBackend, "start", refuse)


def refused(result: tuple[int, str, str], code: int, *parts: str) -> str:
    """Assert one `error: ...` line on stderr with `parts` in it and exit `code`; the line."""
    exit_code, out, err = result
    assert "Traceback" not in out + err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert exit_code == code, err
    for part in parts:
        assert part in err, err
    return err


def _workers() -> set[int]:
    """This process's living pool workers (multiprocessing spawn children)."""
    return {p for p in descendants(os.getpid()) if "spawn_main" in cmdline(p)}


def nothing_created(exp_dir: Path) -> None:
    assert not exp_dir.exists() or not any(exp_dir.iterdir())


# --- specs ------------------------------------------------------------------------------------

CONFLICT = """
import nas_cli.nn as nn
from nas_cli import model_wrapper

@model_wrapper
class Conflict(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, nn.ValueChoice([2, 3], label="width"))
        self.b = nn.Linear(4, nn.ValueChoice([4, 5], label="width"))
"""

BROKEN = "import os\n\nx = 1\nraise RuntimeError('no GPU here')\n"
NOT_WRAPPED = "import nas_cli.nn as nn\n\nclass Plain(nn.Module):\n    pass\n"
BAD_SIGNATURE = "def evaluate():\n    return 1.0\n"

# (files to write, spec overrides, exit code, parts of the error line)
SPECS = [
    pytest.param({}, {"max_trial_number": [3]}, 2, ["max_trial_number: must be a positive "
                                                    "integer"], id="wrong-type"),
    pytest.param({}, {"trial_concurrency": "two"}, 2, ["trial_concurrency:"], id="wrong-type-2"),
    pytest.param({}, {"max_trial_numbr": 3}, 2,
                 ["max_trial_numbr: unknown key (did you mean 'max_trial_number'?)"],
                 id="unknown-key"),
    pytest.param({}, {"evaluator": {"kwarg": {}}}, 2,
                 ["evaluator.kwarg: unknown key (did you mean 'kwargs'?)"],
                 id="unknown-nested-key"),
    pytest.param({}, {"model_space": {"module": "nowhere.py"}}, 2,
                 ["model_space.module: file not found", "nowhere.py"], id="missing-module-file"),
    pytest.param({}, {"model_space": {"class": "Faultee"}}, 2,
                 ["model_space.class:", "has no class 'Faultee'", "Faulty"],
                 id="missing-class"),
    pytest.param({"broken.py": BROKEN}, {"model_space": {"module": "broken.py"}}, 2,
                 ["broken.py:4:", "RuntimeError: no GPU here"], id="module-raises-on-import"),
    pytest.param({"plain.py": NOT_WRAPPED},
                 {"model_space": {"module": "plain.py", "class": "Plain"}}, 2,
                 ["Plain is not a model space", "@model_wrapper"], id="no-model-wrapper"),
    pytest.param({"conflict.py": CONFLICT},
                 {"model_space": {"module": "conflict.py", "class": "Conflict",
                                  "init_kwargs": None}}, 2, ["label 'width'"],
                 id="conflicting-labels"),
    pytest.param({"sig.py": BAD_SIGNATURE}, {"evaluator": {"function": "sig.py:evaluate"}}, 2,
                 ["evaluator.function:", "cannot be called as evaluate(model, **kwargs)"],
                 id="evaluator-signature"),
    pytest.param({}, {"evaluator": {"type": "classification", "function": None, "kwargs": None,
                                    "dataset": {"factory": "nofile.py:f"}}},
                 2, ["evaluator.dataset.factory: file not found", "nofile.py"],
                 id="dataset-factory-missing"),
]




def _spec(folder: Path, files: dict[str, str], overrides: dict[str, Any]) -> Path:
    """The files written next to a valid fault spec, deep-merged with `overrides`."""
    for name, text in files.items():
        (folder / name).write_text(text)
    path = fault_spec(folder, "spec", faults=["ok", "raise"])
    data = deep_merge(yaml.safe_load(path.read_text()), overrides)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(("files", "overrides", "code", "parts"), SPECS)
def test_a_bad_spec_is_refused_in_one_line(nas, tmp_path, exp_dir, no_workers, files,
                                           overrides, code, parts):
    spec = _spec(tmp_path, files, overrides)
    refused(nas("run", spec), code, *parts)
    nothing_created(exp_dir)


def test_malformed_yaml_names_the_line(nas, tmp_path, exp_dir, no_workers):
    spec = tmp_path / "spec.yaml"
    spec.write_text("model_space:\n  module: x.py\n  class: [Net\nevaluator: {}\n")
    line = refused(nas("run", spec), 2, f"{spec}:")
    assert line.split(f"{spec}:")[1].split(":")[0].isdigit()  # spec.yaml:<line>: ...
    nothing_created(exp_dir)


def test_a_missing_torchvision_dataset_is_refused_before_anything_runs(nas, tmp_path, exp_dir,
                                                                      no_workers):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "model_space": {"module": str(Path(__file__).parents[2] / "search_spaces" / "mnist.py"),
                        "class": "MnistNet"},
        "evaluator": {"type": "classification",
                      "dataset": {"name": "mnist", "root": str(tmp_path / "no-data")}},
        "max_trial_number": 1, "trial_concurrency": 1}))
    refused(nas("run", spec), 2, "evaluator.dataset")
    nothing_created(exp_dir)


@pytest.mark.parametrize(("arch", "part"), [
    ('{"fault": "segfault"}', "fault"),
    ('{"fault": "ok", "depth": 3}', "depth"),
    ("{}", "fault"),
    ('{"fault": ', "--arch: invalid JSON"),
    ("[1, 2]", "--arch: an architecture is a JSON object"),
    ("no-such-file.json", "--arch: not a JSON object and not a readable file"),
])
def test_an_invalid_arch_for_nas_trial_is_refused(nas, tmp_path, arch, part):
    spec = fault_spec(tmp_path, faults=["ok", "raise"])
    refused(nas("trial", spec, "--arch", arch), 2, "--arch", part)


# --- experiments on disk ----------------------------------------------------------------------


def _fake_experiment(root: Path, exp_id: str, name: str = "fake") -> Path:
    path = root / exp_id
    (path / "trials").mkdir(parents=True)
    (path / "results.json").write_text(json.dumps({
        "experiment": exp_id, "name": name, "status": "done", "created": 1.0,
        "objective": {"metric": "default", "mode": "maximize"}, "trials": []}))
    return path


@pytest.mark.parametrize("command", ["status", "export", "resume", "stop"])
def test_an_unknown_or_ambiguous_experiment_is_refused(nas, exp_dir, no_workers, command):
    _fake_experiment(exp_dir, "20260101-000000-aaaa")
    _fake_experiment(exp_dir, "20260101-000000-aaab")
    refused(nas(command, "nope"), 2, "no experiment 'nope'")
    refused(nas(command, "20260101-000000-aa"), 2, "ambiguous", "20260101-000000-aaaa",
            "20260101-000000-aaab")


@pytest.fixture
def copied(faults_exp: Finished, exp_dir: Path) -> Path:
    """A copy of the finished faults experiment, in this test's experiments folder."""
    path = exp_dir / faults_exp.path.name
    shutil.copytree(faults_exp.path, path)
    return path


def _snapshot(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()}


def test_a_corrupt_study_db_refuses_resume_and_keeps_the_files(nas, copied):
    (copied / "study.db").write_bytes(os.urandom(4096))
    for extra in ("study.db-wal", "study.db-shm"):
        (copied / extra).unlink(missing_ok=True)
    before, workers = _snapshot(copied), _workers()
    code, out, err = nas("resume", copied.name)
    assert code == 1 and "Traceback" not in err
    assert err.startswith("error: ") and "study.db" in err.splitlines()[0]
    assert _snapshot(copied) == before
    assert not wait_gone(_workers() - workers, timeout=3)  # workers may boot meanwhile


def test_a_corrupt_study_db_is_reported_in_one_line(nas, copied):
    (copied / "study.db").write_bytes(os.urandom(4096))
    refused(nas("resume", copied.name), 1, "study.db")


CORRUPT_RESULTS = {
    "garbage": lambda text: "\x00\xff garbage",
    "truncated": lambda text: text[: len(text) // 2],
    "not-an-object": lambda text: "[1, 2]",
}


@pytest.mark.parametrize("damage", sorted(CORRUPT_RESULTS))
def test_status_of_an_experiment_with_corrupt_results_names_the_file(nas, copied, damage):
    file = copied / "results.json"
    file.write_text(CORRUPT_RESULTS[damage](file.read_text()))
    refused(nas("status", copied.name), 1, "results.json")


def test_resume_repairs_a_corrupt_results_json(nas, copied):
    (copied / "results.json").write_text("{")
    code, out, err = nas("resume", copied.name)
    assert code == 0, err
    assert results(copied)["status"] == "done"


def test_status_of_all_experiments_survives_a_corrupt_one(nas, copied, exp_dir):
    _fake_experiment(exp_dir, "20260101-000000-good", name="good")
    (copied / "results.json").write_text("{")
    code, out, err = nas("status")
    assert (code, err) == (0, "")
    assert "20260101-000000-good" in out


@pytest.mark.parametrize("field", ["trial", "status"])
def test_a_malformed_trial_entry_in_results_json_is_reported(nas, copied, field):
    data = results(copied)
    data["trials"][0][field] = "x" if field == "trial" else "bogus"
    (copied / "results.json").write_text(json.dumps(data))
    for args in (["status"], ["status", copied.name], ["export", copied.name]):
        code, out, err = nas(*args)  # raises ValueError today
        assert code in (0, 1) and "Traceback" not in err


# --- a full disk ------------------------------------------------------------------------------


def _results_json_fills_the_disk(monkeypatch: pytest.MonkeyPatch) -> str:
    """results.json can be written twice, then os.replace fails with ENOSPC."""
    import nas_cli._files as files

    real = files.os.replace
    calls = {"results": 0}

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith("results.json"):
            calls["results"] += 1
            if calls["results"] > 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(files.os, "replace", replace)
    return "No space left on device"


def _study_db_fills_the_disk(monkeypatch: pytest.MonkeyPatch) -> str:
    """The second trial end cannot be written to study.db: SQLite's 'disk is full'."""
    from nas_cli.store import _study

    real = _study._Writer.finish
    calls = {"n": 0}

    def finish(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 1:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(_study._Writer, "finish", finish)
    return "disk is full"


@pytest.mark.parametrize("fill", [
    pytest.param(_results_json_fills_the_disk, id="results.json"),
    pytest.param(_study_db_fills_the_disk, id="study.db"),
])
def test_a_full_disk_stops_the_run_with_one_line(nas, tmp_path, exp_dir, monkeypatch, fill):
    spec = fault_spec(tmp_path, reps=8, max_trial_number=8, kwargs={"sleep": 0.3})
    before = _workers()
    message = fill(monkeypatch)
    result = nas("run", spec)
    monkeypatch.undo()
    refused(result, 1, message)
    assert not wait_gone(_workers() - before, timeout=3)  # no worker left
    [path] = exp_dir.iterdir()
    data = results(path)  # the last complete results.json, still readable
    assert data["experiment"] == path.name
    if fill is _results_json_fills_the_disk:
        assert_study_consistent(path)
    else:  # study.db could not take the last writes: `nas resume` settles its running trials
        code, out, err = nas("resume", path.name, "--exp-dir", exp_dir)
        assert code == 0, err
        assert_study_consistent(path)
        assert results(path)["status"] == "done"


def test_faults_module_is_where_the_specs_say(tmp_path):
    # guards the fixtures above: specs name faults.py by its absolute path
    assert FAULTS.is_file() and FAULTS.is_absolute()
