"""Cost metrics measured without training (params, flops, latency_ms), the latency constraint,
and searched hyperparameters reaching the built-in training evaluator; in-process."""

from __future__ import annotations

import pytest
import torch

from nas_cli.evaluator._cost import CostRequest, count_flops, count_params, measure_costs
from nas_cli.execution import TrialPayload
from nas_cli.execution._trial import execute
from nas_cli.spec._models import TrainingEvaluatorSpec
from nas_cli.spec._search import parse


class _Evaluator:
    """Returns a score; records what it was called with."""

    def __init__(self):
        self.calls = []

    def evaluate(self, model, arch, *, metric, report=None, trial_dir=None, device="cpu",
                 hparams=None):
        self.calls.append((arch, hparams))
        return {metric: 0.5}


def _linear_payload(evaluator, **fields) -> TrialPayload:
    from helpers.spaces import Tiny

    return TrialPayload(Tiny, {}, [], evaluator, "score", **fields)


def test_params_and_flops_of_a_linear_layer():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    assert count_params(model) == 4 * 3 + 3 + 3 + 1
    assert count_flops(model, [4]) == 2 * (4 * 3 + 3 * 1)  # a multiply-add counts 2
    costs = measure_costs(model, [CostRequest("params"), CostRequest("flops", (4,)),
                                  CostRequest("latency_ms", (4,), batch_size=8)])
    assert costs["params"] == 19 and costs["flops"] == 30 and costs["latency_ms"] > 0
    assert model.training  # left as it was


def test_cost_objectives_and_hyperparameters_reach_the_trial():
    evaluator = _Evaluator()
    payload = _linear_payload(evaluator, metrics=["score", "params", "flops"],
                              costs=[CostRequest("params"), CostRequest("flops", (4,))],
                              hparams={"hp/lr": "lr"})
    arch = {"hidden": 8, "act": 0, "hp/lr": 0.01}
    outcome = execute(payload, 0, arch, None, log=False)
    assert not outcome.failed, outcome.error
    assert evaluator.calls == [({"hidden": 8, "act": 0}, {"lr": 0.01})]  # model arch apart
    assert outcome.metrics["params"] == outcome.params > 0 and outcome.metrics["flops"] > 0


def test_a_missing_objective_fails_the_trial_in_one_line():
    payload = _linear_payload(_Evaluator(), metrics=["score", "accuracy"])
    outcome = execute(payload, 0, {"hidden": 8, "act": 0}, None, log=False)
    assert outcome.failed and not outcome.pruned
    assert outcome.error == ("TrialError: the evaluator returned ['score'] without "
                             "'accuracy' (an objective)")


def test_over_max_latency_the_trial_ends_pruned_untrained():
    evaluator = _Evaluator()
    payload = _linear_payload(evaluator, costs=[CostRequest("latency_ms", (4,))],
                              latency_limit=1e-9)
    outcome = execute(payload, 0, {"hidden": 8, "act": 0}, None, log=False)
    assert outcome.pruned and evaluator.calls == []
    assert outcome.error.startswith("latency_ms ") and outcome.error.endswith(
        " > max_latency_ms 1e-09: not trained")


def test_the_training_evaluator_trains_with_the_trial_values(monkeypatch):
    import nas_cli.evaluator._lightning as lightning
    from nas_cli.evaluator._training import TrainingEvaluator

    seen = {}

    def fake_train(model, cfg, **kwargs):
        seen.update(lr=cfg.learning_rate, batch=cfg.batch_size, opt=cfg.optimizer,
                    epochs=cfg.max_epochs)
        return {"val_acc": 0.5, "val_loss": 1.0}

    monkeypatch.setattr(lightning, "train_and_evaluate", fake_train)
    config = TrainingEvaluatorSpec(type="classification", max_epochs=2,
                                   learning_rate=parse({"loguniform": [1e-4, 0.1]}),
                                   batch_size=parse({"choice": [16, 32]}),
                                   optimizer=parse({"choice": ["adam", "sgd"]}))
    evaluator = TrainingEvaluator(config)
    evaluator.evaluate(None, {}, metric="val_acc",
                       hparams={"learning_rate": 0.003, "batch_size": 32, "optimizer": "sgd"})
    assert seen == {"lr": 0.003, "batch": 32, "opt": "sgd", "epochs": 2}
    assert evaluator.input_shape() == (1, 8, 8)  # digits: flops and latency measure this


@pytest.mark.parametrize("device", ["cpu"])
def test_latency_is_a_median_of_timed_passes(device):
    from nas_cli.evaluator._cost import measure_latency

    model = torch.nn.Linear(16, 16)
    latency = measure_latency(model, (16,), batch_size=4, device=device, warmup=1, repeats=5)
    assert 0 < latency < 1000
