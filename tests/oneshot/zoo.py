"""`Zoo`: one small model space with every mutable kind and every mixed operation, for the
supernet's exactness tests (inputs: (N, 2, 16) signals, 3 classes).

| what                           | labels                                      |
|--------------------------------|---------------------------------------------|
| Conv1d: out channels, kernel (padding derived), stride, bias | `width`, `kernel`, `stride`, `bias` |
| BatchNorm1d, depthwise Conv1d (groups = width)              | `width`                       |
| Conv2d: kernel (tuple, centre crop), dilation                | `k2`, `dilation`              |
| MaxPool1d kernel (no weights)                                | `pool`                        |
| Linear (derived in_features `width * 4`), LayerNorm, Dropout | `width`, `hidden`, `p`       |
| Repeat of one module (copies share labels), LayerChoice inside | `depth`, `blockop`         |
| Repeat of a factory, depth derived (`vc - 1`), @basic_unit with a ValueChoice (copies) | `stack`, `stack/{b}/scale` |
| LayerChoice with a ValueChoice inside one candidate            | `alt`, `inner`             |
| Cell (ops per input, 2 ops per node, loose ends, pre/postprocessor modules) | `cell/...`    |
| NasBench201Cell, AutoActivation (NNI's ready-made cells)       | `nb201/...`, `act__...`    |
| a ValueChoice kept as a module attribute, read in forward      | `gain`                     |
| InputChoice of any number of inputs, mean                      | `merge`                    |
| one module used twice                                          | `hidden`                   |

`TooManyCopies` cannot become a supernet (a @basic_unit with 72 argument sets), nor can
`LooseWidth` (its head is sized by how many loose ends its cell has). `TinyDigits` is a small
space for 8x8 digits whose supernet trains an epoch in a fraction of a second; `nan_digits` is
a dataset factory whose inputs are NaN (a supernet trained on it diverges at once).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

import nas_cli.nn as nn
from nas_cli import basic_unit, model_wrapper
from nas_cli.space import AutoActivation, NasBench201Cell


@basic_unit
class Gate(nn.Module):
    """A user's leaf module with a ValueChoice argument: its weights cannot be sliced."""

    def __init__(self, features: int, scale: float):
        super().__init__()
        self.fc = torch.nn.Linear(features, features)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc(x)) * self.scale


class Pre(nn.Module):
    """A cell preprocessor with weights: one linear map per input."""

    def __init__(self, width):
        super().__init__()
        self.fc = nn.ModuleList([nn.Linear(width, width) for _ in range(2)])

    def forward(self, inputs):
        return [fc(x) for fc, x in zip(self.fc, inputs)]


class Post(nn.Module):
    """A cell postprocessor: the merged nodes, scaled, then the first input."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.5))

    def forward(self, merged, inputs):
        return torch.cat([inputs[0], merged * self.scale], 1)


class Gain(nn.Module):
    """Reads a ValueChoice attribute in forward."""

    def __init__(self):
        super().__init__()
        self.gain = nn.ValueChoice([1.0, 2.0], label="gain")

    def forward(self, x):
        return x * self.gain


@model_wrapper
class Zoo(nn.Module):
    def __init__(self, classes: int = 3):
        super().__init__()
        width = nn.ValueChoice([4, 6], label="width")
        kernel = nn.ValueChoice([3, 5], label="kernel")
        hidden = nn.ValueChoice([8, 12], label="hidden")
        k2 = nn.ValueChoice([1, 3], label="k2")
        self.conv = nn.Conv1d(2, width, kernel, padding=kernel // 2,
                              stride=nn.ValueChoice([1, 2], label="stride"),
                              bias=nn.ValueChoice([True, False], label="bias"))
        self.bn = nn.BatchNorm1d(width)
        self.depthwise = nn.Conv1d(width, width, 3, padding=1, groups=width)
        self.pool = nn.MaxPool1d(nn.ValueChoice([1, 2], label="pool"))
        dilation = nn.ValueChoice([1, 2], label="dilation")
        self.conv2d = nn.Conv2d(1, 2, (k2, 3), padding=(k2 // 2 * dilation, dilation),
                                dilation=dilation)
        self.squash = nn.AdaptiveAvgPool1d(4)
        self.fc = nn.Linear(width * 4, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(nn.ValueChoice([0.0, 0.5], label="p"))
        self.blocks = nn.Repeat(
            nn.LayerChoice([nn.Linear(hidden, hidden), nn.Tanh()], label="blockop"), (1, 3),
            label="depth")
        self.stack = nn.Repeat(
            lambda b: Gate(hidden, nn.ValueChoice([0.5, 2.0], label=f"stack/{b}/scale")),
            nn.ValueChoice([1, 2, 3], label="stack") - 1)
        inner = nn.ValueChoice([2, 5], label="inner")
        self.alt = nn.LayerChoice({
            "plain": nn.Linear(hidden, hidden),
            "bottleneck": nn.Sequential(nn.Linear(hidden, inner), nn.ReLU(),
                                        nn.Linear(inner, hidden)),
        }, label="alt")
        self.cell = nn.Cell({"lin": lambda node, op, source: nn.Linear(hidden, hidden),
                             "tanh": nn.Tanh()},
                            num_nodes=2, num_ops_per_node=2, num_predecessors=2,
                            merge_op="loose_end", preprocessor=Pre(hidden),
                            postprocessor=Post(), label="cell")
        self.nb201 = NasBench201Cell({"lin": lambda i, o: nn.Linear(i, o),
                                      "skip": lambda i, o: nn.Identity()},
                                     hidden, hidden, num_tensors=3, label="nb201")
        self.act = AutoActivation(unary_candidates=["identity", "tanh", "mul"],
                                  binary_candidates=["add", "weighted_add"], label="act")
        self.gain = Gain()
        self.merge = nn.InputChoice(3, n_chosen=None, reduction="mean", label="merge")
        self.shared = nn.Linear(hidden, hidden)
        self.again = self.shared
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(F.relu(self.bn(self.conv(x))))
        y = self.depthwise(y)
        y = self.conv2d(y.unsqueeze(1)).mean(1)
        h = self.drop(F.relu(self.norm(self.fc(self.squash(y).flatten(1)))))
        h = self.stack(self.blocks(h))
        h = self.gain(self.act(self.nb201(h)))
        states = [h, self.alt(h)]
        c = self.cell(states)[:, h.shape[1]:]
        m = self.merge([h, states[1], c[:, : h.shape[1]]])
        return self.head(self.again(torch.relu(self.shared(m))))


@model_wrapper
class TooManyCopies(nn.Module):
    def __init__(self):
        super().__init__()
        self.unit = Gate(nn.ValueChoice(list(range(1, 10)), label="features"),
                         nn.ValueChoice([0.5 * i for i in range(1, 9)], label="scale"))

    def forward(self, x):
        return self.unit(x)


@model_wrapper
class LooseWidth(nn.Module):
    """A loose-end cell whose output width sizes the next layer when the space is built: the
    frozen model's next layer is narrower than the supernet's (not a mixed operation)."""

    def __init__(self):
        super().__init__()
        self.cell = nn.Cell([nn.Linear(4, 4), nn.Tanh()], num_nodes=2, num_predecessors=1,
                            merge_op="loose_end", label="cell")
        self.head = nn.Linear(4 * len(self.cell.output_node_indices), 2)

    def forward(self, x):
        return self.head(self.cell(x))


@model_wrapper
class TinyDigits(nn.Module):
    """A small space for 1x8x8 digits (fast epochs): conv 3x3 | 5x5 with 4 | 8 channels, batch
    norm, a linear head."""

    def __init__(self):
        super().__init__()
        channels = nn.ValueChoice([4, 8], label="channels")
        self.conv = nn.LayerChoice({"k3": nn.Conv2d(1, channels, 3, padding=1),
                                    "k5": nn.Conv2d(1, channels, 5, padding=2)}, label="conv")
        self.bn = nn.BatchNorm2d(channels)
        self.head = nn.Linear(channels * 64, 10)

    def forward(self, x):
        return self.head(torch.relu(self.bn(self.conv(x))).flatten(1))


def nan_digits():
    """(train, val) of 8x8 "images" that are all NaN."""
    x = torch.full((64, 1, 8, 8), float("nan"))
    y = torch.arange(64) % 10
    return TensorDataset(x, y), TensorDataset(x[:16], y[:16])



class Only(nn.Module):
    """Keeps one feature, zeroes the others."""

    def __init__(self, feature: int):
        super().__init__()
        self.feature = feature

    def forward(self, x):
        mask = torch.zeros_like(x[:1])
        mask[:, self.feature] = 1.0
        return x * mask


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


def toy_ops() -> dict:
    return {"zero": Zero(), "keep": nn.Identity(), "shift": Only(2)}


@model_wrapper
class Toy(nn.Module):
    """A task one candidate of each decision solves: the label (4 classes) is the signs of the
    first two features. The first reaches the head only through `op: keep`, the second only
    through `input: [0]`; each decision adds its half of the accuracy. `width` (a ValueChoice
    argument) only sizes a hidden layer."""

    def __init__(self):
        super().__init__()
        self.op = nn.LayerChoice(toy_ops(), label="op")
        self.input = nn.InputChoice(2, 1, label="input")
        width = nn.ValueChoice([4, 8], label="width")
        self.hidden = nn.Linear(16, width)
        self.head = nn.Linear(width, 4)

    def forward(self, x):
        a = Only(0)(self.op(x))
        b = self.input([Only(1)(x), Zero()(x)])
        return self.head(torch.relu(self.hidden(torch.cat([a, b], 1))))


@model_wrapper
class ToyLayers(nn.Module):
    """The toy without ValueChoice arguments (what ProxylessNAS can search)."""

    def __init__(self):
        super().__init__()
        self.op = nn.LayerChoice(toy_ops(), label="op")
        self.input = nn.InputChoice(2, 1, label="input")
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        a = Only(0)(self.op(x))
        b = self.input([Only(1)(x), Zero()(x)])
        return self.head(torch.cat([a, b], 1))


def toy_data():
    """(train, val): 512 and 256 samples of 8 Gaussian features; the label is 2 * (second
    feature > 0) + (first feature > 0)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(768, 8, generator=gen)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    return TensorDataset(x[:512], y[:512]), TensorDataset(x[512:], y[512:])


@model_wrapper
class Kinds(nn.Module):
    """Every mutable kind in a form every method can weigh: ValueChoice arguments (`width`,
    `kernel`; off with `value_args=False`, for ProxylessNAS), a Repeat of LayerChoices (nested
    decisions), a Cell merging all its nodes, an InputChoice of 2 of 3 inputs."""

    def __init__(self, value_args: bool = True):
        super().__init__()
        width = nn.ValueChoice([4, 6], label="width") if value_args else 6
        kernel = nn.ValueChoice([3, 5], label="kernel") if value_args else 3
        self.conv = nn.Conv1d(2, width, kernel, padding=kernel // 2)
        self.bn = nn.BatchNorm1d(width)
        self.blocks = nn.Repeat(lambda b: nn.LayerChoice({
            "conv": nn.Conv1d(width, width, 3, padding=1), "pool": nn.MaxPool1d(3, 1, 1),
            "skip": nn.Identity()}, label=f"block{b}"), (1, 3), label="depth")
        self.cell = nn.Cell({"conv": lambda node, op, source: nn.Conv1d(width, width, 1),
                             "tanh": nn.Tanh()}, num_nodes=2, num_ops_per_node=2,
                            num_predecessors=2, merge_op="all", label="cell")
        self.pick = nn.InputChoice(3, n_chosen=2, reduction="sum", label="pick")
        self.head = nn.Linear(width, 3)

    def forward(self, x):
        y = self.blocks(torch.relu(self.bn(self.conv(x))))
        c = self.cell([y, y * 0.5])
        h = self.pick([y, c[:, : y.shape[1]], c[:, y.shape[1]:]])
        return self.head(h.mean(-1))
