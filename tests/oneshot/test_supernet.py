"""The supernet built from an unchanged model space: for every architecture, running the
supernet on it equals running `freeze(Space, arch)` loaded with the weights sliced out of the
supernet, whose state_dict keys are exactly the ones `freeze` gives."""

from __future__ import annotations

import random

import pytest
import torch
from helpers.examples import load_example
from zoo import LooseWidth, TooManyCopies, Zoo

import nas_cli.nn as nn
from nas_cli import freeze, model_wrapper
from nas_cli.errors import SpaceError
from nas_cli.mutable import uniform
from nas_cli.oneshot import (
    MixedCell,
    MixedCopies,
    MixedInput,
    MixedLayer,
    MixedOperation,
    MixedRepeat,
    Supernet,
)
from nas_cli.space import ModelParameterChoice, Mutator, NasBench101Cell

EXAMPLES = {  # name: (class, one input's shape)
    "digits": ("DigitsNet", (1, 8, 8)),
    "mnist": ("MnistNet", (1, 28, 28)),
    "nb201": ("NB201Net", (1, 8, 8)),
    "darts": ("DartsNet", (1, 8, 8)),
    "mobilenet": ("MobileNetSpace", (1, 8, 8)),
}


def scrambled(net: Supernet, seed: int = 0) -> Supernet:
    """Weights and batch-norm statistics moved away from their initial values, so that a
    wrong slice or a wrong running statistic shows in the outputs."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in net.parameters():
            param.add_(torch.randn(param.shape, generator=gen) * 0.2)
        for name, buffer in net.named_buffers():
            if name.endswith("running_mean"):
                buffer.copy_(torch.randn(buffer.shape, generator=gen))
            elif name.endswith("running_var"):
                buffer.copy_(torch.rand(buffer.shape, generator=gen) + 0.5)
    return net


def assert_exact(net: Supernet, model_class, arch: dict, x: torch.Tensor, *, train: bool) -> None:
    """Supernet on `arch` == freeze(arch) with the inherited weights (train mode: same dropout
    masks from the same seed, same batch statistics, same running-statistic updates)."""
    net.activate(arch)
    sub = net.subnet(arch)
    assert list(sub.state_dict()) == list(freeze(model_class, arch).state_dict()), arch
    net.train(train)
    sub.train(train)
    torch.manual_seed(1)
    with torch.no_grad():
        expected = net(x)
    torch.manual_seed(1)
    with torch.no_grad():
        got = sub(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6, msg=lambda m: f"{arch}: {m}")
    if train:  # running statistics moved the same way in the slices as in the frozen model
        after = net.sub_state_dict(arch)
        for key, value in sub.state_dict().items():
            torch.testing.assert_close(value, after[key], msg=lambda m, k=key: f"{arch} {k}: {m}")


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_space_is_exact_over_sampled_architectures(name):
    cls_name, shape = EXAMPLES[name]
    model_class = getattr(load_example(name), cls_name)
    net = scrambled(Supernet(model_class))
    rng = random.Random(name)
    x = torch.randn(3, *shape, generator=torch.Generator().manual_seed(0))
    for index in range(12 if name != "mnist" else 4):
        arch = net.sample(rng, fair=index % 2 == 0)
        assert_exact(net, model_class, arch, x, train=index % 3 == 0)


def test_every_mutable_kind_and_mixed_operation_is_exact():
    net = scrambled(Supernet(Zoo), seed=3)
    kinds = {type(m) for m in net.modules()}
    assert {MixedLayer, MixedInput, MixedRepeat, MixedCell, MixedOperation, MixedCopies} <= kinds
    mixed_torch = {m.kind.__name__ for m in net.modules() if isinstance(m, MixedOperation)}
    assert {"Conv1d", "Conv2d", "BatchNorm1d", "Linear", "LayerNorm", "Dropout",
            "MaxPool1d"} <= mixed_torch
    rng = random.Random(7)
    x = torch.randn(5, 2, 16, generator=torch.Generator().manual_seed(2))
    seen: dict[str, set] = {}
    for index in range(40):
        arch = net.sample(rng)
        for label, value in arch.items():
            seen.setdefault(label, set()).add(repr(value))
        assert_exact(net, Zoo, arch, x, train=index % 2 == 1)
    space = net.space
    assert all(len(seen[label]) == len(d.candidates) for label, d in space.decisions.items())


def test_shared_weights_are_slices_of_the_largest():
    net = Supernet(Zoo)
    small = dict(net.sample(random.Random(0)), width=4, kernel=3, hidden=8)
    large = dict(small, width=6, kernel=5, hidden=12)
    a, b = net.sub_state_dict(small), net.sub_state_dict(large)
    assert a["fc.weight"].shape == (8, 16) and b["fc.weight"].shape == (12, 24)
    assert torch.equal(a["fc.weight"], b["fc.weight"][:8, :16])
    assert a["conv.weight"].shape == (4, 2, 3)
    assert torch.equal(a["conv.weight"], b["conv.weight"][:4, :, 1:4])  # the centred kernel
    assert a["shared.weight"].data_ptr() == b["shared.weight"].data_ptr()  # one storage
    assert a["again.weight"].data_ptr() == a["shared.weight"].data_ptr()


def test_training_one_path_changes_only_its_own_weights():
    net = Supernet(Zoo)
    rng = random.Random(1)
    arch = dict(net.sample(rng), alt="plain", hidden=8)
    other = dict(arch, alt="bottleneck", inner=2)
    before_bottleneck = {k: v.clone() for k, v in net.sub_state_dict(other).items()}
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()
    net.activate(arch)
    loss = net(torch.randn(4, 2, 16)).pow(2).mean()
    loss.backward()
    optimizer.step()
    after = net.sub_state_dict(other)
    bottleneck = [k for k in after if k.startswith("alt.")]
    assert bottleneck and all(torch.equal(after[k], before_bottleneck[k]) for k in bottleneck)
    assert not torch.equal(after["head.weight"], before_bottleneck["head.weight"])


@model_wrapper
class BadGroups(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, nn.ValueChoice([4, 6], label="out"), 3,
                              groups=nn.ValueChoice([2, 4], label="groups"))

    def forward(self, x):
        return self.conv(x)


@model_wrapper
class Bench101(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = NasBench101Cell({"lin": lambda f: nn.Linear(f, f)}, 4, 4,
                                    lambda i, o: nn.Linear(i, o), max_num_nodes=4,
                                    max_num_edges=4, label="c101")

    def forward(self, x):
        return self.cell(x)


@model_wrapper
class Built(nn.Module):
    def __init__(self):
        super().__init__()
        depth = ModelParameterChoice([1, 2], label="layers")
        self.layers = nn.Sequential(*[nn.Linear(4, 4) for _ in range(depth)])

    def forward(self, x):
        return self.layers(x)


@model_wrapper
class Continuous(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(uniform("rate", 0.0, 0.5))

    def forward(self, x):
        return self.drop(x)


class Widen(Mutator):
    def mutate(self, model):
        model.fc = nn.Linear(4, self.choice([2, 3]))


def test_what_cannot_be_mixed_is_refused_with_the_label_and_the_module():
    with pytest.raises(SpaceError) as info:
        Supernet(TooManyCopies)
    message = info.value.message
    assert "TooManyCopies.unit" in message and "Gate" in message
    assert "'features'" in message and "'scale'" in message and "72" in message
    assert "Conv1d/2d/3d" in message  # what is supported instead
    with pytest.raises(SpaceError, match=r"BadGroups\.conv \(Conv1d\) cannot be built with "
                                         r"\(4, 6, 3, groups=4\)"):
        Supernet(BadGroups)
    with pytest.raises(SpaceError, match="custom Mutators"):
        Supernet(Zoo, mutators=[Widen()])
    with pytest.raises(SpaceError, match=r"Bench101\.cell \(NasBench101Cell 'c101'\) decides "
                                         r"its own structure.*multi-trial strategy"):
        Supernet(Bench101)
    with pytest.raises(SpaceError, match=r"one-shot: layers shapes the model while it is built "
                                         r"\(a ModelParameterChoice"):
        Supernet(Built)
    with pytest.raises(SpaceError, match="one-shot: rate takes continuous values"):
        Supernet(Continuous)


def test_a_shape_no_mixed_module_sees_is_caught_on_real_inputs():
    net = Supernet(LooseWidth)
    x = torch.randn(3, 4)
    net.check_exact(x, archs=[{"cell/op_1_0": 0, "cell/input_1_0": [0], "cell/op_2_0": 1,
                               "cell/input_2_0": [0]}])  # both nodes loose ends: exact
    with pytest.raises(SpaceError, match=r"does not compute what freeze\(\) builds for .*"
                                         r"RuntimeError.*loose-end Cell"):
        net.check_exact(x, archs=[{"cell/op_1_0": 0, "cell/input_1_0": [0], "cell/op_2_0": 1,
                                   "cell/input_2_0": [1]}])
