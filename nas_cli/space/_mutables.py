"""The mutable modules: LayerChoice, InputChoice, Repeat, Cell.

Each one, built under `fixed_arch`, returns its chosen form instead of itself (the chosen
candidate, a fixed input selection, an `nn.Sequential`, a fixed cell), so a frozen model holds
no mutable. Built without one, it keeps every candidate and runs the first (shape checks work).
"""

from __future__ import annotations

import copy
import inspect
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import torch
from torch import nn

from nas_cli.errors import SpaceError
from nas_cli.space._context import (
    FinalLabel,
    auto_label,
    current_fixed,
    label_scope,
    same_nni_labels,
)
from nas_cli.space._value import ValueChoiceX, arch_values, normalized_prior, same_value

REDUCTIONS = ("sum", "mean", "concat", "none")
MUTABLES = "_nas_mutables"  # where MutableModule.add_mutable keeps its choices


def _chosen(label: str, default: Any) -> Any:
    """The fixed architecture's value for `label`, or `default` where the label is inactive."""
    fixed = current_fixed()
    return fixed.get(label, default) if fixed is not None else default


def _named(candidates: Any) -> tuple[list[Any], list[Any]]:
    """(names, items) of a dict (its keys) or a list (its indices) of candidates."""
    if isinstance(candidates, dict):
        return [str(k) for k in candidates], list(candidates.values())
    items = list(candidates)
    return list(range(len(items))), items


class MutableModule(nn.Module):
    """A module holding decisions that are not init arguments of a module (NNI 3.0's
    MutableModule): `self.add_mutable(nas_cli.mutable.choice("t", [4, 8]))` registers one,
    usually read with `ensure_frozen`. Base of the mutables."""

    def add_mutable(self, mutable: Any) -> Any:
        """Register `mutable` (a choice, or a module holding some) with this module."""
        if isinstance(mutable, nn.Module):
            return mutable  # a module is found as a child
        if not isinstance(mutable, ValueChoiceX):
            return mutable  # frozen: already a plain value
        self.__dict__.setdefault(MUTABLES, []).append(mutable)
        return mutable

    @property
    def mutables(self) -> list[Any]:
        """The choices registered with `add_mutable`."""
        return list(self.__dict__.get(MUTABLES, []))


def is_mutable_module(module: nn.Module) -> bool:
    """A module that decides its own structure: a mutable (LayerChoice, InputChoice, Repeat,
    Cell, a NAS-Bench cell) or a MutableModule holding choices it added with `add_mutable`."""
    return isinstance(module, _Mutable) or bool(module.__dict__.get(MUTABLES))


class _Mutable(MutableModule):
    """Base of the mutable modules. `__new__` returns the chosen form under `fixed_arch`."""

    label: str

    def __new__(cls, *args: Any, **kwargs: Any):
        if not args and not kwargs:  # copy.deepcopy / pickle
            return super().__new__(cls)
        return cls._create(*args, **kwargs)

    @classmethod
    def _create(cls, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def _instance(cls, **attrs: Any) -> Any:
        self = super().__new__(cls)
        nn.Module.__init__(self)
        for name, value in attrs.items():
            setattr(self, name, value)
        return self

    def __init__(self, *args: Any, **kwargs: Any):  # everything happens in _create
        pass


# --------------------------------------------------------------------------- LayerChoice
class LayerChoice(_Mutable):
    """One of several candidate modules: `LayerChoice([conv3, conv5], label="conv")`.

    The architecture records the index (list) or the key (dict) of the chosen candidate.
    """

    prior: list[float] | None = None
    names: list[Any]          # list indices or dict keys, in order

    @classmethod
    def _create(cls, candidates: Sequence[nn.Module] | dict[str, nn.Module], *,
                prior: Sequence[float] | None = None, weights: Sequence[float] | None = None,
                label: str | None = None):
        label = auto_label("layerchoice", label)
        names, modules = _named(candidates)
        if not modules:
            raise SpaceError(f"LayerChoice '{label}': needs at least one candidate")
        for name, module in zip(names, modules):
            if not isinstance(module, nn.Module):
                raise SpaceError(
                    f"LayerChoice '{label}': candidate {name!r} is a {type(module).__name__}, "
                    "not a torch module"
                )
        fixed = current_fixed()
        if fixed is not None:
            chosen = fixed.get(label, names[0])
            if chosen not in names:
                raise SpaceError(f"label '{label}': {chosen!r} is not a candidate (candidates: {names})")
            return modules[names.index(chosen)]
        prior = normalized_prior(prior if prior is not None else weights, len(modules),
                                 f"LayerChoice '{label}'")
        self = cls._instance(label=label, names=names, prior=prior)
        for name, module in zip(names, modules):
            self.add_module(str(name), module)
        return self

    @property
    def candidates(self) -> list[nn.Module]:
        return [self[n] for n in self.names]

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, key: int | str) -> nn.Module:
        return cast(nn.Module, self._modules[str(key)])  # a registered candidate, never None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.candidates[0](*args, **kwargs)

    def extra_repr(self) -> str:
        return f"label={self.label!r}"


# --------------------------------------------------------------------------- InputChoice
def reduce_inputs(tensors: list[torch.Tensor], reduction: str) -> Any:
    """The chosen inputs of an InputChoice combined by its `reduction` (sum, mean, concat, none)."""
    if reduction == "none":
        return tensors
    if len(tensors) == 1:
        return tensors[0]
    if reduction == "concat":
        return torch.cat(tensors, dim=1)
    total = tensors[0]
    for t in tensors[1:]:
        total = total + t
    return total / len(tensors) if reduction == "mean" else total


class ChosenInputs(nn.Module):
    """A frozen InputChoice: takes the chosen inputs of a list and reduces them."""

    def __init__(self, chosen: Sequence[int], reduction: str = "sum"):
        super().__init__()
        self.chosen = list(chosen)
        self.reduction = reduction

    def forward(self, candidate_inputs: Sequence[torch.Tensor]) -> Any:
        return reduce_inputs([candidate_inputs[i] for i in self.chosen], self.reduction)

    def extra_repr(self) -> str:
        return f"chosen={self.chosen}, reduction={self.reduction!r}"


def input_candidates(n_candidates: int, n_chosen: int | None) -> list[list[int]]:
    """Every selection an InputChoice can make, as sorted index lists."""
    sizes = range(1, n_candidates + 1) if n_chosen is None else [n_chosen]
    return [list(c) for k in sizes for c in itertools.combinations(range(n_candidates), k)]


class InputChoice(_Mutable):
    """Picks `n_chosen` of the tensors it is called with and reduces them.

    `n_chosen=None` picks any non-empty subset. The architecture records the sorted indices.
    """

    prior: list[float] | None = None
    n_candidates: int
    n_chosen: int | None
    reduction: str

    @classmethod
    def _create(
        cls,
        n_candidates: int,
        n_chosen: int | None = 1,
        reduction: str = "sum",
        *,
        prior: Sequence[float] | None = None,
        weights: Sequence[float] | None = None,
        label: str | None = None,
    ):
        label = auto_label("inputchoice", label)
        if not isinstance(n_candidates, int) or n_candidates < 1:
            raise SpaceError(f"InputChoice '{label}': n_candidates must be a positive int, got {n_candidates!r}")
        if n_chosen is not None and not (isinstance(n_chosen, int) and 1 <= n_chosen <= n_candidates):
            raise SpaceError(
                f"InputChoice '{label}': n_chosen must be None or 1..{n_candidates}, got {n_chosen!r}"
            )
        if reduction not in REDUCTIONS:
            raise SpaceError(f"InputChoice '{label}': reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
        default = list(range(n_chosen or 1))
        if current_fixed() is not None:
            chosen = _chosen(label, default)
            chosen = [chosen] if isinstance(chosen, int) else sorted(chosen)
            if chosen not in input_candidates(n_candidates, n_chosen):
                raise SpaceError(
                    f"label '{label}': {chosen!r} is not a valid choice of "
                    f"{n_chosen or 'any number of'} among {n_candidates} inputs"
                )
            return ChosenInputs(chosen, reduction)
        prior = prior if prior is not None else weights
        if prior is not None and n_chosen != 1:
            raise SpaceError(f"InputChoice '{label}': a prior weighs single inputs, so it needs "
                             f"n_chosen=1, got n_chosen={n_chosen!r}")
        return cls._instance(
            label=label, n_candidates=n_candidates, n_chosen=n_chosen, reduction=reduction,
            prior=normalized_prior(prior, n_candidates, f"InputChoice '{label}'"),
        )

    def candidates(self) -> list[list[int]]:
        return input_candidates(self.n_candidates, self.n_chosen)

    def forward(self, candidate_inputs: Sequence[torch.Tensor]) -> Any:
        return reduce_inputs(list(candidate_inputs[: self.n_chosen or 1]), self.reduction)

    def extra_repr(self) -> str:
        return f"label={self.label!r}, n_candidates={self.n_candidates}, n_chosen={self.n_chosen}"


# --------------------------------------------------------------------------- Repeat
def _call_factory(factory: Callable[..., nn.Module], *args: Any) -> nn.Module:
    """Call a user factory with as many of `args` as it takes."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return factory(*args)
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return factory(*args)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return factory(*args[: len(positional)])


def _takes_input(maker: Any) -> bool:
    """Whether a Cell op factory takes `input_index` (its third argument)."""
    if isinstance(maker, nn.Module):
        return False
    try:
        params = inspect.signature(maker).parameters.values()
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    return len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) >= 3


class Repeat(_Mutable):
    """A block stacked `depth` times; `depth` is an int, a `(min, max)` pair, a ValueChoice, or
    a value derived from one ValueChoice (`vc + 1`, `vc * 2 // 3`).

    `blocks` is a module (deep-copied, so copies share their decisions), a list of modules or
    factories (a prefix is taken), or a factory `f(index) -> Module` (each copy gets its own
    decisions). Frozen, it is an `nn.Sequential` of the chosen depth. The architecture records
    the depth, or the ValueChoice's value when the depth is derived from it.
    """

    depths: list[int]                  # the depth each value stands for
    values: list[Any]                  # what the architecture records
    depth_choice: ValueChoiceX | None
    prior: list[float] | None
    blocks: nn.ModuleList

    @classmethod
    def _create(cls, blocks: Any, depth: Any, *, label: str | None = None):
        ranged = isinstance(depth, tuple | list) and len(depth) == 2
        scope = auto_label("repeat", label, nni=ranged)  # scopes the automatic labels inside
        label, values, depths = _depth_choice(scope, depth)
        fixed = current_fixed()
        chosen = None
        if fixed is not None:
            chosen = depths[0]
            if label is not None and label in fixed:
                try:
                    chosen = depths[[same_value(fixed[label], v) for v in values].index(True)]
                except ValueError:
                    raise SpaceError(f"label '{label}': {fixed[label]!r} is not a candidate "
                                     f"(candidates: {values})") from None
        count = max(depths) if chosen is None else chosen
        built = _repeat_blocks(scope, blocks, count, max(depths))
        if fixed is not None:
            return nn.Sequential(*built)
        choice = depth if isinstance(depth, ValueChoiceX) else None
        prior = next(choice.leaves()).prior if choice is not None else None
        self = cls._instance(label=label, depths=depths, values=values, depth_choice=choice,
                             prior=prior)
        self.blocks = nn.ModuleList(built)
        return self

    def depth_of(self, value: Any) -> int:
        """The depth an architecture's value for `label` stands for (KeyError if none)."""
        for candidate, depth in zip(self.values, self.depths):
            if same_value(candidate, value):
                return depth
        raise KeyError(value)

    @property
    def min_depth(self) -> int:
        return min(self.depths)

    @property
    def max_depth(self) -> int:
        return max(self.depths)

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, index: int | slice) -> Any:
        return self.blocks[index]

    def __iter__(self) -> Iterator[nn.Module]:
        return iter(self.blocks)

    def forward(self, x: Any) -> Any:
        for block in self.blocks[: self.depths[0]]:
            x = block(x)
        return x

    def extra_repr(self) -> str:
        return f"label={self.label!r}, depths={self.depths}"


def _depth_choice(scope: str, depth: Any) -> tuple[str | None, list[Any], list[int]]:
    """(label, values the architecture records, depth for each value) of a Repeat depth."""
    given: object  # the depths as the user gave them, for the error message
    if isinstance(depth, ValueChoiceX):
        leaves = {leaf.label: leaf for leaf in depth.leaves()}
        if len(leaves) != 1 or getattr(next(iter(leaves.values())), "distribution", None):
            raise SpaceError(f"Repeat '{scope}': depth must be a ValueChoice or derived from one "
                             f"ValueChoice with candidates, not {depth!r}")
        leaf = next(iter(leaves.values()))
        values = arch_values(leaf.candidates)
        try:
            depths = [depth.evaluate({leaf.label: c}) for c in leaf.candidates]
        except Exception as exc:  # noqa: BLE001 - the user's arithmetic
            raise SpaceError(f"Repeat '{scope}': depth {depth!r} fails for a candidate: "
                             f"{type(exc).__name__}: {exc}") from None
        label, given = leaf.label, depths
    elif isinstance(depth, tuple | list) and len(depth) == 2:
        label, depths = scope, list(range(int(depth[0]), int(depth[1]) + 1))
        values, given = depths, tuple(depth)
    elif isinstance(depth, int) and not isinstance(depth, bool):
        label, depths, values, given = None, [depth], [depth], depth
    else:
        raise SpaceError(f"Repeat '{scope}': depth must be an int, a (min, max) pair or a "
                         f"ValueChoice, got {depth!r}")
    if not depths or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in depths):
        raise SpaceError(f"Repeat '{scope}': depth must give non-negative ints with "
                         f"min <= max, got {given!r}")
    return label, values, depths


def _repeat_blocks(scope: str, blocks: Any, count: int, most: int) -> list[nn.Module]:
    """The first `count` blocks: copies of a module, items of a list (modules or factories),
    or calls of a factory (each in a label scope of its own)."""
    if isinstance(blocks, list | tuple) and len(blocks) < most:
        raise SpaceError(f"Repeat '{scope}': {len(blocks)} blocks given for a depth up to {most}")
    built = []
    for index in range(count):
        block = blocks[index] if isinstance(blocks, list | tuple) else blocks
        if isinstance(block, nn.Module):
            built.append(block if isinstance(blocks, list | tuple) else copy.deepcopy(block))
        else:
            with label_scope(f"{scope}/{index}/"):
                built.append(_call_factory(block, index))
    return built


# --------------------------------------------------------------------------- Cell
class Cell(_Mutable):
    """A DARTS-style cell (NNI's Cell). Node `n` (numbered after the `num_predecessors` inputs)
    has `num_ops_per_node` ops; each op picks one earlier node or input (`{label}/input_{n}_{j}`)
    and one operation (`{label}/op_{n}_{j}`); a node sums its ops. The output concatenates (on
    `concat_dim`) every node (`merge_op="all"`) or the nodes no other node uses (`"loose_end"`;
    a frozen cell lists them in `output_node_indices`).

    `op_candidates` is a list or dict of modules (deep-copied) or factories
    `f(node_index, op_index, input_index) -> Module`. `preprocessor(inputs) -> inputs` runs on
    the list of inputs first; `postprocessor(output, inputs)` makes the cell's result.
    """

    num_nodes: int
    num_ops_per_node: int
    num_predecessors: int
    merge_op: str
    preprocessor: Callable[[list[Any]], list[Any]] | None
    postprocessor: Callable[[Any, list[Any]], Any] | None
    concat_dim: int
    output_node_indices: list[int]
    ops: nn.ModuleDict      # op slot "node_slot" -> ModuleList: its LayerChoice per input
    inputs: nn.ModuleDict   # op slot -> the InputChoice of its input

    @classmethod
    def _create(
        cls,
        op_candidates: Any,
        num_nodes: int,
        num_ops_per_node: int = 1,
        num_predecessors: int = 1,
        merge_op: str = "all",
        preprocessor: Callable[[list[Any]], list[Any]] | None = None,
        postprocessor: Callable[[Any, list[Any]], Any] | None = None,
        concat_dim: int = 1,
        *,
        label: str | None = None,
    ):
        label = auto_label("cell", label)
        if merge_op not in ("all", "loose_end"):
            raise SpaceError(f"Cell '{label}': merge_op must be 'all' or 'loose_end', got {merge_op!r}")
        for name, value in (("num_nodes", num_nodes), ("num_ops_per_node", num_ops_per_node),
                            ("num_predecessors", num_predecessors)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpaceError(f"Cell '{label}': {name} must be a positive int, got {value!r}")
        fixed = current_fixed() is not None
        ops = nn.ModuleDict()
        inputs: dict[str, Any] = {}
        for node in range(num_predecessors, num_predecessors + num_nodes):
            for slot in range(num_ops_per_node):
                key = f"{node}_{slot}"
                op_label = FinalLabel(f"{label}/op_{key}")
                choice = InputChoice(node, 1, label=FinalLabel(f"{label}/input_{key}"))
                chosen = choice.chosen[0] if isinstance(choice, ChosenInputs) else None  # fixed
                per_input = _cell_ops(label, op_candidates, node, slot, op_label, chosen)
                if chosen is not None:
                    ops[key] = per_input[chosen if len(per_input) > 1 else 0]
                    inputs[key] = chosen
                else:
                    ops[key] = per_input
                    inputs[key] = choice
        if fixed:
            return FixedCell(ops, inputs, num_nodes, num_ops_per_node, num_predecessors,
                             merge_op, preprocessor, postprocessor, concat_dim)
        self = cls._instance(label=label, num_nodes=num_nodes, num_ops_per_node=num_ops_per_node,
                             num_predecessors=num_predecessors, merge_op=merge_op,
                             preprocessor=preprocessor, postprocessor=postprocessor,
                             concat_dim=concat_dim)
        self.output_node_indices = list(range(num_predecessors, num_predecessors + num_nodes))
        self.ops = ops
        self.inputs = nn.ModuleDict(inputs)
        return self

    def slot_ops(self, key: str) -> nn.ModuleList:
        """Op slot `key`'s LayerChoice per input (one, when its ops ignore the input)."""
        return cast(nn.ModuleList, self.ops[key])  # ModuleDict's items are typed Module

    def slot_input(self, key: str) -> InputChoice:
        return cast(InputChoice, self.inputs[key])

    def forward(self, *inputs: Any) -> Any:
        def op_of(key: str, source: int) -> nn.Module:
            per_input = self.slot_ops(key)
            return per_input[source if len(per_input) > 1 else 0]

        return run_cell(self, inputs, lambda key: 0, op_of)


def _cell_ops(label: str, op_candidates: Any, node: int, slot: int, op_label: str,
              chosen: int | None) -> nn.ModuleList:
    """The LayerChoice of one op slot. A factory that takes the input index gets one per
    possible input (same label; frozen, only the chosen input's is built); otherwise one for
    all inputs. NNI's callable `op_candidates()` (returning the list or dict) is called per slot.
    """
    per_input = nn.ModuleList()
    candidates = op_candidates
    with same_nni_labels() as rewind:
        if callable(op_candidates) and not isinstance(op_candidates, nn.Module | list | tuple | dict):
            with label_scope(f"{op_label}/"):
                candidates = op_candidates()
        names, makers = _named(candidates)
        if not makers:
            raise SpaceError(f"Cell '{label}': needs at least one op candidate")
        sources = range(node) if any(_takes_input(m) for m in makers) else [None]
        for source in sources:
            if chosen is not None and source is not None and source != chosen:
                per_input.append(nn.Identity())  # keeps the input numbering; dropped
                continue
            rewind()  # NNI builds one op per slot: its automatic labels repeat across inputs
            with label_scope(f"{op_label}/{source}/"):
                built = [copy.deepcopy(m) if isinstance(m, nn.Module)
                         else _call_factory(m, node, slot, source) for m in makers]
            keyed = isinstance(names[0], str)
            per_input.append(LayerChoice(dict(zip(names, built)) if keyed else built, label=op_label))
    return per_input


class FixedCell(nn.Module):
    """A frozen Cell: each op knows its input; nodes sum their ops; `output_node_indices` are
    the nodes concatenated into the output."""

    def __init__(self, ops: nn.ModuleDict, inputs: dict[str, int], num_nodes: int,
                 num_ops_per_node: int, num_predecessors: int, merge_op: str,
                 preprocessor: Any = None, postprocessor: Any = None, concat_dim: int = 1):
        super().__init__()
        self.preprocessor = preprocessor
        self.ops = ops
        self.postprocessor = postprocessor
        self.sources = dict(inputs)
        self.num_nodes = num_nodes
        self.num_ops_per_node = num_ops_per_node
        self.num_predecessors = num_predecessors
        self.merge_op = merge_op
        self.concat_dim = concat_dim
        nodes = range(num_predecessors, num_predecessors + num_nodes)
        used = set(self.sources.values()) if merge_op == "loose_end" else set()
        self.output_node_indices = [n for n in nodes if n not in used]

    def forward(self, *inputs: Any) -> Any:
        return run_cell(self, inputs, self.sources.__getitem__, lambda key, source: self.ops[key])


def run_cell(cell: Any, inputs: tuple[Any, ...], source_of: Callable[[str], int],
              op_of: Callable[[str, int], nn.Module],
              run_slot: Callable[[str, list[Any]], Any] | None = None) -> Any:
    """A cell's forward: each node sums its op slots, each the op on its chosen input (or
    `run_slot(key, states)`, a one-shot supernet's weighed mixture of them)."""
    if len(inputs) == 1 and isinstance(inputs[0], list | tuple):
        inputs = tuple(inputs[0])
    if len(inputs) != cell.num_predecessors:
        raise ValueError(f"Cell expects {cell.num_predecessors} inputs, got {len(inputs)}")
    given = list(inputs)
    preprocessor = getattr(cell, "preprocessor", None)
    states = list(preprocessor(list(given))) if preprocessor is not None else list(given)
    used: set[int] = set()
    for node in range(cell.num_predecessors, cell.num_predecessors + cell.num_nodes):
        outputs = []
        for slot in range(cell.num_ops_per_node):
            key = f"{node}_{slot}"
            source = source_of(key)
            used.add(source)
            outputs.append(op_of(key, source)(states[source]) if run_slot is None
                           else run_slot(key, states))
        states.append(sum(outputs[1:], outputs[0]))
    nodes: Sequence[int] = range(cell.num_predecessors, len(states))
    if cell.merge_op == "loose_end":
        nodes = [n for n in nodes if n not in used]
    merged = torch.cat([states[n] for n in nodes], dim=getattr(cell, "concat_dim", 1))
    postprocessor = getattr(cell, "postprocessor", None)
    return postprocessor(merged, given) if postprocessor is not None else merged
