"""Known spaces: `nas run`, `nas resume` and `nas space` on a space whose files did not change
reuse its description (the driver then imports neither the user's code nor torch); an edit to
any file the space imports rebuilds it, and a broken space reads as it always did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nas_cli.experiment import _load, create_experiment
from nas_cli.experiment import execute as run_experiment
from nas_cli.experiment._load import discover, prepare_run
from nas_cli.spec import load_spec

SPACE = '''\
import nas_cli.nn as nn
from nas_cli import model_wrapper
from blocks import WIDTHS


@model_wrapper
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, nn.ValueChoice(WIDTHS, label="width"))
        self.act = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="act")

    def forward(self, x):
        return self.act(self.fc(x))


def evaluate(model, arch):
    return float(arch["width"] + arch["act"])
'''


def _project(folder: Path, **spec: object) -> Path:
    """space.py (importing its neighbour blocks.py) and a spec naming it; the spec's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "space.py").write_text(SPACE)
    (folder / "blocks.py").write_text("WIDTHS = [4, 8]\n")
    data = {"model_space": {"module": "space.py", "class": "Net"},
            "evaluator": {"type": "function", "function": "space.py:evaluate"},
            "strategy": {"name": "grid", "seed": 0}, "trial_concurrency": 1,
            "max_trial_number": 2, **spec}
    (folder / "spec.yaml").write_text(yaml.safe_dump(data))
    return folder / "spec.yaml"


def _nas(*args: object, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str, bool]:
    """The `nas` command in a fresh process: (exit code, stdout, stderr, torch imported)."""
    code = ("import sys; from nas_cli.cli import main; code = main(sys.argv[1:]); "
            "print('torch imported:', 'torch' in sys.modules); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, text=True,
                          capture_output=True, env={**os.environ, **(env or {})}, timeout=120)
    out, _, flag = done.stdout.rstrip("\n").rpartition("\n")
    return done.returncode, out, done.stderr, flag == "torch imported: True"


def test_nas_space_reuses_an_unchanged_space_and_rebuilds_an_edited_one(tmp_path):
    spec = _project(tmp_path / "project")
    first = discover(load_spec(spec)).to_json()  # built (here) and remembered
    code, again, err, torch_imported = _nas("space", spec, "--json", cwd=tmp_path)
    assert (code, json.loads(again), err) == (0, first, "") and not torch_imported

    (spec.parent / "blocks.py").write_text("WIDTHS = [4, 8, 16]\n")  # a file the space imports
    code, edited, err, torch_imported = _nas("space", spec, "--json", cwd=tmp_path)
    assert code == 0, err
    assert json.loads(edited)["labels"]["width"]["candidates"] == [4, 8, 16] and torch_imported

    source = (spec.parent / "space.py").read_text()  # broken on its first line: as ever
    (spec.parent / "space.py").write_text("from blocks import WIDTH\n" + source)
    code, out, err, _ = _nas("space", spec, "--json", cwd=tmp_path)
    assert code == 2 and out == ""  # the user's space is input: bad input
    assert err.startswith("error: model_space.module: importing space.py failed: "
                          f"{spec.parent / 'space.py'}:1: ImportError: cannot import name 'WIDTH'")


def test_a_run_on_a_known_space_leaves_torch_to_the_workers(tmp_path):
    spec = _project(tmp_path / "project", max_trial_number=2)
    prepare_run(load_spec(spec), shared_files=True)  # an earlier run built and remembered it
    code, out, err, torch_imported = _nas("run", spec, "-q", "--exp-dir", tmp_path / "exps",
                                          cwd=tmp_path)
    assert code == 0, err
    assert "done: 2 complete" in out and not torch_imported
    trials = json.loads(next((tmp_path / "exps").glob("*/results.json")).read_text())["trials"]
    assert [t["metric"] == t["arch"]["width"] + t["arch"]["act"] for t in trials] == [True] * 2


def test_a_second_run_builds_nothing_and_finds_the_same(tmp_path, monkeypatch):
    """In this process, on the in-process backend of the loop tests: the known space's
    payload is built from the spec by whoever runs the trials, with the same results."""
    from test_loop import InlineBackend

    spec_path = _project(tmp_path / "project", max_trial_number=4, strategy={"name": "random",
                                                                              "seed": 3})

    def run_once() -> list[tuple[dict, float]]:
        run = create_experiment(load_spec(spec_path), tmp_path / "exps")
        run.backend_factory = lambda spec: InlineBackend(2)
        run_experiment(run)
        return [(r.arch, r.metric) for r in sorted(run.records.values(), key=lambda r: r.number)]

    first = run_once()

    def no_build(spec):
        raise AssertionError("the known space was built again")

    monkeypatch.setattr(_load, "build_payload", no_build)
    assert run_once() == first and len(first) == 4
    assert all(metric == arch["width"] + arch["act"] for arch, metric in first)


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch):
    spec = load_spec(_project(tmp_path / "project"))
    assert prepare_run(spec, shared_files=True)[2] is not None  # built
    assert prepare_run(spec, shared_files=True)[2] is None      # known
    monkeypatch.setenv("NAS_SPACE_CACHE", "0")
    assert prepare_run(spec, shared_files=True)[2] is not None  # built again


@pytest.mark.parametrize("limits", [{"constraints": {"max_params": 1000}}, {}])
def test_constraints_and_remote_workers_get_the_built_payload(tmp_path, limits):
    spec = load_spec(_project(tmp_path / "project", **limits))
    prepare_run(spec, shared_files=True)
    space, _, payload = prepare_run(spec, shared_files=bool(limits))
    assert payload is not None and payload.model_class.__name__ == "Net" and space.size == 4


def test_help_and_status_import_no_torch(tmp_path):
    for args in (["--help"], ["status", "--exp-dir", tmp_path]):
        code, out, err, torch_imported = _nas(*args, cwd=tmp_path)
        assert code == 0 and out and not torch_imported, err
