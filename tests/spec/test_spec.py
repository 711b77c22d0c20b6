"""The spec layer as a user meets it: the problem lines of a bad spec, the values of a good one."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nas_cli.errors import SpecError
from nas_cli.spec import (
    dump_spec,
    early_stopping_params,
    json_schema,
    load_spec,
    resolve_path,
    strategy_params,
)

MINIMAL = """
model_space:
  module: spaces.net
  class: Net
evaluator:
  type: classification
"""


def write(folder: Path, text: str, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def problems(path: Path, overrides: dict | None = None) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(path, overrides)
    assert caught.value.exit_code == 2
    return caught.value.problems


def with_minimal(extra: str) -> str:
    return MINIMAL + textwrap.dedent(extra)


# Each case: the spec text (appended to MINIMAL unless it names model_space itself) and the
# exact lines the user sees; "{dir}" stands for the spec's folder.
MALFORMED = [
    pytest.param(
        "trial_concurency: 2\n",
        ["trial_concurency: unknown key (did you mean 'trial_concurrency'?)"],
        id="unknown-top-level-key",
    ),
    pytest.param(
        "model_space: {module: spaces.net}\nevaluator: {type: classification}\n",
        ["model_space.class: required"],
        id="missing-class",
    ),
    pytest.param(
        "experiment_name: x\n",
        ["model_space: required", "evaluator: required"],
        id="missing-sections",
    ),
    pytest.param(
        "model_space: {module: spaces.net, class: Net}\nevaluator: {type: clasification}\n",
        [
            "evaluator.type: must be one of classification, regression, function, table, got 'clasification'"
        ],
        id="evaluator-type-typo",
    ),
    pytest.param(
        "model_space: {module: spaces.net, class: Net}\nevaluator: {dataset: digits}\n",
        ["evaluator.type: required"],
        id="evaluator-type-missing",
    ),
    pytest.param(
        "model_space: {module: spaces.net, class: Net}\nevaluator: digits\n",
        ["evaluator: must be a mapping, got 'digits'"],
        id="evaluator-not-a-mapping",
    ),
    pytest.param(
        "max_trial_number: 0\n",
        ["max_trial_number: must be a positive integer, got 0"],
        id="max-trials-zero",
    ),
    pytest.param(
        "trial_concurrency: two\nmax_failed_trials: -1\n",
        [
            "trial_concurrency: must be a positive integer, got 'two'",
            "max_failed_trials: must be a non-negative integer, got -1",
        ],
        id="counts",
    ),
    pytest.param(
        "strategy: {name: evolution, population_size: ten}\n",
        ["strategy.population_size: must be a positive integer, got 'ten'"],
        id="population-size-word",
    ),
    pytest.param(
        "strategy: {name: evo}\n",
        [
            "strategy.name: unknown strategy 'evo' (choose from random, grid, evolution, tpe, rl,"
            " nsga2, spos, darts, gumbel_darts, proxyless, enas; did you mean 'evolution'?)"
        ],
        id="strategy-name-unknown",
    ),
    pytest.param(
        "strategy: {name: evolution, populaton_size: 10}\n",
        ["strategy.populaton_size: unknown key (did you mean 'population_size'?)"],
        id="strategy-param-typo",
    ),
    pytest.param(
        "strategy: {name: random, population_size: 10}\n",
        ["strategy.population_size: unknown key"],
        id="param-of-another-strategy",
    ),
    pytest.param(
        "strategy: {name: evolution, population_size: 4, sample_size: 8}\n",
        ["strategy.sample_size: must be at most population_size (4), got 8"],
        id="sample-larger-than-population",
    ),
    pytest.param(
        "strategy: {name: evolution, mutation_prob: 1.5, on_failure: skip}\n",
        [
            "strategy.mutation_prob: must be a number between 0 and 1, got 1.5",
            "strategy.on_failure: must be one of ignore, worst, got 'skip'",
        ],
        id="evolution-params",
    ),
    pytest.param(
        "strategy: {name: rl, window: 1, learning_rate: 0}\n",
        [
            "strategy.learning_rate: must be a positive number, got 0",
            "strategy.window: must be an integer >= 2, got 1",
        ],
        id="rl-params",
    ),
    pytest.param(
        "strategy: {name: TPE, multivariate: maybe}\n",
        ["strategy.multivariate: must be true or false, got 'maybe'"],
        id="tpe-bool",
    ),
    pytest.param(
        "strategy: random\n",
        ["strategy: must be a mapping, got 'random'"],
        id="strategy-not-a-mapping",
    ),
    pytest.param(
        "max_trial_duration: soon\nmax_experiment_duration: -5m\n",
        [
            "max_experiment_duration: must be a duration like 30s, 5m, 2h or 1d, got '-5m'",
            "max_trial_duration: must be a duration like 30s, 5m, 2h or 1d, got 'soon'",
        ],
        id="durations",
    ),
    pytest.param(
        "max_trial_duration: .inf\n",
        ["max_trial_duration: must be a duration like 30s, 5m, 2h or 1d, got inf"],
        id="duration-infinite",
    ),
    pytest.param(
        "model_space: {module: spaces/net.py, class: Net}\nevaluator: {type: classification}\n",
        ["model_space.module: file not found: {dir}/spaces/net.py"],
        id="module-file-missing",
    ),
    pytest.param(
        "model_space: {module: spaces/net, class: Net}\nevaluator: {type: classification}\n",
        [
            "model_space.module: must be a .py file or a dotted module name like 'pkg.module',"
            " got 'spaces/net'"
        ],
        id="module-neither-file-nor-dotted",
    ),
    pytest.param(
        "model_space: {module: spaces.net, class: Net, mutators: [mut.Grow]}\n"
        "evaluator: {type: function, function: train.evaluate}\n",
        [
            "model_space.mutators[0]: must have the form 'module:Class' (a dotted module or a .py"
            " file, a colon, then a name), got 'mut.Grow'",
            "evaluator.function: must have the form 'module:function' (a dotted module or a .py"
            " file, a colon, then a name), got 'train.evaluate'",
        ],
        id="module-colon-name-form",
    ),
    pytest.param(
        "model_space: {module: spaces.net, class: Net}\n"
        "evaluator: {type: function, function: train.py:evaluate}\n",
        ["evaluator.function: file not found: {dir}/train.py"],
        id="function-file-missing",
    ),
    pytest.param(
        "model_space: {module: spaces.net, class: Net}\nevaluator: {type: function}\n",
        ["evaluator.function: required"],
        id="function-missing",
    ),
    pytest.param(
        "model_space: {module: spaces.net, class: Net}\n"
        "evaluator: {type: classification, dataset: {factory: make_data}}\n",
        [
            "evaluator.dataset.factory: must have the form 'module:function' (a dotted module or"
            " a .py file, a colon, then a name), got 'make_data'"
        ],
        id="dataset-factory-form",
    ),
    pytest.param(
        "model_space: {module: spaces.net, class: Net}\n"
        "evaluator: {type: classification, dataset: digts}\n",
        [
            "evaluator.dataset: unknown built-in dataset 'digts' (choose from digits, diabetes;"
            " did you mean 'digits'?)"
        ],
        id="dataset-unknown",
    ),
    pytest.param(
        "model_space: {module: spaces.net, class: Net}\n"
        "evaluator: {type: regression, dataset: digits}\n",
        ["evaluator.dataset: 'digits' is a classification dataset, not regression"],
        id="dataset-wrong-task",
    ),
    pytest.param(
        "model_space: {module: spaces.net, class: Net}\n"
        "evaluator: {type: classification, dataset: 5}\n",
        [
            "evaluator.dataset: must be a built-in dataset name (digits, diabetes) or a mapping"
            " with a 'factory' key"
        ],
        id="dataset-not-a-name",
    ),
    pytest.param(
        "model_space: {module: spaces.net, class: Net}\n"
        "evaluator: {type: classification, max_epoch: 2, optimizer: adamm, weight_decay: -1}\n",
        [
            "evaluator.optimizer: must be one of adam, adamw, sgd, got 'adamm'",
            "evaluator.weight_decay: must be a non-negative number, got -1",
            "evaluator.max_epoch: unknown key (did you mean 'max_epochs'?)",
        ],
        id="training-evaluator-keys",
    ),
    pytest.param(
        "objective: {metric: val_mse}\n",
        [
            "objective.metric: must be val_acc or val_loss for a classification evaluator"
            " (or a cost metric: params, flops, latency_ms), got 'val_mse'"
        ],
        id="objective-metric-not-reported",
    ),
    pytest.param(
        "objective: {metric: val_acc, mode: max}\n",
        ["objective.mode: must be one of maximize, minimize, got 'max'"],
        id="objective-mode",
    ),
    pytest.param(
        "early_stopping: {type: hyperband}\n",
        ["early_stopping.type: must be one of median, asha, got 'hyperband'"],
        id="early-stopping-type",
    ),
    pytest.param(
        "early_stopping: {type: asha, reduction_factr: 3, min_resource: 0}\n",
        [
            "early_stopping.min_resource: must be a positive integer, got 0",
            "early_stopping.reduction_factr: unknown key (did you mean 'reduction_factor'?)",
        ],
        id="early-stopping-params",
    ),
    pytest.param(
        "training_service: {platform: k8s}\ntrial_gpu_number: 0.5\n",
        [
            "trial_gpu_number: must be a non-negative integer, got 0.5",
            "training_service.platform: must be one of local, ray, simulated, got 'k8s'",
        ],
        id="training-service",
    ),
    pytest.param(
        "model_space: {module: spaces.net, clas: Net}\n"
        "evaluator: {type: classification}\n"
        "strategy: {name: evolution, sample_size: 0}\n"
        "max_trial_number: many\n",
        [
            "model_space.class: required",
            "model_space.clas: unknown key (did you mean 'class'?)",
            "strategy.sample_size: must be a positive integer, got 0",
            "max_trial_number: must be a positive integer, got 'many'",
        ],
        id="every-problem-at-once",
    ),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED)
def test_malformed_spec_lists_each_problem(tmp_path: Path, text: str, expected: list[str]):
    full = text if text.startswith(("model_space", "experiment_name")) else with_minimal(text)
    path = write(tmp_path, full)
    assert problems(path) == [line.replace("{dir}", str(tmp_path)) for line in expected]


def test_problems_carry_no_pydantic_text(tmp_path: Path):
    path = write(tmp_path, with_minimal("max_trial_number: x\nstrategy: {name: tpe, foo: 1}\n"))
    text = "\n".join(problems(path))
    assert "pydantic" not in text and "Input should" not in text and "http" not in text


def test_missing_file(tmp_path: Path):
    assert problems(tmp_path / "nope.yaml") == [f"{tmp_path}/nope.yaml: file not found"]


def test_malformed_yaml_names_the_line(tmp_path: Path):
    text = MINIMAL + "strategy:\n  name: random\n  seed: 1: 2\n"
    path = write(tmp_path, text)
    assert problems(path) == [f"{path}:8: mapping values are not allowed here"]


def test_duplicate_key_is_refused(tmp_path: Path):
    path = write(tmp_path, MINIMAL + "max_trial_number: 5\nmax_trial_number: 6\n")
    assert problems(path) == [f"{path}:7: duplicate key 'max_trial_number'"]


@pytest.mark.parametrize(
    ("text", "got"), [("- model_space\n", "['model_space']"), ("", "an empty file")]
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, got: str):
    path = write(tmp_path, text)
    expected = f"{path}: must be a mapping of keys (model_space, evaluator, ...), got {got}"
    assert problems(path) == [expected]


def test_override_through_a_value_is_refused(tmp_path: Path):
    path = write(tmp_path, MINIMAL)
    assert problems(path, {"model_space.class.x": 1}) == [
        "model_space.class.x: cannot override, model_space.class is not a mapping"
    ]


def test_bad_override_is_reported_like_the_file(tmp_path: Path):
    path = write(tmp_path, MINIMAL)
    assert problems(path, {"max_trial_number": 0}) == [
        "max_trial_number: must be a positive integer, got 0"
    ]


def test_defaults(tmp_path: Path):
    spec = load_spec(write(tmp_path, MINIMAL, "digits-quickstart.yaml"))
    assert spec.experiment_name == "digits-quickstart"
    assert spec.base_dir == tmp_path.resolve()
    assert (spec.strategy.name, spec.strategy.seed, spec.strategy.dedup) == ("random", None, True)
    assert (spec.trial_concurrency, spec.max_trial_number, spec.max_failed_trials) == (1, 20, 5)
    assert spec.max_experiment_duration is None and spec.early_stopping is None
    assert (spec.objective.metric, spec.objective.mode) == ("val_acc", "maximize")
    assert spec.evaluator.dataset == "digits"
    assert (spec.evaluator.max_epochs, spec.evaluator.batch_size) == (3, 64)
    assert spec.training_service.platform == "local"
    assert spec.model_space.class_name == "Net" and spec.model_space.init_kwargs == {}


def test_objective_mode_follows_the_metric(tmp_path: Path):
    regression = MINIMAL.replace("classification", "regression\n  dataset: diabetes")
    spec = load_spec(write(tmp_path, regression))
    assert (spec.objective.metric, spec.objective.mode) == ("val_mse", "minimize")
    spec = load_spec(write(tmp_path, with_minimal("objective: {metric: val_loss}\n")))
    assert (spec.objective.metric, spec.objective.mode) == ("val_loss", "minimize")


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("Random", "random"),
        ("GridSearch", "grid"),
        ("RegularizedEvolution", "evolution"),
        ("regularized_evolution", "evolution"),
        ("TPE", "tpe"),
        ("PolicyBasedRL", "rl"),
        ("policybasedrl", "rl"),
    ],
)
def test_nni_strategy_names(tmp_path: Path, written: str, canonical: str):
    spec = load_spec(write(tmp_path, with_minimal(f"strategy: {{name: {written}}}\n")))
    assert spec.strategy.name == canonical


def test_strategy_params_defaults(tmp_path: Path):
    text = with_minimal("strategy: {name: evolution, population_size: 30, seed: 3}\n")
    spec = load_spec(write(tmp_path, text))
    assert strategy_params(spec).model_dump() == {
        "population_size": 30,
        "sample_size": 5,
        "mutation_prob": 0.05,
        "on_failure": "ignore",
    }
    assert spec.strategy.seed == 3
    spec = load_spec(write(tmp_path, with_minimal("strategy: {name: tpe}\n")))
    assert strategy_params(spec).model_dump() == {
        "n_startup_trials": 10,
        "multivariate": True,
        "constant_liar": True,
    }


def test_early_stopping_params(tmp_path: Path):
    text = "early_stopping: {type: median, n_startup_trials: 5, n_warmup_steps: 1}\n"
    spec = load_spec(write(tmp_path, with_minimal(text)))
    params = early_stopping_params(spec)
    assert (params.n_startup_trials, params.n_warmup_steps, params.interval_steps) == (5, 1, 1)
    spec = load_spec(write(tmp_path, with_minimal("early_stopping: {type: asha}\n")))
    assert early_stopping_params(spec).model_dump() == {
        "min_resource": 1,
        "reduction_factor": 3,
        "min_early_stopping_rate": 0,
    }


def test_overrides(tmp_path: Path):
    path = write(tmp_path, with_minimal("max_trial_number: 50\nstrategy: {name: random}\n"))
    overrides = {
        "max_trial_number": 5,
        "trial_concurrency": 2,
        "experiment_name": "x",
        "strategy.seed": 7,
        "max_trial_duration": None,  # an option not given
    }
    spec = load_spec(path, overrides)
    assert (spec.max_trial_number, spec.trial_concurrency, spec.experiment_name) == (5, 2, "x")
    assert spec.strategy.seed == 7 and spec.max_trial_duration is None


def test_durations(tmp_path: Path):
    text = with_minimal("max_experiment_duration: 2h\nmax_trial_duration: 45\n")
    spec = load_spec(write(tmp_path, text))
    assert (spec.max_experiment_duration, spec.max_trial_duration) == (7200.0, 45.0)


def test_relative_paths_resolve_against_the_spec_folder(tmp_path: Path, monkeypatch):
    write(tmp_path, "", "exp/spaces/net.py")
    write(tmp_path, "", "exp/train.py")
    text = """
    model_space: {module: spaces/net.py, class: Net}
    evaluator: {type: function, function: "train.py:evaluate"}
    """
    path = write(tmp_path, text, "exp/spec.yaml")
    monkeypatch.chdir(tmp_path)
    spec = load_spec("exp/spec.yaml")
    assert spec.model_space.module == "spaces/net.py"  # kept as written
    assert spec.base_dir == path.parent.resolve()
    assert resolve_path(spec, spec.model_space.module) == path.parent.resolve() / "spaces/net.py"
    assert resolve_path(spec, "/abs/data") == Path("/abs/data")


def test_base_dir_for_a_copied_spec(tmp_path: Path):
    write(tmp_path, "", "project/spaces/net.py")
    text = "model_space: {module: spaces/net.py, class: Net}\nevaluator: {type: classification}\n"
    copy = write(tmp_path, text, "experiments/abc/spec.yaml")
    assert problems(copy) == [
        f"model_space.module: file not found: {tmp_path}/experiments/abc/spaces/net.py"
    ]
    spec = load_spec(copy, base_dir=tmp_path / "project")
    assert resolve_path(spec, "spaces/net.py") == (tmp_path / "project/spaces/net.py").resolve()


def test_dump_load_round_trip(tmp_path: Path):
    write(tmp_path, "", "spaces/net.py")
    text = """
    experiment_name: round
    model_space: {module: spaces/net.py, class: Net, init_kwargs: {width: 32}}
    strategy: {name: RegularizedEvolution, seed: 1, population_size: 8, sample_size: 2}
    evaluator:
      type: classification
      dataset: {factory: "data.loaders:make", kwargs: {n: 3}}
      max_epochs: 2
    max_experiment_duration: 30m
    max_trial_duration: 90
    early_stopping: {type: asha, min_resource: 2}
    """
    spec = load_spec(write(tmp_path, text), {"max_trial_number": 4})
    dumped = dump_spec(spec)
    for line in ("  class: Net", "max_experiment_duration: 30m", "max_trial_duration: 90s"):
        assert line in dumped.splitlines()
    assert "  population_size: 8" in dumped and "  mutation_prob: 0.05" in dumped
    assert "  name: evolution" in dumped and "base_dir" not in dumped
    again = load_spec(write(tmp_path, dumped, "again.yaml"))
    assert again == spec
    assert dump_spec(again) == dumped


def test_json_schema_lists_the_top_level_keys():
    schema = json_schema()
    assert {"experiment_name", "model_space", "strategy", "evaluator", "objective"} <= set(
        schema["properties"]
    )
    assert {"trial_concurrency", "max_trial_number", "training_service"} <= set(
        schema["properties"]
    )
    assert "base_dir" not in schema["properties"]
    assert set(schema["required"]) == {"model_space", "evaluator"}
    assert "class" in schema["$defs"]["ModelSpaceSpec"]["properties"]
