"""`nas space SPEC` and `nas trial SPEC --arch`: both work in this process, no workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SPACES = Path(__file__).parents[1] / "helpers" / "spaces.py"


def test_space_json_has_size_and_labels(nas, write_spec, tmp_path):
    code, out, err = nas("space", write_spec(tmp_path), "--json")
    assert code == 0 and err == ""
    found = json.loads(out)
    assert set(found) == {"size", "labels"}
    assert found["size"] == 6
    assert list(found["labels"]) == ["hidden", "act"]
    assert found["labels"]["hidden"]["kind"] == "value"
    assert found["labels"]["hidden"]["candidates"] == [4, 8, 16]
    assert found["labels"]["act"]["kind"] == "layer"
    assert found["labels"]["act"]["candidates"] == [0, 1]


def test_space_json_of_a_nested_space(nas, write_spec, tmp_path):
    spec = write_spec(tmp_path, model_space={"module": str(SPACES), "class": "Nested"})
    code, out, err = nas("space", spec, "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["size"] == 9
    labels = found["labels"]
    assert {k: (v["kind"], v["candidates"]) for k, v in labels.items()} == {
        "op": ("layer", ["linear", "bottleneck"]),
        "inner": ("value", [2, 3]),
        "act": ("layer", [0, 1, 2]),
    }
    assert labels["inner"]["when"] == {"op": ["bottleneck"]}


def test_space_table(nas, write_spec, tmp_path):
    code, out, err = nas("space", write_spec(tmp_path))
    assert code == 0 and err == ""
    assert out.splitlines()[0] == "Tiny: 6 architectures, 2 decisions"
    assert "0: ReLU, 1: Tanh" in out and "4, 8, 16" in out


def test_trial_with_json_text(nas, write_spec, tmp_path):
    code, out, err = nas("trial", write_spec(tmp_path), "--arch", '{"hidden": 8, "act": 1}')
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == 'trial of Tiny: {"hidden": 8, "act": 1}'
    assert "  step 0: default=4.25" in lines  # the intermediate report
    assert any(line.startswith("default=8.5  params=49  time=") for line in lines)
    assert lines[-1] == 'metrics: {"default": 8.5, "score": 8.5, "loss": 91.5}'


def test_trial_with_a_file_and_its_folder(nas, write_spec, tmp_path):
    arch = tmp_path / "arch.json"
    arch.write_text('{"act": 0, "hidden": 16}')
    out_dir = tmp_path / "trial"
    code, out, err = nas("trial", write_spec(tmp_path), "--arch", arch, "--output", out_dir)
    assert code == 0, err
    assert out.splitlines()[0] == 'trial of Tiny: {"hidden": 16, "act": 0}'
    assert json.loads((out_dir / "metrics.json").read_text())["metrics"]["default"] == 16.0


def test_trial_that_raises_exits_1(nas, write_spec, tmp_path):
    spec = write_spec(tmp_path, evaluator={"kwargs": {"fail_when": {"hidden": 4}}})
    code, out, err = nas("trial", spec, "--arch", '{"hidden": 4, "act": 0}')
    assert code == 1
    assert "Traceback" in err  # `nas trial` is for debugging: the user's traceback is shown
    assert err.splitlines()[-1] == "error: trial failed: ValueError: hidden=4 diverged"


@pytest.mark.parametrize(("arch", "line"), [
    pytest.param('{"hiden": 8, "act": 1}',
                 "--arch: invalid architecture: unknown label 'hiden' (did you mean 'hidden'?); "
                 "missing label 'hidden' (candidates: [4, 8, 16])", id="unknown-label"),
    pytest.param('{"hidden": 5, "act": 1}',
                 "--arch: invalid architecture: label 'hidden': 5 is out of range (candidates: "
                 "[4, 8, 16])", id="out-of-range"),
    pytest.param('{"hidden": 8}',
                 "--arch: invalid architecture: missing label 'act' (candidates: [0: ReLU, "
                 "1: Tanh])", id="missing-label"),
    pytest.param('{"hidden": 8,',
                 "--arch: invalid JSON (Expecting property name enclosed in double quotes: line 1 "
                 "column 14 (char 13))", id="bad-json"),
    pytest.param("[8, 1]", "--arch: an architecture is a JSON object {label: value}",
                 id="json-array"),
    pytest.param("nofile.json", "--arch: not a JSON object and not a readable file: nofile.json "
                 "(No such file or directory)", id="no-such-file"),
])
def test_trial_with_a_bad_arch_exits_2(nas, write_spec, tmp_path, arch, line):
    code, out, err = nas("trial", write_spec(tmp_path), "--arch", arch)
    assert (code, err) == (2, f"error: {line}\n")
    assert out == ""


def test_trial_takes_a_line_of_export_dict(nas, write_spec, tmp_path):
    """`nas trial SPEC --arch "$(nas export --top 1)"`: a Python dict works as well as JSON."""
    code, out, err = nas("trial", write_spec(tmp_path), "--arch", "{'hidden': 4, 'act': 1}")
    assert code == 0, err
    assert out.splitlines()[0] == 'trial of Tiny: {"hidden": 4, "act": 1}'
