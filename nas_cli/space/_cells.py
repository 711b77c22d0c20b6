"""Ready-made cells of NNI's API: NAS-Bench-101's and NAS-Bench-201's cells, and
AutoActivation (Ramachandran et al., "Searching for Activation Functions").

Labels follow NNI 2.x: `{label}/{j}_{i}` (201), `{label}/num_nodes`, `{label}/op{i}`,
`{label}/input{i}` (101), `{label}__unary_{i}`, `{label}__binary_{i}` (AutoActivation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import torch
from torch import nn

from nas_cli.errors import SpaceError
from nas_cli.space._context import FinalLabel, auto_label, current_fixed, current_record
from nas_cli.space._mutables import InputChoice, LayerChoice, _Mutable, _named
from nas_cli.space._value import ValueChoice


def _keyed(candidates: Any) -> dict[str, Any]:
    """A list of candidates keyed "0", "1", ... as NNI keys them; a dict as it is."""
    names, items = _named(candidates)
    return {str(name): item for name, item in zip(names, items)}


# --------------------------------------------------------------------------- NAS-Bench-201
class NasBench201Cell(nn.Module):
    """NAS-Bench-201's cell: `num_tensors` nodes, node 0 the input; every earlier node `j`
    feeds node `i` through its own op, a LayerChoice labelled `{label}/{j}_{i}` among
    `op_candidates` (factories `f(in_features, out_features)`); a node sums its inputs and the
    cell returns the last node. `len(op_candidates) ** (n * (n - 1) / 2)` architectures."""

    def __init__(self, op_candidates: Sequence[Callable[[int, int], nn.Module]]
                 | dict[str, Callable[[int, int], nn.Module]],
                 in_features: int, out_features: int, num_tensors: int = 4,
                 label: str | None = None):
        super().__init__()
        self.label = auto_label("nb201cell", label)
        factories = _keyed(op_candidates)
        if not factories:
            raise SpaceError(f"NasBench201Cell '{self.label}': needs at least one op candidate")
        self.in_features, self.out_features, self.num_tensors = in_features, out_features, num_tensors
        self.layers = nn.ModuleList()
        for i in range(1, num_tensors):
            edges = nn.ModuleList()
            for j in range(i):
                width = in_features if j == 0 else out_features
                edges.append(LayerChoice({k: f(width, out_features) for k, f in factories.items()},
                                         label=FinalLabel(f"{self.label}/{j}_{i}")))
            self.layers.append(edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[Any] = [x]  # tensors (sum() starts from 0)
        for edges in self.layers:
            nodes.append(sum(op(nodes[j]) for j, op in enumerate(cast(nn.ModuleList, edges))))
        return nodes[-1]


# --------------------------------------------------------------------------- NAS-Bench-101
class NasBench101Cell(_Mutable):
    """NAS-Bench-101's cell: a DAG of at most `max_num_nodes` nodes (input and output
    included) and at most `max_num_edges` edges. Decisions: `{label}/num_nodes` (2 ..
    max_num_nodes, NNI's prior favouring more nodes), `{label}/op{i}` for each inner node (keys
    of `op_candidates`, factories `f(num_features)`), `{label}/input{i}` (any non-empty subset of
    the earlier nodes). Frozen, nodes that do not reach the output are pruned and channels are
    split as in the benchmark; `projection(in_features, out_features)` adapts the input where it
    feeds a node.
    """

    max_num_nodes: int
    max_num_edges: int
    num_nodes: ValueChoice
    projections: nn.ModuleList
    ops: nn.ModuleList      # per node: nn.Identity (node 0), then a LayerChoice
    inputs: nn.ModuleList   # per node: nn.Identity (node 0), then an InputChoice

    def input_choices(self) -> list[InputChoice]:
        """The InputChoice of each node after the first."""
        return [cast(InputChoice, choice) for choice in self.inputs[1:]]

    @classmethod
    def _create(cls, op_candidates: Sequence[Callable[[int], nn.Module]]
                | dict[str, Callable[[int], nn.Module]], in_features: int, out_features: int,
                projection: Callable[[int, int], nn.Module], max_num_nodes: int = 7,
                max_num_edges: int = 9, label: str | None = None):
        label = auto_label("nb101cell", label)
        factories = _keyed(op_candidates)
        if not factories or max_num_nodes < 2 or max_num_edges < 1:
            raise SpaceError(f"NasBench101Cell '{label}': needs op candidates, max_num_nodes >= 2 "
                             "and max_num_edges >= 1")
        fixed = current_fixed()
        if fixed is not None:
            return _frozen_nb101(label, factories, in_features, out_features, projection,
                                 max_num_nodes, fixed)
        weights = [2 ** n for n in range(2, max_num_nodes + 1)]
        self = cls._instance(label=label, max_num_nodes=max_num_nodes, max_num_edges=max_num_edges)
        self.num_nodes = ValueChoice(list(range(2, max_num_nodes + 1)), prior=weights,
                                     label=FinalLabel(f"{label}/num_nodes"))
        self.projections = nn.ModuleList(
            [nn.Identity()] + [projection(in_features, out_features) for _ in range(1, max_num_nodes)])
        self.ops = nn.ModuleList([nn.Identity()] + [
            LayerChoice({k: f(out_features) for k, f in factories.items()},
                        label=FinalLabel(f"{label}/op{i}")) for i in range(1, max_num_nodes - 1)])
        self.inputs = nn.ModuleList([nn.Identity()] + [
            InputChoice(i, None, label=FinalLabel(f"{label}/input{i}"))
            for i in range(1, max_num_nodes)])
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for i in range(1, self.max_num_nodes):
            merged = self.inputs[i]([self.projections[i](x)] + nodes[1:])
            nodes.append(self.ops[i](merged) if i < self.max_num_nodes - 1 else merged)
        return nodes[-1]


def _frozen_nb101(label: str, factories: dict[str, Callable[[int], nn.Module]], in_features: int,
                  out_features: int, projection: Callable[[int, int], nn.Module],
                  max_num_nodes: int, fixed: dict[str, Any]) -> FixedNasBench101Cell:
    num_nodes = fixed.get(f"{label}/num_nodes", 2)
    if not (isinstance(num_nodes, int) and 2 <= num_nodes <= max_num_nodes):
        raise SpaceError(f"label '{label}/num_nodes': {num_nodes!r} is not in 2..{max_num_nodes}")
    keys = [fixed.get(f"{label}/op{i}", next(iter(factories))) for i in range(1, num_nodes - 1)]
    inputs = []
    for i in range(1, num_nodes):
        chosen = fixed.get(f"{label}/input{i}", [i - 1])
        inputs.append([chosen] if isinstance(chosen, int) else sorted(chosen))
    return FixedNasBench101Cell([factories[str(k)] for k in keys], inputs, in_features,
                                out_features, projection)


class FixedNasBench101Cell(nn.Module):
    """A frozen NAS-Bench-101 cell: `inputs[i - 1]` lists the nodes feeding node `i` (the last
    node is the output); `operations` builds each inner node from its channel count."""

    def __init__(self, operations: Sequence[Callable[[int], nn.Module]], inputs: Sequence[Sequence[int]],
                 in_features: int, out_features: int, projection: Callable[[int, int], nn.Module]):
        super().__init__()
        count = len(inputs) + 1
        edges = {(src, dst) for dst, sources in enumerate(inputs, 1) for src in sources}
        keep = _on_a_path(edges, count)
        renumber = {old: new for new, old in enumerate(keep)}
        self.edges = sorted((renumber[s], renumber[d]) for s, d in edges if s in renumber and d in renumber)
        self.num_nodes = len(keep)
        ops = [operations[old - 1] for old in keep[1:-1]]
        self.channels = node_channels(in_features, out_features, set(self.edges), self.num_nodes)
        self.projections = nn.ModuleList([nn.Identity()] + [
            projection(in_features, self.channels[i]) for i in range(1, self.num_nodes)])
        self.ops = nn.ModuleList([nn.Identity()] + [
            make(self.channels[i]) for i, make in enumerate(ops, 1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = self.num_nodes - 1
        into = {node: [s for s, d in self.edges if d == node] for node in range(1, self.num_nodes)}
        nodes = [x]
        for node in range(1, last):
            parts = [nodes[s][:, : self.channels[node]] for s in into[node] if s != 0]
            if 0 in into[node]:
                parts.append(self.projections[node](x))
            nodes.append(self.ops[node](sum(parts[1:], parts[0])))
        if len(into[last]) == 1:
            source = into[last][0]
            return self.projections[last](x) if source == 0 else nodes[source]
        out = torch.cat([nodes[s] for s in into[last] if s != 0], 1)
        return out + self.projections[last](x) if 0 in into[last] else out


def _on_a_path(edges: set[tuple[int, int]], count: int) -> list[int]:
    """The nodes on some path from node 0 to node count - 1, in order."""
    def reach(start: int, step: Callable[[int], Iterable[int]]) -> set[int]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in step(todo.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    forward = reach(0, lambda n: (d for s, d in edges if s == n))
    backward = reach(count - 1, lambda n: (s for s, d in edges if d == n))
    return sorted(forward & backward)


def node_channels(in_features: int, out_features: int, edges: set[tuple[int, int]],
                  count: int) -> list[int]:
    """Channels of each node, as NAS-Bench-101 splits them: the output's channels are shared
    (the first ones one more) among the inner nodes feeding it; another inner node takes the
    most of the inner nodes it feeds; the input keeps `in_features`."""
    channels = [in_features] + [0] * (count - 2) + [out_features]
    if count == 2:
        return channels
    last = count - 1
    feeding = [n for n in range(1, last) if (n, last) in edges]
    share, extra = divmod(out_features, len(feeding))
    for rank, node in enumerate(feeding):
        channels[node] = share + (1 if rank < extra else 0)
    for node in range(last - 2, 0, -1):
        if (node, last) not in edges:
            channels[node] = max(channels[d] for d in range(node + 1, last) if (node, d) in edges)
    return channels


# --------------------------------------------------------------------------- AutoActivation
def _beta() -> nn.Parameter:
    return nn.Parameter(torch.tensor(1.0))


UNARY: dict[str, tuple[Callable[..., torch.Tensor], bool]] = {  # name: (function, learns beta)
    "identity": (lambda x: x, False),
    "negative": (lambda x: -x, False),
    "abs": (torch.abs, False),
    "square": (torch.square, False),
    "cube": (lambda x: x ** 3, False),
    "sqrt": (torch.sqrt, False),
    "mul": (lambda x, b: x * b, True),
    "add": (lambda x, b: x + b, True),
    "log_abs": (lambda x: torch.log(torch.abs(x) + 1e-7), False),
    "exp": (torch.exp, False),
    "sin": (torch.sin, False),
    "cos": (torch.cos, False),
    "sinh": (torch.sinh, False),
    "cosh": (torch.cosh, False),
    "tanh": (torch.tanh, False),
    "atan": (torch.atan, False),
    "max0": (lambda x: torch.clamp(x, min=0), False),
    "min0": (lambda x: torch.clamp(x, max=0), False),
    "sigmoid": (torch.sigmoid, False),
    "log1p_exp": (lambda x: torch.log(1 + torch.exp(x)), False),
    "exp_neg_square": (lambda x: torch.exp(-torch.square(x)), False),
    "erf": (torch.erf, False),
}
BINARY: dict[str, tuple[Callable[..., torch.Tensor], bool]] = {
    "add": (lambda a, b: a + b, False),
    "mul": (lambda a, b: a * b, False),
    "minus": (lambda a, b: a - b, False),
    "divide": (lambda a, b: a / (b + 1e-7), False),
    "max": (torch.maximum, False),
    "min": (torch.minimum, False),
    "sigmoid_gate": (lambda a, b: torch.sigmoid(a) * b, False),
    "exp_neg_square_diff": (lambda a, b, beta: torch.exp(-beta * torch.square(a - b)), True),
    "exp_neg_abs_diff": (lambda a, b, beta: torch.exp(-beta * torch.abs(a - b)), True),
    "weighted_add": (lambda a, b, beta: beta * a + (1 - beta) * b, True),
}


class Elementwise(nn.Module):
    """One function of AutoActivation's sets, by name: unary on a tensor, binary on a stack of
    two; some learn a scalar `beta`."""

    def __init__(self, kind: str, binary: bool = False):
        super().__init__()
        self.kind, self.binary = kind, binary
        if (BINARY if binary else UNARY)[kind][1]:
            self.beta = _beta()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        function, learns = (BINARY if self.binary else UNARY)[self.kind]
        args = (x[0], x[1]) if self.binary else (x,)
        return function(*args, self.beta) if learns else function(*args)

    def extra_repr(self) -> str:
        return self.kind


class AutoActivation(nn.Module):
    """A searched activation function: `unary_0(x)`, then `unit_num` times
    `binary_i(out, unary_{i+1}(x))`. Candidates are NNI 2.x's 22 unary and 10 binary functions
    (recorded by index), or the names given in `unary_candidates` / `binary_candidates`
    (recorded by name; see `UNARY`, `BINARY`). NNI 3.0's labels `{label}/unary_0` are accepted
    for ours `{label}__unary_0`."""

    def __init__(self, unit_num: int = 1, unary_candidates: Sequence[str] | None = None,
                 binary_candidates: Sequence[str] | None = None, *, label: str | None = None):
        super().__init__()
        self.label = auto_label("autoactivation", label)
        unary = self._candidates(False, unary_candidates)
        binary = self._candidates(True, binary_candidates)
        self.first_unary = LayerChoice(unary(), label=self._sub("unary", 0))
        self.unaries = nn.ModuleList([LayerChoice(unary(), label=self._sub("unary", i + 1))
                                      for i in range(unit_num)])
        self.binaries = nn.ModuleList([LayerChoice(binary(), label=self._sub("binary", i))
                                       for i in range(unit_num)])

    def _sub(self, kind: str, index: int) -> str:
        ours = FinalLabel(f"{self.label}__{kind}_{index}")
        record = current_record()
        if record is not None:  # NNI 3.0 writes `{label}/unary_0`
            record.aliases.setdefault(f"{self.label}/{kind}_{index}", []).append(ours)
        return ours

    def _candidates(self, binary: bool, names: Sequence[str] | None) -> Callable[[], Any]:
        known = BINARY if binary else UNARY
        if names is None:
            return lambda: [Elementwise(kind, binary) for kind in known]
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise SpaceError(f"AutoActivation '{self.label}': unknown {'binary' if binary else 'unary'}"
                             f" functions {unknown}; known: {', '.join(known)}")
        return lambda: {name: Elementwise(name, binary) for name in names}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.first_unary(x)
        for unary, binary in zip(self.unaries, self.binaries):
            out = binary(torch.stack([out, unary(x)]))
        return out
