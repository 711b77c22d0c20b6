"""Specs `nas run` must refuse before anything runs: exit 2 (1 where the space cannot be
imported), the exact one-line problem on stderr, no traceback, no experiment left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.cli import TINY

# (overrides of the valid base spec, the line on stderr); "{dir}" is the spec's folder.
MALFORMED = [
    pytest.param({"trial_concurency": 2},
                 "trial_concurency: unknown key (did you mean 'trial_concurrency'?)",
                 id="unknown-key"),
    pytest.param({"max_trial_number": 0},
                 "max_trial_number: must be a positive integer, got 0", id="max-trials-0"),
    pytest.param({"max_trial_number": "ten"},
                 "max_trial_number: must be a positive integer, got 'ten'", id="max-trials-text"),
    pytest.param({"trial_concurrency": -1},
                 "trial_concurrency: must be a positive integer, got -1", id="concurrency-neg"),
    pytest.param({"max_experiment_duration": "soon"},
                 "max_experiment_duration: must be a duration like 30s, 5m, 2h or 1d, got 'soon'",
                 id="bad-duration"),
    pytest.param({"max_trial_duration": 0},
                 "max_trial_duration: must be a positive duration, got 0", id="zero-duration"),
    pytest.param({"strategy": {"name": "evo"}},
                 "strategy.name: unknown strategy 'evo' (choose from random, grid, evolution, "
                 "tpe, rl, nsga2, spos, darts, gumbel_darts, proxyless, enas; did you mean 'evolution'?)", id="strategy-typo"),
    pytest.param({"strategy": {"name": "evolution", "population_size": "ten"}},
                 "strategy.population_size: must be a positive integer, got 'ten'",
                 id="strategy-param-type"),
    pytest.param({"strategy": {"name": "random", "foo": 1}},
                 "strategy.foo: unknown key", id="strategy-unknown-param"),
    pytest.param({"strategy": {"name": "evolution", "sample_size": 30}},
                 "strategy.sample_size: must be at most population_size (20), got 30",
                 id="strategy-params-disagree"),
    pytest.param({"strategy": {"dedup": "maybe"}},
                 "strategy.dedup: must be true or false, got 'maybe'", id="dedup-not-bool"),
    pytest.param({"evaluator": {"function": None}},
                 "evaluator.function: required", id="function-missing"),
    pytest.param({"evaluator": {"function": "evaluate"}},
                 "evaluator.function: must have the form 'module:function' (a dotted module or a "
                 ".py file, a colon, then a name), got 'evaluate'", id="function-no-colon"),
    pytest.param({"evaluator": {"type": "clasification"}},
                 "evaluator.type: must be one of classification, regression, function, table, got "
                 "'clasification'", id="evaluator-type-typo"),
    pytest.param({"model_space": {"module": "nowhere.py"}},
                 "model_space.module: file not found: {dir}/nowhere.py", id="module-file-missing"),
    pytest.param({"model_space": {"module": "not a module"}},
                 "model_space.module: must be a .py file or a dotted module name like "
                 "'pkg.module', got 'not a module'", id="module-not-a-name"),
    pytest.param({"model_space": {"class": None}},
                 "model_space.class: required", id="class-missing"),
    pytest.param({"model_space": "Tiny"},
                 "model_space: must be a mapping, got 'Tiny'", id="section-not-a-mapping"),
    pytest.param({"objective": {"metric": "loss", "mode": "up"}},
                 "objective.mode: must be one of maximize, minimize, got 'up'", id="bad-mode"),
    pytest.param({"training_service": {"platform": "slurm"}},
                 "training_service.platform: must be one of local, ray, simulated, got 'slurm'",
                 id="unknown-platform"),
    pytest.param({"trial_gpu_number": -1},
                 "trial_gpu_number: must be a non-negative integer, got -1", id="gpus-negative"),
    pytest.param({"evaluator": {"function": f"{TINY}:constant", "kwargs": {"nope": 1}}},
                 "evaluator.function: constant(model) cannot be called as evaluate(model, "
                 "**kwargs) with kwargs ['nope']: got an unexpected keyword argument 'nope'",
                 id="kwargs-do-not-fit-the-function"),
    pytest.param({"evaluator": {"function": f"{TINY}:ARCHS"}},
                 f"evaluator.function: {TINY}:ARCHS is not callable", id="function-not-callable"),
    pytest.param({"experiment_name": "../evil"},
                 "invalid experiment name '../evil': use letters, digits, '.', '_' and '-' only",
                 id="unsafe-name"),
]

# Whole files that are not a spec at all.
NOT_A_SPEC = [
    pytest.param("model_space: {module: x\nevaluator: [\n",
                 "{path}:2: expected ',' or '}}', but got ':' (while parsing a flow mapping on "
                 "line 1)", id="yaml-syntax"),
    pytest.param("", "{path}: must be a mapping of keys (model_space, evaluator, ...), got an "
                 "empty file", id="empty-file"),
    pytest.param("- a\n- b\n", "{path}: must be a mapping of keys (model_space, evaluator, ...), "
                 "got ['a', 'b']", id="a-list"),
    pytest.param("max_trial_number: 1\nmax_trial_number: 2\n",
                 "{path}:2: duplicate key 'max_trial_number'", id="duplicate-key"),
]


def assert_refused(result: tuple[int, str, str], line: str, exp_dir: Path, code: int = 2) -> None:
    exit_code, out, err = result
    assert (exit_code, err) == (code, f"error: {line}\n")
    assert out == ""
    assert not exp_dir.exists() or not any(exp_dir.iterdir())  # no experiment left behind


@pytest.mark.parametrize(("overrides", "line"), MALFORMED)
def test_malformed_spec_is_refused(nas, write_spec, tmp_path, exp_dir, overrides, line):
    spec = write_spec(tmp_path, **overrides)
    assert_refused(nas("run", spec), line.format(dir=tmp_path), exp_dir)


@pytest.mark.parametrize(("text", "line"), NOT_A_SPEC)
def test_not_a_spec_is_refused(nas, tmp_path, exp_dir, text, line):
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    assert_refused(nas("run", spec), line.format(path=spec), exp_dir)


def test_missing_spec_file_is_refused(nas, tmp_path, exp_dir):
    assert_refused(nas("run", tmp_path / "absent.yaml"), f"{tmp_path}/absent.yaml: file not found",
                   exp_dir)


def test_every_problem_is_listed(nas, write_spec, tmp_path, exp_dir):
    spec = write_spec(tmp_path, max_trial_number=0, trial_concurrency=0,
                      strategy={"name": "grdi"})
    code, out, err = nas("run", spec)
    assert code == 2
    assert err.splitlines() == [
        "error: the spec has 3 problems:",
        "  strategy.name: unknown strategy 'grdi' (choose from random, grid, evolution, tpe, "
        "rl, nsga2, spos, darts, gumbel_darts, proxyless, enas; did you mean 'grid'?)",
        "  trial_concurrency: must be a positive integer, got 0",
        "  max_trial_number: must be a positive integer, got 0",
    ]
    assert not exp_dir.exists()


# --- the space cannot be imported or is not a space: bad input, exit 2 ---------------------


def test_space_module_that_raises_on_import(nas, write_spec, tmp_path, exp_dir):
    (tmp_path / "broken.py").write_text('import torch\n\nraise RuntimeError("no GPU here")\n')
    spec = write_spec(tmp_path, model_space={"module": "broken.py"})
    assert_refused(nas("run", spec), "model_space.module: importing broken.py failed: "
                   f"{tmp_path}/broken.py:3: RuntimeError: no GPU here", exp_dir)


def test_space_module_with_a_missing_dependency(nas, write_spec, tmp_path, exp_dir):
    (tmp_path / "needs.py").write_text("import torch\nimport nonexistent_pkg_xyz\n")
    spec = write_spec(tmp_path, model_space={"module": "needs.py"})
    assert_refused(nas("run", spec), "model_space.module: importing needs.py failed: "
                   f"{tmp_path}/needs.py:2: ModuleNotFoundError: No module named "
                   "'nonexistent_pkg_xyz'", exp_dir)


def test_unknown_dotted_module(nas, write_spec, tmp_path, exp_dir):
    spec = write_spec(tmp_path, model_space={"module": "no_such_pkg.spaces"})
    assert_refused(nas("run", spec), "model_space.module: no module named 'no_such_pkg.spaces' "
                   "(a dotted module on the Python path or a .py file relative to the spec)",
                   exp_dir)


def test_class_without_model_wrapper(nas, write_spec, tmp_path, exp_dir):
    spec = write_spec(tmp_path, model_space={"class": "NotWrapped"})
    assert_refused(nas("run", spec), "model_space.class: NotWrapped is not a model space: "
                   "decorate it with @model_wrapper (from nas_cli import model_wrapper)",
                   exp_dir)


def test_unknown_class_names_the_spaces_there(nas, write_spec, tmp_path, exp_dir):
    spec = write_spec(tmp_path, model_space={"class": "Tinny"})
    assert_refused(nas("run", spec), f"model_space.class: {TINY} has no class 'Tinny' "
                   "(model spaces there: Tiny)", exp_dir)
