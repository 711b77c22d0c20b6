"""Searched values and several objectives in a spec: the distributions a user may write (ours
and NNI's search-space format), the one-line refusals of bad ones, and how they read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from nas_cli.distributions import Distribution
from nas_cli.errors import SpecError
from nas_cli.spec import dump_spec, json_schema, load_spec
from nas_cli.spec._search import Searched


def spec_file(tmp_path: Path, evaluator: dict, objective=None, **extra) -> Path:
    data = {"model_space": {"module": "spaces.net", "class": "Net"}, "evaluator": evaluator,
            **extra}
    if objective is not None:
        data["objective"] = objective
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def training(**fields) -> dict:
    return {"type": "classification", "dataset": "digits", **fields}


def function(**kwargs) -> dict:
    return {"type": "function", "function": "spaces.net:evaluate", "kwargs": kwargs}


def refused(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert caught.value.exit_code == 2
    return caught.value.problems


@pytest.mark.parametrize(("field", "written", "expected"), [
    ("learning_rate", {"loguniform": [1e-4, 1e-1]}, Distribution(1e-4, 1e-1, log=True)),
    ("weight_decay", {"uniform": [0, 0.01]}, Distribution(0, 0.01)),
    ("weight_decay", {"quniform": [0, 0.01, 0.005]}, Distribution(0, 0.01, step=0.005)),
    ("max_epochs", {"randint": [1, 5]}, Distribution(1, 5, integer=True)),
    ("batch_size", {"uniform": [16, 128]}, Distribution(16, 128, integer=True)),  # an int field
    ("batch_size", {"qloguniform": [16, 256, 16]}, Distribution(16, 256, True, 16, True)),
    # NNI's format; its randint excludes the upper bound
    ("max_epochs", {"_type": "randint", "_value": [1, 5]}, Distribution(1, 4, integer=True)),
    ("learning_rate", {"_type": "loguniform", "_value": [1e-4, 1e-1]},
     Distribution(1e-4, 1e-1, log=True)),
    ("weight_decay", {"_type": "quniform", "_value": [0, 0.1, 0.05]},
     Distribution(0, 0.1, step=0.05)),
])
def test_ranges(tmp_path, field, written, expected):
    spec = load_spec(spec_file(tmp_path, training(**{field: written})))
    value = getattr(spec.evaluator, field)
    assert isinstance(value, Searched) and value.distribution == expected


@pytest.mark.parametrize("written", [{"choice": [32, 64, 128]},
                                     {"_type": "choice", "_value": [32, 64, 128]}])
def test_choices(tmp_path, written):
    spec = load_spec(spec_file(tmp_path, training(batch_size=written)))
    assert spec.evaluator.batch_size.choices == (32, 64, 128)


@pytest.mark.parametrize(("evaluator", "objective", "line"), [
    (training(learning_rate={"loguniform": [0, 0.1]}), None,
     "evaluator.learning_rate.loguniform: loguniform needs a positive low bound, got 0"),
    (training(learning_rate={"loguniform": [-1, 0.1]}), None,
     "evaluator.learning_rate.loguniform: loguniform needs a positive low bound, got -1"),
    (training(batch_size={"choice": []}), None,
     "evaluator.batch_size.choice: must be a non-empty list of values, got []"),
    (training(batch_size={"choice": [32, 0]}), None,
     "evaluator.batch_size.choice[1]: must be a positive integer, got 0"),
    (training(learning_rate={"uniform": [0, 0.1]}), None,
     "evaluator.learning_rate.uniform[0]: must be a positive number, got 0"),
    (training(learning_rate={"uniform": [0.1, 0.01]}), None,
     "evaluator.learning_rate.uniform: low must not exceed high, got [0.1, 0.01]"),
    (training(learning_rate={"uniform": [0.1]}), None,
     "evaluator.learning_rate.uniform: must be [low, high], got [0.1]"),
    (training(optimizer={"choice": ["adam", "lamb"]}), None,
     "evaluator.optimizer.choice[1]: must be one of adam, adamw, sgd, got 'lamb'"),
    (training(optimizer={"uniform": [0, 1]}), None,
     "evaluator.optimizer: takes one of a fixed set of values: search it with {choice: [...]}"),
    (training(max_epochs={"uniform": [1, 2.5]}), None,
     "evaluator.max_epochs.uniform: an integer range needs whole bounds, got [1, 2.5]"),
    (training(weight_decay={"quniform": [0.01, 0.1, 0.04]}), None,
     "evaluator.weight_decay.quniform: low and high must be multiples of q (values are "
     "rounded to multiples of q), got [0.01, 0.1, 0.04]"),
    (training(learning_rate={"lognormal": [0, 1]}), None,
     "evaluator.learning_rate: unknown distribution 'lognormal' (use {choice: [...]}, "
     "{uniform: [low, high]}, {loguniform: [low, high]}, {randint: [low, high]}, "
     "{quniform: [low, high, q]}, {qloguniform: [low, high, q]}, or NNI's "
     "{_type: ..., _value: [...]})"),
    (training(learning_rate={"_type": "normal", "_value": [0, 1]}), None,
     "evaluator.learning_rate._type: NNI's normal is not supported: its range is unbounded; "
     "use uniform or loguniform with bounds"),
    (training(max_epochs={"_type": "randint", "_value": [3, 3]}), None,
     "evaluator.max_epochs._value: NNI's randint needs lower < upper (upper excluded), "
     "got [3, 3]"),
    (function(lr={"loguniform": [0, 1]}), None,
     "evaluator.kwargs.lr.loguniform: loguniform needs a positive low bound, got 0"),
    (training(), [{"metric": "val_acc"}, {"metric": "parameters"}],
     "objective[1].metric: must be val_acc or val_loss for a classification evaluator (or a "
     "cost metric: params, flops, latency_ms), got 'parameters'"),
    (training(), [{"metric": "val_acc"}, {"metric": "val_acc", "mode": "minimize"}],
     "objective[1].metric: 'val_acc' is already objective [0]"),
    (training(), [{"metric": "val_acc"}, {"metric": "params", "input_shape": [1, 8, 8]}],
     "objective[1].input_shape: only applies to the flops and latency_ms metrics"),
    (function(), [{"metric": "default"}, {"metric": "flops"}],
     "objective[1].input_shape: is required for flops with a function evaluator: the shape "
     "of one input without the batch dimension, e.g. [1, 8, 8]"),
])
def test_bad_values_are_refused_in_one_line_naming_the_key(tmp_path, evaluator, objective,
                                                            line):
    assert refused(spec_file(tmp_path, evaluator, objective)) == [line]


def test_a_function_kwarg_that_is_a_plain_mapping_is_not_searched(tmp_path):
    spec = load_spec(spec_file(tmp_path, function(config={"depth": 2},
                                                  lr={"loguniform": [1e-3, 1e-1]})))
    assert spec.evaluator.kwargs["config"] == {"depth": 2}
    assert spec.evaluator.kwargs["lr"].distribution == Distribution(1e-3, 1e-1, log=True)


def test_several_objectives_read_and_write_back(tmp_path):
    objective = [{"metric": "val_acc"}, {"metric": "params"},
                 {"metric": "latency_ms", "batch_size": 8}]
    path = spec_file(tmp_path, training(learning_rate={"loguniform": [1e-4, 1e-1]}), objective)
    spec = load_spec(path)
    assert spec.multi_objective
    assert [(o.metric, o.mode) for o in spec.objectives] == [
        ("val_acc", "maximize"), ("params", "minimize"), ("latency_ms", "minimize")]
    assert spec.objective.metric == "val_acc"  # the first one ranks trials
    written = yaml.safe_load(dump_spec(spec))
    assert written["objective"] == [{"metric": "val_acc", "mode": "maximize"},
                                    {"metric": "params", "mode": "minimize"},
                                    {"metric": "latency_ms", "mode": "minimize", "batch_size": 8}]
    assert written["evaluator"]["learning_rate"] == {"loguniform": [1e-4, 1e-1]}
    again = tmp_path / "again.yaml"
    again.write_text(dump_spec(spec))
    assert load_spec(again).model_dump() == spec.model_dump()


def test_one_objective_writes_back_as_a_mapping(tmp_path):
    spec = load_spec(spec_file(tmp_path, training(), {"metric": "val_loss"}))
    assert yaml.safe_load(dump_spec(spec))["objective"] == {"metric": "val_loss",
                                                             "mode": "minimize"}


def test_the_schema_lists_the_distributions_and_objective_lists():
    schema = json.dumps(json_schema())
    for form in ("choice", "uniform", "loguniform", "randint", "quniform", "qloguniform",
                 "_type", "_value"):
        assert f'"{form}"' in schema
    objective = json.dumps(json_schema()["properties"]["objective"])
    assert '"type": "array"' in objective and "ObjectiveSpec" in objective


def test_one_shot_search_refuses_searched_values_and_several_objectives(tmp_path):
    spos = {"strategy": {"name": "spos"}}
    path = spec_file(tmp_path, training(learning_rate={"loguniform": [1e-4, 1e-1]}), **spos)
    assert refused(path) == [
        "evaluator.learning_rate: spos trains one supernet with one set of hyperparameters: "
        "give a value, not a distribution, or use a multi-trial strategy (random, grid, "
        "evolution, tpe, rl, nsga2)"]
    path = spec_file(tmp_path, training(), [{"metric": "val_acc"}, {"metric": "params"}], **spos)
    assert refused(path) == [
        "objective: spos ranks architectures by one metric: give one objective, or use a "
        "multi-trial strategy (random, grid, evolution, tpe, rl, nsga2)"]
