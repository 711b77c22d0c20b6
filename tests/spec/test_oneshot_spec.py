"""The one-shot strategy in a spec: its keys and defaults, NNI's name, its `search` strategy,
and what it refuses before anything runs (with what works instead)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_spec import problems, with_minimal, write

from nas_cli.spec import (
    dump_spec,
    json_schema,
    load_spec,
    proposing_strategy,
    strategy_params,
    trial_limit,
)

SPOS = """
strategy:
  name: RandomOneShot
  seed: 4
  supernet_epochs: 30
  search: {name: RegularizedEvolution, population_size: 50, sample_size: 10}
  search_trials: 500
  retrain_top: 3
"""


def test_spos_keys_defaults_and_the_search_strategy(tmp_path: Path):
    spec = load_spec(write(tmp_path, with_minimal(SPOS)))
    assert spec.strategy.name == "spos"
    params = strategy_params(spec)
    assert (params.supernet_epochs, params.search_trials, params.retrain_top) == (30, 500, 3)
    assert (params.path_sampling, params.bn_recalibration_batches) == ("per_decision", 10)
    name, seed, dedup, search = proposing_strategy(spec)
    assert (name, seed, dedup) == ("evolution", 4, True)  # the search seed defaults to spos's
    assert (search.population_size, search.sample_size) == (50, 10)
    assert trial_limit(spec) == 503
    again = load_spec(write(tmp_path, dump_spec(spec), "again.yaml"), base_dir=tmp_path)
    assert dump_spec(again) == dump_spec(spec)
    defaults = strategy_params(load_spec(write(tmp_path, with_minimal("strategy: {name: spos}"))))
    assert (defaults.search.name, defaults.retrain_top) == ("evolution", 0)


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("strategy: {name: spos, search: {name: spos}}\n",
                 "strategy.search.name: must be a multi-trial strategy (random, grid, evolution, "
                 "tpe, rl, nsga2), got 'spos'", id="search-one-shot"),
    pytest.param("strategy: {name: spos, search: {name: tpe, n_startup: 3}}\n",
                 "strategy.search.n_startup: unknown key (did you mean 'n_startup_trials'?)",
                 id="search-param-typo"),
    pytest.param("strategy: {name: spos, retrain_top: -1}\n",
                 "strategy.retrain_top: must be a non-negative integer, got -1", id="retrain"),
    pytest.param("strategy: {name: spos}\nevaluator: {type: function, function: 'm:f'}\n",
                 "evaluator.type: spos trains a supernet with the evaluator's data and "
                 "optimizer: use a classification or regression evaluator, or use a multi-trial "
                 "strategy (random, grid, evolution, tpe, rl, nsga2) with a function evaluator",
                 id="function-evaluator"),
    pytest.param("strategy: {name: spos}\nmodel_space: {module: spaces.net, class: Net, "
                 "mutators: ['spaces.net:Widen']}\n",
                 "model_space.mutators: spos builds a supernet from the space's mutables; a "
                 "custom Mutator rewrites a built model and cannot be part of one: express its "
                 "choices with LayerChoice/ValueChoice, or use a multi-trial strategy (random, "
                 "grid, evolution, tpe, rl, nsga2)", id="mutators"),
    pytest.param("strategy: {name: spos}\nearly_stopping: {type: median}\n",
                 "early_stopping: spos's search trials are not trained, so nothing can stop "
                 "early: remove early_stopping", id="early-stopping"),
    pytest.param("strategy: {name: gumbel_darts, initial_temperature: 1, final_temperature: 2}\n",
                 "strategy.final_temperature: must be at most initial_temperature (1.0), got 2.0",
                 id="warming"),
    pytest.param("strategy: {name: darts, penalty: {metric: size, weight: 1}}\n",
                 "strategy.penalty.metric: must be one of params, flops, latency_ms, got 'size'",
                 id="penalty-metric"),
    pytest.param("strategy: {name: enas, penalty: {metric: flops}}\n",
                 "strategy.penalty.weight: required", id="penalty-weight"),
    pytest.param("strategy: {name: proxyless, search: {name: evolution}}\n",
                 "strategy.search: unknown key (did you mean 'search_trials'?)",
                 id="no-search-strategy"),
    pytest.param("strategy: {name: darts, eval_paths: 3}\n",
                 "strategy.eval_paths: unknown key", id="spos-key"),
    pytest.param("strategy: {name: gumbel_darts, unrolled: true}\n",
                 "strategy.unrolled: unknown key", id="second-order-darts-only"),
    pytest.param("strategy: {name: darts}\nearly_stopping: {type: median}\n",
                 "early_stopping: darts's search trials are not trained, so nothing can stop "
                 "early: remove early_stopping", id="early-stopping-darts"),
])
def test_what_one_shot_refuses(tmp_path: Path, text: str, expected: str):
    base = with_minimal("").replace("model_space:\n  module: spaces.net\n  class: Net\n", "") \
        if "model_space" in text else with_minimal("")
    if "evaluator:" in text:
        base = base.replace("evaluator:\n  type: classification\n", "")
    assert problems(write(tmp_path, base + text)) == [expected]


def test_the_json_schema_lists_each_strategy_keys():
    schema = json_schema()
    rules = {r["if"]["properties"]["name"]["const"]: r["then"]["properties"]
             for r in schema["$defs"]["StrategySpec"]["allOf"]}
    assert {"supernet_epochs", "search", "search_trials", "retrain_top"} <= set(rules["spos"])
    assert "population_size" in rules["evolution"]
    assert "unrolled" in rules["darts"] and "unrolled" not in rules["gumbel_darts"]
    assert "name" in schema["$defs"]["SearchStrategySpec"]["properties"]


@pytest.mark.parametrize(("written", "name"), [("DARTS", "darts"), ("GumbelDARTS", "gumbel_darts"),
                                               ("gumbel-darts", "gumbel_darts"),
                                               ("Proxyless", "proxyless"), ("ENAS", "enas")])
def test_the_learned_methods_under_their_own_and_nnis_names(tmp_path: Path, written: str,
                                                             name: str):
    spec = load_spec(write(tmp_path, with_minimal(f"strategy: {{name: {written}, seed: 3}}")))
    assert spec.strategy.name == name
    params = strategy_params(spec)
    assert (params.search_trials, params.retrain_top, params.penalty) == (5, 0, None)
    assert trial_limit(spec) == 5
    assert proposing_strategy(spec)[:3] == ("random", 3, True)  # the engine's, never asked


def test_each_learned_method_has_its_papers_defaults(tmp_path: Path):
    def params(name: str):
        return strategy_params(load_spec(write(tmp_path, with_minimal(f"strategy: {{name: {name}}}"))))

    darts, gumbel, proxyless, enas = (params(n) for n in ("darts", "gumbel_darts", "proxyless",
                                                          "enas"))
    assert (darts.arch_learning_rate, darts.arch_weight_decay, darts.grad_clip) == (3e-4, 1e-3, 5.0)
    assert (gumbel.hard, gumbel.initial_temperature, gumbel.final_temperature) == (False, 10.0, 0.1)
    assert proxyless.arch_learning_rate == 1e-3
    assert (enas.arch_learning_rate, enas.entropy_weight, enas.baseline_decay) == (3.5e-4, 1e-4,
                                                                                   0.999)
    spec = load_spec(write(tmp_path, with_minimal(
        "strategy: {name: darts, penalty: {metric: latency_ms, weight: 0.2, target: 5}}")))
    penalty = strategy_params(spec).penalty
    assert (penalty.metric, penalty.weight, penalty.target, penalty.latency_batch_size) == (
        "latency_ms", 0.2, 5.0, 1)
    assert dump_spec(load_spec(write(tmp_path, dump_spec(spec), "again.yaml"),
                               base_dir=tmp_path)) == dump_spec(spec)


def test_the_json_schema_lists_the_learned_methods_keys():
    rules = {r["if"]["properties"]["name"]["const"]: r["then"]["properties"]
             for r in json_schema()["$defs"]["StrategySpec"]["allOf"]}
    assert {"arch_learning_rate", "penalty", "warmup_epochs", "search_trials"} <= set(rules["darts"])
    assert {"hard", "initial_temperature", "final_temperature"} <= set(rules["gumbel_darts"])
    assert {"entropy_weight", "baseline_decay"} <= set(rules["enas"])
