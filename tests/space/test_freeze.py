"""Freezing: `freeze` and `with fixed_arch(...)` build a plain torch model equal to the one a
user would write by hand."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
import torch

import nas_cli.nn as nn
from nas_cli import fixed_arch, freeze, model_wrapper, search_space


@model_wrapper
class ConvNet(nn.Module):
    """conv (k3|k5, 4|8 channels) -> BN -> Repeat (0..2) conv blocks with their own kernel
    -> pool -> fc(hidden) -> fc(10)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        ch = nn.ValueChoice([4, 8], label="ch")
        hidden = nn.ValueChoice([16, 32], label="hidden")
        self.conv = nn.LayerChoice({"k3": nn.Conv2d(1, ch, 3, padding=1),
                                    "k5": nn.Conv2d(1, ch, 5, padding=2)}, label="conv")
        self.bn = nn.BatchNorm2d(ch)

        def block(i):
            k = nn.ValueChoice([1, 3], label=f"block{i}_kernel")
            return nn.Sequential(nn.Conv2d(ch, ch, k, padding=k // 2), nn.ReLU())

        self.blocks = nn.Repeat(block, (0, 2), label="depth")
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc1 = nn.Linear(ch * 4, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        x = self.pool(self.blocks(torch.relu(self.bn(self.conv(x)))))
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


class HandBuilt(torch.nn.Module):
    """The same network written with torch.nn only, for one architecture."""

    def __init__(self, arch: dict, num_classes: int = 10):
        super().__init__()
        ch, k = arch["ch"], 3 if arch["conv"] == "k3" else 5
        self.conv = torch.nn.Conv2d(1, ch, k, padding=k // 2)
        self.bn = torch.nn.BatchNorm2d(ch)
        kernels = [arch[f"block{i}_kernel"] for i in range(arch["depth"])]
        self.blocks = torch.nn.Sequential(*[
            torch.nn.Sequential(torch.nn.Conv2d(ch, ch, k, padding=k // 2), torch.nn.ReLU())
            for k in kernels
        ])
        self.pool = torch.nn.AdaptiveAvgPool2d(2)
        self.fc1 = torch.nn.Linear(ch * 4, arch["hidden"])
        self.fc2 = torch.nn.Linear(arch["hidden"], num_classes)


ARCHS = [
    {"ch": 4, "hidden": 16, "conv": "k3", "depth": 0},
    {"ch": 8, "hidden": 32, "conv": "k5", "depth": 1, "block0_kernel": 3},
    {"ch": 8, "hidden": 16, "conv": "k3", "depth": 2, "block0_kernel": 1, "block1_kernel": 3},
]


def shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_conv_net_space():
    space = search_space(ConvNet)
    assert space.size == 2 * 2 * 2 * (1 + 2 + 4)
    for arch in ARCHS:
        assert space.validate(arch) == arch


@pytest.mark.parametrize("arch", ARCHS)
def test_frozen_model_matches_the_hand_built_torch_model(arch, assert_frozen):
    model, reference = freeze(ConvNet, arch), HandBuilt(arch)
    assert_frozen(model)
    assert shapes(model) == shapes(reference)
    assert (sum(p.numel() for p in model.parameters())
            == sum(p.numel() for p in reference.parameters()))
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 10)


@pytest.mark.parametrize("arch", ARCHS)
def test_frozen_modules_are_plain_torch_classes(arch):
    model = freeze(ConvNet, arch)
    for module in model.modules():
        assert type(module).__module__.startswith("torch.") or module is model, type(module)
    assert type(model.fc1) is torch.nn.Linear and type(model.blocks) is torch.nn.Sequential


def test_state_dict_keys_are_stable_across_freezes():
    arch = ARCHS[2]
    first, second = freeze(ConvNet, arch), freeze(ConvNet, arch)
    assert list(first.state_dict()) == list(second.state_dict())
    second.load_state_dict(first.state_dict())  # a checkpoint of one loads into the other


def test_fixed_arch_builds_the_same_model_as_freeze():
    arch = ARCHS[1]
    torch.manual_seed(0)
    frozen = freeze(ConvNet, arch)
    torch.manual_seed(0)
    with fixed_arch(arch):
        fixed = ConvNet()
    assert repr(fixed) == repr(frozen)
    assert shapes(fixed) == shapes(frozen)
    assert all(torch.equal(a, b) for a, b in zip(fixed.state_dict().values(),
                                                 frozen.state_dict().values()))


def test_fixed_arch_reads_a_json_file(tmp_path):
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(ARCHS[2]))
    with fixed_arch(path):
        from_path = ConvNet()
    with fixed_arch(str(path)):
        from_str = ConvNet()
    assert shapes(from_path) == shapes(from_str) == shapes(freeze(ConvNet, ARCHS[2]))


def test_fixed_arch_passes_init_arguments_through():
    with fixed_arch(ARCHS[0]):
        model = ConvNet(3)
    assert model.fc2.out_features == 3
    assert freeze(ConvNet, ARCHS[0], num_classes=4).fc2.out_features == 4


def test_fixed_arch_is_undone_on_exit_even_after_an_error():
    with pytest.raises(RuntimeError), fixed_arch(ARCHS[0]):
        raise RuntimeError("boom")
    space_model = ConvNet()  # the whole space again
    assert isinstance(space_model.conv, nn.LayerChoice)


def test_freeze_takes_json_round_tripped_values():
    arch = json.loads(json.dumps({"ch": 8.0, "hidden": 32, "conv": "k5", "depth": 1,
                                  "block0_kernel": 3}))
    assert freeze(ConvNet, arch).conv.out_channels == 8


def test_frozen_model_pickles_and_deep_copies():
    model = freeze(ConvNet, ARCHS[2]).eval()
    x = torch.randn(2, 1, 8, 8)
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert torch.equal(clone(x), model(x))


def test_torch_modules_are_instances_of_the_nas_cli_twins():
    assert isinstance(torch.nn.Linear(2, 3), nn.Linear)
    assert isinstance(torch.nn.Conv2d(1, 2, 3), nn.Conv2d)
    assert not isinstance(torch.nn.Linear(2, 3), nn.Conv2d)
    assert issubclass(torch.nn.Linear, nn.Linear)
    assert type(nn.Linear(2, 3)) is torch.nn.Linear  # no choice: the genuine torch class
    with_choice = nn.Linear(2, nn.ValueChoice([3, 4], label="x"))
    assert isinstance(with_choice, torch.nn.Linear) and with_choice.out_features == 3


def test_weight_init_loops_over_nas_cli_types_work_on_frozen_models():
    model = freeze(ConvNet, ARCHS[1])
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 2
    for conv in convs:
        nn.init.zeros_(conv.weight)
    assert model.conv.weight.abs().sum() == 0
