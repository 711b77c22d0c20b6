"""Bad usage of the command line itself: exit 2 and one clear line, never a traceback."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("args", [
    pytest.param(["frobnicate"], id="unknown-command"),
    pytest.param(["run"], id="missing-argument"),
    pytest.param(["run", "{spec}", "--max-trials", "0"], id="max-trials-0"),
    pytest.param(["run", "{spec}", "--concurrency", "zero"], id="concurrency-not-int"),
    pytest.param(["export", "--format", "xml"], id="unknown-format"),
    pytest.param(["status", "--bogus"], id="unknown-option"),
])
def test_usage_errors_exit_2_without_traceback(nas, write_spec, tmp_path, exp_dir, args):
    spec = write_spec(tmp_path)
    code, out, err = nas(*[str(spec) if a == "{spec}" else a for a in args])
    assert code == 2
    assert "Traceback" not in err
    assert not exp_dir.exists()


def test_no_arguments_prints_help(nas):
    code, out, err = nas()
    assert "Usage: nas" in out + err
    assert code in (0, 2)


def test_help_lists_the_commands(nas):
    code, out, err = nas("--help")
    assert code == 0
    for command in ("run", "resume", "status", "export", "space", "trial", "stop", "schema"):
        assert f" {command} " in out


def test_schema_prints_the_spec_json_schema(nas):
    code, out, err = nas("schema")
    assert code == 0 and err == ""
    schema = json.loads(out)
    assert schema["type"] == "object"
    assert set(schema["properties"]) >= {
        "experiment_name", "model_space", "strategy", "evaluator", "objective",
        "trial_concurrency", "max_trial_number", "max_experiment_duration",
        "max_trial_duration", "trial_gpu_number", "training_service",
    }
    assert "base_dir" not in schema["properties"]
    assert set(schema["required"]) == {"model_space", "evaluator"}
