"""The methods that learn a distribution over architectures (DARTS, Gumbel DARTS, ProxylessNAS,
ENAS), in this process on tiny inputs: every method on every example space for a couple of
steps (or its one-line refusal), how candidates are weighed, the one candidate of each
decision that solves a toy task found by every method, checkpoints that resume exactly,
penalties that move the derived architecture toward smaller ones."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers.examples import load_example
from zoo import Kinds, Toy, ToyLayers, Zoo

import nas_cli.nn as nn
from nas_cli import freeze, model_wrapper
from nas_cli.errors import SpaceError
from nas_cli.oneshot import ArchDistribution, Mixture, Supernet, measure_costs, train_supernet
from nas_cli.oneshot._methods import LEARNED_METHODS, check_method, frozen_norms
from nas_cli.oneshot._weighted import SOFT
from nas_cli.spec import STRATEGY_PARAMS
from nas_cli.spec._models import TrainingEvaluatorSpec

ZOO = Path(__file__).with_name("zoo.py")
SPACES = {  # name: (class, init kwargs, one input's shape, classes)
    "kinds": (Kinds, {}, (2, 16), 3),
    "kinds-layers": (Kinds, {"value_args": False}, (2, 16), 3),
    "zoo": (Zoo, {}, (2, 16), 3),
    "digits": ("DigitsNet", {}, (1, 8, 8), 10),
    "mnist": ("MnistNet", {}, (1, 28, 28), 10),
    "nb201": ("NB201Net", {}, (1, 8, 8), 10),
    "darts": ("DartsNet", {}, (1, 8, 8), 10),
    "mobilenet": ("MobileNetSpace", {}, (1, 8, 8), 10),
}
NO_PROXYLESS = "which ProxylessNAS does not handle (as in NNI): use darts, gumbel_darts, enas or spos"
REFUSED = {  # (space, method): what the one line says
    **{(space, "proxyless"): f"takes ValueChoice arguments ({labels}), {NO_PROXYLESS}"
       for space, labels in [("kinds", "width, kernel"), ("digits", "channels"),
                             ("mnist", "dropout"), ("mobilenet", "stem_width")]},
    **{("zoo", method): "'gain' is a ValueChoice that Gain keeps as the attribute 'gain' (read "
                        "in forward); no gradient reaches it: use enas or spos"
       for method in ("darts", "darts/unrolled", "gumbel_darts", "gumbel_darts/hard",
                      "proxyless")},
    **{("mobilenet", method): "MobileNetSpace.stage1.blocks.0 with (8, 16, 1, 3, 3) cannot run "
                              "on the input the others take (RuntimeError), so darts and "
                              "gumbel_darts with hard: false cannot sum its argument sets "
                              "(stem_width, s1_width, s1_b0_expand, s1_b0_kernel): use "
                              "gumbel_darts (hard: true), enas or spos"
       for method in ("darts", "darts/unrolled", "gumbel_darts")},  # soft: sums every one
}
VARIANTS = {"gumbel_darts/hard": {"hard": True},  # a method with other keys, as `method/variant`
            "darts/unrolled": {"unrolled": True}}


def space_class(name: str) -> tuple[type, dict]:
    cls, kwargs, _, _ = SPACES[name]
    return (getattr(load_example(name), cls) if isinstance(cls, str) else cls), kwargs


@pytest.mark.parametrize("variant", [*LEARNED_METHODS, *VARIANTS])
@pytest.mark.parametrize("space", list(SPACES))
def test_every_method_steps_on_every_example_space_or_refuses_it_in_one_line(space, variant):
    model_class, kwargs = space_class(space)
    _, _, shape, classes = SPACES[space]
    net = Supernet(model_class, kwargs, seed=0).train()
    method = variant.partition("/")[0]
    params = STRATEGY_PARAMS[method](**VARIANTS.get(variant, {}))
    x = torch.randn(4, *shape, generator=torch.Generator().manual_seed(0))
    y = torch.arange(4) % classes
    try:
        check_method(net, method, params)
        steps = LEARNED_METHODS[method](net, params, None)
        before = [logits.detach().clone() for logits in steps.dist.logits]
        for _ in range(2):
            with frozen_norms(net):
                steps.arch_step(F.cross_entropy, (x, y), train=(x.flip(0), y), weight_lr=0.01)
            steps.clear()
            path = dict(net.arch)
            grads = {label: logits.grad for label, logits in zip(steps.dist.labels,
                                                                  steps.dist.logits)}
            steps.weight_path()
            out = net(x)
            F.cross_entropy(out, y).backward()
            steps.clear()
    except SpaceError as exc:
        assert (space, variant) in REFUSED, exc.message
        assert exc.message.endswith(REFUSED[space, variant]) and "\n" not in exc.message
        return
    assert (space, variant) not in REFUSED
    assert out.shape == (4, classes) and torch.isfinite(out).all()
    decisions = net.space.decisions
    if method == "enas":  # REINFORCE: the sampled paths' logits moved
        assert any(not torch.equal(b, a) for b, a in zip(before, steps.dist.logits))
    else:  # the gradient reaches the architecture parameters of every decision it weighs
        weighed = decisions if method == "darts" else path
        reached = [label for label in weighed if len(decisions[label].candidates) > 1
                   and grads[label] is not None and grads[label].abs().sum() > 0]
        assert len(reached) >= len([label for label in weighed
                                    if len(decisions[label].candidates) > 1]) // 2, reached
    derived = steps.dist.derived()
    assert net.space.validate(derived) == derived
    assert list(net.subnet(derived).state_dict()) == list(
        freeze(model_class, derived, **kwargs).state_dict())


# --- second-order DARTS ---------------------------------------------------------------------------
@model_wrapper
class TwoLayers(nn.Module):
    """Two choices of small linear layers (no batch norm): smooth enough to differentiate twice."""

    def __init__(self):
        super().__init__()
        self.first = nn.LayerChoice([nn.Linear(4, 5), nn.Sequential(nn.Linear(4, 5), nn.Tanh())],
                                    label="first")
        self.second = nn.LayerChoice([nn.Linear(5, 3), nn.Linear(5, 3)], label="second")

    def forward(self, x):
        return self.second(torch.tanh(self.first(x)))


def test_second_order_darts_takes_the_gradient_through_the_virtual_step() -> None:
    """`unrolled: true`: the logits' gradient is d/da L_val(w - xi * grad_w L_train(w, a), a),
    computed here exactly by autograd through the virtual step; the method's finite
    differences give the same, and differ from the first-order gradient."""
    xi = 0.5
    net = Supernet(TwoLayers, seed=0).double()
    generator = torch.Generator().manual_seed(1)
    train = (torch.randn(8, 4, generator=generator, dtype=torch.float64), torch.arange(8) % 3)
    val = (torch.randn(8, 4, generator=generator, dtype=torch.float64), torch.arange(8) % 3)

    def method(unrolled: bool):
        steps = LEARNED_METHODS["darts"](net, STRATEGY_PARAMS["darts"](unrolled=unrolled), None)
        steps.dist.double()
        with torch.no_grad():  # away from uniform, so that both decisions matter
            for logits in steps.dist.logits:
                logits.copy_(torch.randn(logits.shape, generator=generator, dtype=torch.float64))
        return steps

    steps = method(True)
    alphas = list(steps.dist.parameters())
    names, weights = zip(*[(n, p) for n, p in net.named_parameters() if p.requires_grad])
    net.path.mixture = Mixture(SOFT, steps.dist.probs())
    grads = torch.autograd.grad(F.cross_entropy(net(train[0]), train[1]), weights,
                                create_graph=True, allow_unused=True)
    ahead = {n: w if g is None else w - xi * g for n, w, g in zip(names, weights, grads)}
    net.path.mixture = Mixture(SOFT, steps.dist.probs())
    exact = torch.autograd.grad(
        F.cross_entropy(torch.func.functional_call(net, ahead, (val[0],)), val[1]), alphas)
    steps.clear()

    before = [w.detach().clone() for w in weights]
    initial = [a.detach().clone() for a in alphas]
    steps.arch_step(F.cross_entropy, val, train=train, weight_lr=xi)
    assert all(torch.equal(w, b) for w, b in zip(weights, before))  # the weights are back
    for ours, theirs in zip([a.grad for a in alphas], exact):
        # central differences at a step of 0.01: agree to about 1e-4 of the gradient's size
        assert (ours - theirs).abs().max() <= 1e-3 * theirs.abs().max(), (ours, theirs)

    first = method(False)
    with torch.no_grad():
        for a, b in zip(first.dist.parameters(), initial):  # the logits before the step
            a.copy_(b)
    first.arch_step(F.cross_entropy, val, train=train, weight_lr=xi)
    first_grads = [a.grad for a in first.dist.parameters()]
    assert any((f - t).abs().max() > 0.05 * t.abs().max() for f, t in zip(first_grads, exact))


# --- how candidates are weighed ------------------------------------------------------------------
def one_hot(net: Supernet, seed: int) -> tuple[dict, dict[str, torch.Tensor]]:
    """A random candidate for every decision, active or not: the architecture (the path also
    holds the others, as the methods set it) and one-hot weights on those candidates."""
    rng = random.Random(seed)
    picks = {label: rng.randrange(len(d.candidates)) for label, d in net.space.decisions.items()}
    arch = net.activate(net.space.choose(lambda d: picks[d.label]))
    net.path.set({**{label: net.space.decisions[label].candidates[i]
                     for label, i in picks.items()}, **arch})
    weights = {label: F.one_hot(torch.tensor(i), len(net.space.decisions[label].candidates))
               .float().requires_grad_() for label, i in picks.items()}
    return arch, weights


@pytest.mark.parametrize("name", ["kinds", "digits", "darts", "nb201"])
def test_a_one_hot_soft_mixture_computes_that_architecture(name):
    """DARTS's weighted sums (with shared slices: masked full-size weights) reduce to the
    path's output when the weights are one-hot."""
    model_class, kwargs = space_class(name)
    _, _, shape, _ = SPACES[name]
    net = Supernet(model_class, kwargs, seed=1).eval()
    x = torch.randn(3, *shape, generator=torch.Generator().manual_seed(1))
    for seed in range(3):
        _, weights = one_hot(net, seed)
        with torch.no_grad():
            expected = net(x)
            net.path.mixture = Mixture("soft", weights)
            got = net(x)
            net.path.mixture = None
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs", [{}, {"value_args": False}])
def test_gates_and_straight_through_weights_get_the_gradients_of_the_soft_mixture(kwargs):
    """At one-hot weights the soft mixture's output is the path's, and d(loss)/d(w_i) is
    <dL/dy, y_i>: what ProxylessNAS's binary gates give every candidate's weight (a space
    without ValueChoice arguments), and a hard (straight-through) sample the path's weight."""
    net = Supernet(Kinds, kwargs, seed=2).eval()
    x = torch.randn(3, 2, 16, generator=torch.Generator().manual_seed(2))
    grads = {}
    for mode in ("soft", "gate", "hard") if not kwargs else ("soft", "gate"):
        arch, weights = one_hot(net, 3)
        net.path.mixture = Mixture(mode, weights)
        net(x).pow(2).sum().backward()
        net.path.mixture = None
        grads[mode] = {label: w.grad for label, w in weights.items() if label in arch}
    for label in arch:
        soft = grads["soft"][label]
        if "hard" in grads:
            index = net.space.decisions[label].index_of(arch[label])  # the path's weight only
            torch.testing.assert_close(grads["hard"][label][index], soft[index], rtol=1e-4,
                                       atol=1e-6)
        else:
            torch.testing.assert_close(grads["gate"][label], soft, rtol=1e-4, atol=1e-6)


def test_the_top_architectures_are_the_most_probable_ones():
    """Best-first enumeration over active decisions equals brute force over the space."""
    net = Supernet(load_example("digits").DigitsNet)
    dist = ArchDistribution(net.space)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for logits in dist.logits:
            logits.copy_(torch.randn(logits.shape, generator=gen))
    brute = sorted(((dist.probability(a), json.dumps(a, sort_keys=True)) for a in net.space),
                   reverse=True)
    top = dist.top(6)
    assert [json.dumps(a, sort_keys=True) for a, _ in top] == [k for _, k in brute[:6]]
    assert [p for _, p in top] == pytest.approx([p for p, _ in brute[:6]])
    assert top[0][0] == dist.derived()
    assert sum(p for p, _ in brute) == pytest.approx(1.0)


# --- the cost table -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["kinds", "digits", "nb201", "darts", "mnist"])
def test_the_cost_table_gives_each_architectures_params_and_flops(name):
    """One-hot expectations of the table equal the frozen model's parameter count and
    FLOPs (these spaces' spatial sizes do not depend on a choice)."""
    from torch.utils.flop_counter import FlopCounterMode

    model_class, kwargs = space_class(name)
    _, _, shape, _ = SPACES[name]
    net = Supernet(model_class, kwargs)
    x = torch.randn(1, *shape)
    table = measure_costs(net, x)
    for arch in (net.sample(random.Random(i)) for i in range(4)):
        model = freeze(model_class, arch, **kwargs).eval()
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(x)
        assert table.of(arch, net.space, "params") == sum(p.numel() for p in model.parameters())
        assert table.of(arch, net.space, "flops") == counter.get_total_flops()


def test_latency_is_measured_per_candidate_and_expected_costs_are_differentiable():
    net = Supernet(Kinds)
    table = measure_costs(net, torch.randn(1, 2, 16), latency_batch=torch.randn(2, 2, 16))
    assert table.metrics == ["params", "flops", "latency_ms"] and table.fixed["latency_ms"] > 0
    dist = ArchDistribution(net.space)
    for metric in table.metrics:
        expected = table.expected(dist.probs(), metric)
        (grad,) = torch.autograd.grad(expected, [dist.logits_of("depth")])
        assert expected > 0 and grad.abs().sum() > 0  # deeper costs more
    assert json.loads(json.dumps(table.to_json())) == table.to_json()


# --- training -------------------------------------------------------------------------------------
TOY = TrainingEvaluatorSpec(type="classification", dataset={"factory": f"{ZOO}:toy_data"},
                            max_epochs=1, batch_size=64, learning_rate=0.01)
FINDS = {  # method: (space, epochs, its keys)
    "darts": (Toy, 6, {"arch_learning_rate": 0.05}),
    "darts/unrolled": (Toy, 6, {"arch_learning_rate": 0.05, "unrolled": True}),
    "gumbel_darts": (Toy, 8, {"arch_learning_rate": 0.05, "initial_temperature": 1.0,
                              "final_temperature": 0.5}),
    "proxyless": (ToyLayers, 8, {"arch_learning_rate": 0.1, "warmup_epochs": 2}),
    "enas": (Toy, 12, {"arch_learning_rate": 0.2, "baseline_decay": 0.9, "warmup_epochs": 2}),
}


class Killed(Exception):
    pass


def train(variant: str, folder: Path, epochs: int, *, kill_after: int | None = None) -> dict:
    space, _, keys = FINDS[variant]
    method = variant.partition("/")[0]
    net = Supernet(space, seed=0)

    def report(epoch: int, metrics: dict) -> None:
        if epoch == kill_after:
            raise Killed  # after that epoch's checkpoint, as a killed worker

    try:
        train_supernet(net, TOY, epochs=epochs, folder=folder, seed=0, method=method,
                       params=STRATEGY_PARAMS[method](**keys), recalibration_batches=1,
                       report=report)
    except Killed:
        pass
    return json.loads((folder / "progress.json").read_text())


@pytest.mark.parametrize("method", list(FINDS))
def test_each_method_finds_the_candidates_that_solve_the_toy_task(method, tmp_path):
    progress = train(method, tmp_path, FINDS[method][1])
    assert progress["method"] == method.partition("/")[0]
    assert progress["epochs_done"] == FINDS[method][1]
    derived = progress["derived"]
    assert derived["op"] == "keep" and derived["input"] == [0]
    assert progress["top"][0]["arch"] == derived  # the most probable comes first
    assert progress["top"][0]["probability"] == pytest.approx(
        progress["history"][-1]["arch_prob"], abs=1e-5)
    weights = progress["arch_weights"]  # the report's plot: one row per epoch
    assert [w["epoch"] for w in weights] == list(range(1, FINDS[method][1] + 1))
    keep = Supernet(ToyLayers).space.decisions["op"].candidates.index("keep")
    assert weights[-1]["probs"]["op"][keep] > weights[0]["probs"]["op"][keep]


@pytest.mark.parametrize("method", ["gumbel_darts", "enas"])
def test_a_resumed_training_continues_exactly(method, tmp_path):
    """Stopped after epoch 2 and resumed: the same history and distribution as in one go
    (random states, optimizers, the temperature, the baseline all restored)."""
    whole = train(method, tmp_path / "whole", 4)
    assert train(method, tmp_path / "parts", 4, kill_after=2)["epochs_done"] == 2
    resumed = train(method, tmp_path / "parts", 4)
    assert resumed["history"] == whole["history"]
    assert resumed["arch_weights"] == whole["arch_weights"]


def test_a_penalty_moves_the_derived_architecture_toward_smaller_ones(tmp_path):
    """On digits, DARTS with a heavy parameter penalty ends at a distribution whose expected
    parameter count, and whose derived architecture, are smaller than without it; a target
    above every architecture's cost changes nothing."""
    digits = TrainingEvaluatorSpec(type="classification", dataset="digits", max_epochs=1,
                                   batch_size=128, learning_rate=0.003)
    model_class = load_example("digits").DigitsNet
    runs = {}
    for name, penalty in (("none", None), ("params", {"metric": "params", "weight": 1.0}),
                          ("loose", {"metric": "params", "weight": 1.0, "target": 1e9})):
        params = STRATEGY_PARAMS["darts"](arch_learning_rate=0.05, penalty=penalty)
        net = Supernet(model_class, seed=0)
        train_supernet(net, digits, epochs=1, folder=tmp_path / name, seed=0, method="darts",
                       params=params, recalibration_batches=1)
        runs[name] = json.loads((tmp_path / name / "progress.json").read_text())["history"][-1]
    assert runs["params"]["expected_params"] < 0.8 * runs["loose"]["expected_params"]
    assert runs["params"]["derived_params"] < runs["none"]["derived_params"]
    assert {k: v for k, v in runs["loose"].items() if k != "expected_params"} == runs["none"]


@model_wrapper
class Strided(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3, stride=nn.ValueChoice([1, 2], label="stride"))

    def forward(self, x):
        return self.conv(x).mean(-1)


@model_wrapper
class Loose(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.Cell([nn.Linear(4, 4), nn.Tanh()], num_nodes=2, merge_op="loose_end",
                            label="cell")

    def forward(self, x):
        return self.cell(x)


@pytest.mark.parametrize(("space", "message"), [
    (Strided, "one-shot darts: Strided.conv chooses its stride (stride), so its candidates' "
              "outputs differ in size and cannot be summed: use gumbel_darts (hard: true), enas "
              "or spos"),
    (Loose, "one-shot darts: cell 'cell' concatenates its loose ends, which depend on the "
            "inputs chosen, so its candidates cannot be summed: use gumbel_darts (hard: true), "
            "enas or spos"),
])
def test_what_darts_cannot_sum_is_refused_naming_the_label(space, message):
    net = Supernet(space)
    with pytest.raises(SpaceError) as caught:
        check_method(net, "darts", STRATEGY_PARAMS["darts"]())
    assert caught.value.message == message
    check_method(net, "gumbel_darts", STRATEGY_PARAMS["gumbel_darts"](hard=True))  # one path
    with pytest.raises(SpaceError, match="gumbel_darts: cell|gumbel_darts: Strided"):
        check_method(net, "gumbel_darts", STRATEGY_PARAMS["gumbel_darts"]())  # soft: sums
