"""Property: whatever a spec file holds (random YAML text, random structures for the known keys,
junk keys, wrong types), `nas run` / `nas space` answer with an exit code in {0, 1, 2} and never
a traceback. The model space module is never importable as a space (missing, or a file that
raises on import), so nothing heavy runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.cli import invoke
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=60, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", "0", "1e3", "5m", "-1s", "random", "grid", "evolution", "tpe", "rl",
                     "function", "classification", "regression", "local", "ray", "maximize",
                     "minimize", "digits", "boom.py", "boom.py:f", "x:y", "~", "null"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)

# The model space is never a usable one: these fail to import or do not exist.
MODULES = st.sampled_from(["boom.py", "missing.py", "no_such_pkg_xyz.spaces", "boom", "", 3,
                           None, ["boom.py"], {"a": 1}, "../boom.py", "boom.py:Net"])
KEYS = ["experiment_name", "model_space", "strategy", "evaluator", "objective",
        "trial_concurrency", "max_trial_number", "max_experiment_duration",
        "max_trial_duration", "trial_gpu_number", "training_service", "max_failed_trials",
        "early_stopping", "constraints"]


@st.composite
def specs(draw) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=len(KEYS))):
        spec[key] = draw(values)
    if draw(st.booleans()):  # a plausible model_space, so later checks are reached
        spec["model_space"] = {"module": draw(MODULES), "class": draw(st.sampled_from(
            ["Net", "", 1, None]))}
        if draw(st.booleans()):
            spec["model_space"]["init_kwargs"] = draw(values)
    if draw(st.booleans()):
        spec["evaluator"] = {"type": draw(st.sampled_from(["function", "classification",
                                                           "regression", "x", 1])),
                             "function": draw(st.sampled_from(["boom.py:f", "f", "os:getcwd",
                                                               3, None]))}
        if draw(st.booleans()):
            spec["evaluator"]["kwargs"] = draw(values)
            spec["evaluator"]["dataset"] = draw(values)
    if draw(st.booleans()):
        spec["strategy"] = {"name": draw(st.sampled_from(["random", "grid", "evolution", "tpe",
                                                          "rl", "RegularizedEvolution", "x"])),
                            **draw(st.dictionaries(st.sampled_from(
                                ["seed", "dedup", "population_size", "sample_size",
                                 "mutation_prob", "junk"]), values, max_size=3))}
    for _ in range(draw(st.integers(0, 2))):  # junk keys
        spec[draw(st.text(min_size=1, max_size=10))] = draw(values)
    return spec


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    (path / "boom.py").write_text("raise RuntimeError('boom on import')\n")
    return path


def check(folder: Path, text: str, *args: str) -> None:
    spec = folder / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    for command in (["run", str(spec), *args], ["space", str(spec)]):
        try:
            code, out, err = invoke(*command)
        except BaseException as exc:  # noqa: BLE001 - that is the finding
            raise AssertionError(f"nas {command[0]} raised {exc!r} on:\n{text}") from exc
        assert code in (0, 1, 2), (command, code, err, text)
        assert "Traceback" not in err + out, (command, err, text)
        if code:
            assert err.startswith("error: "), (command, err, text)
    leftover = [p for p in (folder / "experiments").glob("*")] if (
        folder / "experiments").exists() else []
    assert leftover == [], text  # a refused spec leaves no experiment behind


@SETTINGS
@given(spec=specs())
def test_random_specs_never_crash(folder, monkeypatch, spec):
    monkeypatch.setenv("NAS_EXPERIMENTS_DIR", str(folder / "experiments"))
    check(folder, yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))


@SETTINGS
@given(text=st.text(alphabet=st.sampled_from(list("ab:-[]{}!&*|>'\"#%@`,?\n\t 0.\\")),
                    max_size=60))
@example(text="[" * 200 + "]" * 200)
@example(text="!!python/object/apply:os.system ['echo hi']")
@example(text="a: &x [*x]")
@example(text="model_space: !!binary aGVsbG8=")
@example(text="\ufeffmodel_space: 1")
def test_random_yaml_text_never_crashes(folder, monkeypatch, text):
    monkeypatch.setenv("NAS_EXPERIMENTS_DIR", str(folder / "experiments"))
    check(folder, text)


# Option values click itself refuses (--max-trials 0, --concurrency x) escape as tracebacks
# today: a known bug, xfailed in tests/cli/test_usage.py. These are values click accepts.
@SETTINGS
@given(max_trials=st.integers(1, 10**30).map(str), concurrency=st.integers(1, 10**6).map(str),
       name=st.text(max_size=12))
def test_random_command_line_overrides_never_crash(folder, monkeypatch, max_trials,
                                                   concurrency, name):
    monkeypatch.setenv("NAS_EXPERIMENTS_DIR", str(folder / "experiments"))
    spec = {"model_space": {"module": "boom.py", "class": "Net"},
            "evaluator": {"type": "function", "function": "boom.py:f"}}
    check(folder, json.dumps(spec), "--max-trials", max_trials, "--concurrency", concurrency,
          "--name", name)
