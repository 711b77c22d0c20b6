"""The example spaces in search_spaces/: their exact sizes and labels, and sampled architectures
that freeze to plain models producing (N, 10) logits."""

from __future__ import annotations

import math
import random

import pytest
import torch

from nas_cli import fixed_arch, freeze, search_space

EXAMPLES = {
    # name: (class, input shape, size, labels)
    "digits": ("DigitsNet", (1, 8, 8), 2 * 3 * 2 * 3 * 2,
               ["conv1", "channels", "conv2", "hidden", "dropout"]),
    "mnist": ("MnistNet", (1, 28, 28), 2 * 3 * 3, ["conv2", "dropout", "hidden"]),
    "nb201": ("NB201Net", (1, 8, 8), 15_625, ["1_0", "2_0", "2_1", "3_0", "3_1", "3_2"]),
    "darts": ("DartsNet", (1, 8, 8), 302_330_880,
              [f"node{i}/{what}" for i in range(4) for what in ("inputs", "op0", "op1")]),
    "mobilenet": ("MobileNetSpace", (1, 8, 8), 13_440,
                  ["stem_width", "s1_depth", "s1_width", "s1_b0_expand", "s1_b0_kernel",
                   "s1_b1_expand", "s1_b1_kernel", "s2_depth", "s2_width", "s2_b0_expand",
                   "s2_b0_kernel", "s2_b1_expand", "s2_b1_kernel", "s2_b2_expand",
                   "s2_b2_kernel"]),
}


def space_class(example, name):
    return getattr(example(name), EXAMPLES[name][0])


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_space_size_and_labels(example, name):
    _, _, size, labels = EXAMPLES[name]
    space = search_space(space_class(example, name))
    assert space.size == size
    assert list(space.decisions) == labels


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_module_docstring_states_the_size(example, name):
    doc = example(name).__doc__
    assert f"{EXAMPLES[name][2]:,}" in doc or str(EXAMPLES[name][2]) in doc
    for label in EXAMPLES[name][3][:3]:
        assert label.split("/")[-1].split("_b")[0] in doc


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_sampled_archs_freeze_and_give_logits(example, name, assert_frozen):
    cls, shape = space_class(example, name), EXAMPLES[name][1]
    space = search_space(cls)
    rng = random.Random(name)
    batch = torch.randn(3, *shape)
    for _ in range(5):
        arch = space.sample(rng)
        model = freeze(cls, arch)
        assert_frozen(model)
        model.eval()
        with torch.no_grad():
            logits = model(batch)
        assert logits.shape == (3, 10) and torch.isfinite(logits).all(), arch


@pytest.mark.parametrize("name", ["digits", "darts", "mobilenet"])
def test_example_fixed_arch_matches_freeze(example, name):
    cls = space_class(example, name)
    arch = search_space(cls).decode(12345 % search_space(cls).size)
    with fixed_arch(arch):
        built = cls()
    assert repr(built) == repr(freeze(cls, arch))


def test_example_space_modules_run_unfrozen(example):
    for name, (_, shape, _, _) in EXAMPLES.items():
        model = space_class(example, name)().eval()
        assert model(torch.randn(2, *shape)).shape == (2, 10), name


# --------------------------------------------------------------------------- digits
def digits_reference(arch: dict) -> torch.nn.Module:
    """DigitsNet for one architecture, written with torch.nn only (same attribute names)."""
    ch, hidden = arch["channels"], arch["hidden"]
    k = 3 if arch["conv1"] == "conv3x3" else 5
    ref = torch.nn.Module()
    ref.conv1 = torch.nn.Conv2d(1, ch, k, padding=k // 2)
    ref.bn1 = torch.nn.BatchNorm2d(ch)
    ref.conv2 = (torch.nn.Identity() if arch["conv2"] == "skip" else torch.nn.Sequential(
        torch.nn.Conv2d(ch, ch, 3, padding=1), torch.nn.BatchNorm2d(ch), torch.nn.ReLU()))
    ref.fc1 = torch.nn.Linear(ch * 64, hidden)
    ref.norm = torch.nn.LayerNorm(hidden)
    ref.dropout = torch.nn.Dropout(arch["dropout"])
    ref.fc2 = torch.nn.Linear(hidden, 10)
    return ref


@pytest.mark.parametrize("arch", [
    {"conv1": "conv3x3", "channels": 8, "conv2": "skip", "hidden": 64, "dropout": 0.0},
    {"conv1": "conv5x5", "channels": 32, "conv2": "conv3x3", "hidden": 256, "dropout": 0.25},
    {"conv1": "conv5x5", "channels": 16, "conv2": "skip", "hidden": 128, "dropout": 0.25},
])
def test_digits_matches_a_hand_built_torch_model(example, arch):
    model, ref = freeze(example("digits").DigitsNet, arch), digits_reference(arch)
    assert ({k: v.shape for k, v in model.state_dict().items()}
            == {k: v.shape for k, v in ref.state_dict().items()})
    assert model.dropout.p == arch["dropout"]


def test_digits_trains_to_95_percent_in_3_epochs(example):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = torch.tensor(data.images / 16.0, dtype=torch.float32)[:, None]
    y = torch.tensor(data.target)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, stratify=y,
                                                      random_state=0)
    torch.manual_seed(0)
    arch = {"conv1": "conv3x3", "channels": 8, "conv2": "skip", "hidden": 64, "dropout": 0.25}
    model = freeze(example("digits").DigitsNet, arch)  # the smallest: the slowest to learn
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what a trial gets; faster than 2 contended threads here
    try:
        for _ in range(3):
            model.train()
            for idx in torch.randperm(len(x_train)).split(64):
                loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_val).argmax(1) == y_val).float().mean().item()
    assert accuracy >= 0.95


# --------------------------------------------------------------------------- mnist
@pytest.mark.parametrize("conv2,hidden,params", [
    # conv1 320 + conv2 18,496 (or dw 320 + pw 2,112) + fc1 9216*h + h + fc2 10*h + 10
    ("conv3x3", 128, 320 + 18_496 + 9216 * 128 + 128 + 1290),
    ("depthwise_separable", 64, 320 + 320 + 2_112 + 9216 * 64 + 64 + 650),
])
def test_mnist_param_counts_match_the_nni_tutorial(example, conv2, hidden, params):
    model = freeze(example("mnist").MnistNet, {"conv2": conv2, "dropout": 0.5, "hidden": hidden})
    assert sum(p.numel() for p in model.parameters()) == params
    assert model.fc1.out_features == model.fc2.in_features == hidden
    assert model.dropout1.p == 0.5


# --------------------------------------------------------------------------- nb201
def test_nb201_every_edge_is_one_of_five_ops_shared_by_all_cells(example):
    module = example("nb201")
    space = search_space(module.NB201Net)
    for decision in space.decisions.values():
        assert decision.kind == "layer" and decision.candidates == list(module.OP_NAMES)
    arch = {"1_0": "conv_3x3", "2_0": "skip_connect", "2_1": "conv_1x1", "3_0": "none",
            "3_1": "avg_pool_3x3", "3_2": "conv_3x3"}
    model = freeze(module.NB201Net, arch, num_cells=2)
    cells = [m for m in model.modules() if isinstance(m, module.NB201Cell)]
    assert len(cells) == 4
    for cell in cells:
        assert isinstance(cell.edges["3_0"], module.Zero)
        assert isinstance(cell.edges["2_0"], torch.nn.Identity)
        assert cell.edges["1_0"][1].kernel_size == (3, 3)
    assert search_space(module.NB201Net, {"num_cells": 2}).size == 5**6


def test_nb201_all_none_still_gives_logits(example):
    module = example("nb201")
    arch = {label: "none" for label in EXAMPLES["nb201"][3]}
    assert freeze(module.NB201Net, arch)(torch.randn(2, 1, 8, 8)).shape == (2, 10)


# --------------------------------------------------------------------------- darts
@pytest.mark.parametrize("num_nodes", [2, 3, 4])
def test_darts_size_for_each_number_of_nodes(example, num_nodes):
    space = search_space(example("darts").DartsNet, {"num_nodes": num_nodes})
    expected = math.prod(math.comb(i + 2, 2) * 6**2 for i in range(num_nodes))
    assert space.size == expected
    assert space.decisions[f"node{num_nodes - 1}/inputs"].n_chosen == 2


def test_darts_cells_share_one_genotype(example):
    module = example("darts")
    space = search_space(module.DartsNet, {"num_cells": 3})
    assert space.size == EXAMPLES["darts"][2]
    arch = {"node0/inputs": [0, 1], "node0/op0": "sep_conv_3x3", "node0/op1": "skip_connect",
            "node1/inputs": [1, 2], "node1/op0": "max_pool_3x3", "node1/op1": "none",
            "node2/inputs": [0, 3], "node2/op0": "dil_conv_3x3", "node2/op1": "avg_pool_3x3",
            "node3/inputs": [2, 4], "node3/op0": "none", "node3/op1": "sep_conv_3x3"}
    model = freeze(module.DartsNet, arch, num_cells=3)
    assert len(model.cells) == 3
    for cell in model.cells:
        assert [node.inputs.chosen for node in cell.nodes] == [[0, 1], [1, 2], [0, 3], [2, 4]]
        assert isinstance(cell.nodes[1].op1, module.Zero)
        assert cell.nodes[2].op0[1].dilation == (2, 2)
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


# --------------------------------------------------------------------------- mobilenet
def test_mobilenet_depths_and_per_block_choices(example):
    module = example("mobilenet")
    arch = {"stem_width": 16, "s1_depth": 2, "s1_width": 16,
            "s1_b0_expand": 3, "s1_b0_kernel": 5, "s1_b1_expand": 6, "s1_b1_kernel": 3,
            "s2_depth": 3, "s2_width": 32, "s2_b0_expand": 6, "s2_b0_kernel": 3,
            "s2_b1_expand": 3, "s2_b1_kernel": 5, "s2_b2_expand": 3, "s2_b2_kernel": 3}
    model = freeze(module.MobileNetSpace, arch)
    assert len(model.stage1) == 2 and len(model.stage2) == 3
    first = model.stage1[0]
    assert first.use_residual  # 16 -> 16, stride 1
    assert first.block[0].out_channels == 16 * 3 and first.block[3].kernel_size == (5, 5)
    assert not model.stage2[0].use_residual and model.stage2[0].block[3].stride == (2, 2)
    assert model.stage2[1].block[3].kernel_size == (5, 5)
    assert model.head[0].in_channels == 32


def test_mobilenet_inactive_block_labels_are_not_required(example):
    module = example("mobilenet")
    arch = {"stem_width": 8, "s1_depth": 1, "s1_width": 24, "s1_b0_expand": 6,
            "s1_b0_kernel": 3, "s2_depth": 1, "s2_width": 24, "s2_b0_expand": 3,
            "s2_b0_kernel": 5}
    model = freeze(module.MobileNetSpace, arch)
    assert len(model.stage1) == len(model.stage2) == 1
    assert not model.stage1[0].use_residual  # 8 -> 24
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)
