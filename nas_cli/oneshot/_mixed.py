"""The mixed modules of a supernet: every mutable, and every module built with ValueChoice
arguments, becomes a module that holds all its candidates and runs the one the active path
picks (single-path; the methods of part 2 weigh candidates instead, see `MixedOperation`).

Each mixed module also knows which of its weights the frozen model of the active path has,
under which names (`collect`): that is how a sub-network's `state_dict` is sliced out.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from nas_cli.errors import SpaceError
from nas_cli.space import InputChoice, LayerChoice, ValueChoice
from nas_cli.space._mutables import _reduce, _run_cell
from nas_cli.space._value import ValueChoiceX, arch_values, choice_leaves, same_value


class ActivePath:
    """The architecture a supernet runs now (canonical: its active labels), shared by all its
    mixed modules. A label missing from it takes its first candidate, as `freeze` does."""

    def __init__(self) -> None:
        self.arch: dict[str, Any] = {}
        self.version = 0  # bumped on every change: mixed modules cache what they derive

    def set(self, arch: dict[str, Any]) -> None:
        self.arch = arch
        self.version += 1

    def get(self, label: str, default: Any) -> Any:
        return self.arch.get(label, default)


class Mixed(nn.Module):
    """Base of the mixed modules: they read the shared active path."""

    _path: ActivePath

    def bind(self, path: ActivePath) -> None:
        self.__dict__["_path"] = path  # a plain attribute, never a submodule or state

    def collect(self, prefix: str, out: dict[str, torch.Tensor]) -> None:
        """Add the frozen sub-network's tensors of this module, named as `freeze` names them."""
        raise NotImplementedError


def collect(module: nn.Module, prefix: str, out: dict[str, torch.Tensor]) -> None:
    """The state of the active sub-network under `module`, keyed as in the frozen model."""
    if isinstance(module, Mixed):
        module.collect(prefix, out)
        return
    for name, param in module._parameters.items():
        if param is not None:
            out[prefix + name] = param
    for name, buffer in module._buffers.items():
        if buffer is not None and name not in module._non_persistent_buffers_set:
            out[prefix + name] = buffer
    for name, child in module._modules.items():
        if child is not None:
            collect(child, f"{prefix}{name}.", out)


# --------------------------------------------------------------------------- mutables
class MixedLayer(Mixed):
    """A LayerChoice: every candidate kept (as a submodule of the same name), one runs."""

    def __init__(self, choice: LayerChoice):
        super().__init__()
        self.label = choice.label
        self.names = list(choice.names)
        for name in self.names:
            self.add_module(str(name), choice[name])

    @property
    def candidates(self) -> list[nn.Module]:
        return [self._modules[str(n)] for n in self.names]

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, key: int | str) -> nn.Module:
        return self._modules[str(key)]

    def chosen(self) -> nn.Module:
        return self._modules[str(self._path.get(self.label, self.names[0]))]

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.chosen()(*args, **kwargs)

    def collect(self, prefix: str, out: dict[str, torch.Tensor]) -> None:
        collect(self.chosen(), prefix, out)  # frozen, the candidate takes the choice's place

    def extra_repr(self) -> str:
        return f"label={self.label!r}"


class MixedInput(Mixed):
    """An InputChoice: reduces the inputs the active path picks."""

    def __init__(self, choice: InputChoice):
        super().__init__()
        self.label = choice.label
        self.n_candidates = choice.n_candidates
        self.n_chosen = choice.n_chosen
        self.reduction = choice.reduction

    def chosen(self) -> list[int]:
        value = self._path.get(self.label, list(range(self.n_chosen or 1)))
        return [value] if isinstance(value, int) else list(value)

    def forward(self, candidate_inputs: Sequence[torch.Tensor]) -> Any:
        return _reduce([candidate_inputs[i] for i in self.chosen()], self.reduction)

    def collect(self, prefix: str, out: dict[str, torch.Tensor]) -> None:
        pass  # frozen, a ChosenInputs holds no tensor

    def extra_repr(self) -> str:
        return f"label={self.label!r}, n_candidates={self.n_candidates}, n_chosen={self.n_chosen}"


class MixedRepeat(Mixed):
    """A Repeat: every block kept, the first `depth` run."""

    def __init__(self, repeat: Any):
        super().__init__()
        self.label = repeat.label
        self.depths = list(repeat.depths)
        self.values = list(getattr(repeat, "values", self.depths))  # what the arch records
        self.blocks = repeat.blocks

    def depth(self) -> int:
        """The active path's depth (a depth derived from a choice: the choice's value mapped)."""
        if self.label is None or self.label not in self._path.arch:
            return self.depths[0]
        value = self._path.arch[self.label]
        return next(d for v, d in zip(self.values, self.depths) if same_value(v, value))

    def forward(self, x: Any) -> Any:
        for block in self.blocks[: self.depth()]:
            x = block(x)
        return x

    def collect(self, prefix: str, out: dict[str, torch.Tensor]) -> None:
        for index in range(self.depth()):  # frozen: an nn.Sequential of the chosen blocks
            collect(self.blocks[index], f"{prefix}{index}.", out)

    def extra_repr(self) -> str:
        return f"label={self.label!r}, depths={self.depths}"


class MixedCell(Mixed):
    """A Cell: each op slot runs the op and reads the input the active path picks."""

    def __init__(self, cell: Any):
        super().__init__()
        for name in ("label", "num_nodes", "num_ops_per_node", "num_predecessors", "merge_op"):
            setattr(self, name, getattr(cell, name))
        self.concat_dim = getattr(cell, "concat_dim", 1)
        self.preprocessor = getattr(cell, "preprocessor", None)  # modules or plain functions
        self.ops = cell.ops        # key -> one op per possible input (or one for all)
        self.postprocessor = getattr(cell, "postprocessor", None)
        self.inputs = cell.inputs  # key -> its (mixed) InputChoice

    def source(self, key: str) -> int:
        return self.inputs[key].chosen()[0]

    def op(self, key: str, source: int) -> nn.Module:
        ops = self.ops[key]
        return ops[source if len(ops) > 1 else 0]

    def forward(self, *inputs: Any) -> torch.Tensor:
        return _run_cell(self, inputs, self.source, self.op)

    def collect(self, prefix: str, out: dict[str, torch.Tensor]) -> None:
        for name in ("preprocessor", "postprocessor"):
            if isinstance(getattr(self, name), nn.Module):
                collect(getattr(self, name), f"{prefix}{name}.", out)
        for key in self.ops:  # frozen: a FixedCell whose ops[key] is the chosen op
            collect(self.op(key, self.source(key)), f"{prefix}ops.{key}.", out)

    def extra_repr(self) -> str:
        return f"label={self.label!r}, num_nodes={self.num_nodes}"


# --------------------------------------------------------------------------- ValueChoice arguments
#: torch modules whose weights are shared across argument values as slices of the largest.
SLICED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d,
          nn.BatchNorm3d, nn.LayerNorm)
SUPPORTED = ("Conv1d/2d/3d (channels, kernel size, stride, padding, dilation, groups, bias), "
             "Linear (features, bias), BatchNorm1d/2d/3d and LayerNorm (features), and "
             "modules without weights (Dropout, pooling, activations)")
MAX_COMBINATIONS = 4096   # argument combinations a mixed module may enumerate
MAX_COPIES = 64           # distinct argument sets a module without shared weights may keep


def concrete(obj: Any, values: dict[str, Any]) -> Any:
    """`obj` with every choice evaluated for the leaf values `values` (label -> candidate)."""
    if isinstance(obj, ValueChoiceX):
        return obj.evaluate(values)
    if isinstance(obj, list | tuple):
        return type(obj)(concrete(o, values) for o in obj)
    if isinstance(obj, dict):
        return {k: concrete(v, values) for k, v in obj.items()}
    return obj


def _leaves(raw: Any) -> list[ValueChoice]:
    seen: dict[str, ValueChoice] = {}
    for leaf in choice_leaves(raw):
        seen.setdefault(leaf.label, leaf)
    return list(seen.values())


class ArgumentChoice(Mixed):
    """A module built with ValueChoice arguments: the distinct argument sets its labels can
    give (`keys`), and which one the active path gives (`active_key`)."""

    def __init__(self, module: nn.Module, raw: tuple[tuple, dict], where: str):
        super().__init__()
        self.where = where
        self.leaves = _leaves(raw)
        self._recorded = [arch_values(leaf.candidates) for leaf in self.leaves]
        sizes = [len(leaf.candidates) for leaf in self.leaves]
        total = 1
        for size in sizes:
            total *= size
        if total > MAX_COMBINATIONS:
            raise SpaceError(f"one-shot: {where} ({type(module).__name__}) depends on labels "
                             f"{self.labels} with {total:,} value combinations (at most "
                             f"{MAX_COMBINATIONS:,} supported)")
        self.arguments: dict[str, tuple[tuple, dict]] = {}  # key -> concrete (args, kwargs)
        self._key_of: dict[tuple[int, ...], str] = {}       # leaf positions -> key
        for positions in itertools.product(*(range(s) for s in sizes)):
            values = {leaf.label: leaf.candidates[p] for leaf, p in zip(self.leaves, positions)}
            args = concrete(raw, values)
            key = repr(args)
            self.arguments.setdefault(key, args)
            self._key_of[positions] = key
        self._cache: tuple[int, str] = (-1, "")

    @property
    def labels(self) -> list[str]:
        return [leaf.label for leaf in self.leaves]

    def positions(self) -> tuple[int, ...]:
        """The active path's candidate index for each leaf label (first when inactive)."""
        arch = self._path.arch
        out = []
        for leaf, recorded in zip(self.leaves, self._recorded):
            if leaf.label not in arch:
                out.append(0)
                continue
            value = arch[leaf.label]
            out.append(next(i for i, r in enumerate(recorded) if same_value(r, value)))
        return tuple(out)

    def active_key(self) -> str:
        version = self._path.version
        if self._cache[0] != version:
            self._cache = (version, self._key_of[self.positions()])
        return self._cache[1]

    def key_for(self, positions: tuple[int, ...]) -> str:
        """The argument set for given leaf positions (part 2 weighs keys by these)."""
        return self._key_of[positions]

    def extra_repr(self) -> str:
        return f"labels={self.labels}, argument_sets={len(self.arguments)}"


def _build(kind: type, args: tuple[tuple, dict], **extra: Any) -> nn.Module:
    positional, keywords = args
    return kind(*positional, **{**keywords, **extra})


class MixedOperation(ArgumentChoice):
    """A torch module with ValueChoice arguments whose weights are shared: one tensor of the
    largest shape per weight; an argument set uses its leading slice (convolution kernels:
    the centred crop). Each argument set runs the module's own forward on its slices (a
    weightless "shell" built on the meta device), so it computes exactly what the frozen
    module computes. Modules without weights (Dropout, pooling) keep one shell per set."""

    def __init__(self, module: nn.Module, kind: type, raw: tuple[tuple, dict], where: str):
        super().__init__(module, raw, where)
        self.kind = kind
        weighted = issubclass(kind, SLICED)
        shells: dict[str, nn.Module] = {}
        for key, args in self.arguments.items():
            try:
                shells[key] = _build(kind, args, device="meta") if weighted else _build(kind, args)
            except Exception as exc:  # noqa: BLE001 - the torch module refused the values
                raise SpaceError(f"one-shot: {where} ({kind.__name__}) cannot be built with "
                                 f"{_describe(args)}: {exc}") from None
        self.__dict__["_shells"] = shells  # not submodules: they hold no state of their own
        self._crop = 2 if issubclass(kind, nn.modules.conv._ConvNd) else None
        self._params: list[str] = []
        self._buffers_: list[str] = []
        self._shapes: dict[str, dict[str, tuple[int, ...]]] = {}
        if not weighted:
            return
        first = next(iter(shells.values()))
        shapes: dict[str, list[int]] = {}
        for shell in shells.values():
            for name, tensor in itertools.chain(shell._parameters.items(), shell._buffers.items()):
                if tensor is None:
                    continue
                if name in shapes and len(shapes[name]) != tensor.dim():
                    raise SpaceError(f"one-shot: {where} ({kind.__name__}): '{name}' changes its "
                                     f"number of dimensions with {self.labels}")
                old = shapes.get(name, [0] * tensor.dim())
                shapes[name] = [max(a, b) for a, b in zip(old, tensor.shape)]
        # The largest tensors, initialized as the module initializes its own (by shape).
        holder = module
        for name, shape in shapes.items():
            dtype = _tensor(first, name, shells).dtype
            if any(name in s._parameters and s._parameters[name] is not None for s in shells.values()):
                holder._parameters[name] = nn.Parameter(torch.zeros(shape, dtype=dtype))
                self._params.append(name)
            else:
                holder._buffers[name] = torch.zeros(shape, dtype=dtype)
                self._buffers_.append(name)
        if hasattr(holder, "reset_parameters"):
            holder.reset_parameters()
        self._shapes = {key: {name: tuple(t.shape) for name, t in
                              itertools.chain(shell._parameters.items(), shell._buffers.items())
                              if t is not None}
                        for key, shell in shells.items()}
        for name in self._params:
            self.register_parameter(name, holder._parameters[name])
        for name in self._buffers_:
            self.register_buffer(name, holder._buffers[name])

    def sliced(self, key: str) -> dict[str, torch.Tensor]:
        """The tensors of argument set `key`: slices (views) of the shared ones."""
        return {name: self._slice(getattr(self, name), shape, name == "weight")
                for name, shape in self._shapes.get(key, {}).items()}  # bias=False: no bias

    def _slice(self, tensor: torch.Tensor, shape: Sequence[int], kernel: bool) -> torch.Tensor:
        index = []
        for dim, (full, size) in enumerate(zip(tensor.shape, shape)):
            start = (full - size) // 2 if kernel and self._crop is not None and dim >= self._crop else 0
            index.append(slice(start, start + size))
        return tensor[tuple(index)]

    def forward_at(self, key: str, *args: Any, **kwargs: Any) -> Any:
        """The module's output for argument set `key` (part 2 sums these with weights)."""
        shell = self._shells[key]
        shell.training = self.training
        if not self._params and not self._buffers_:
            return shell(*args, **kwargs)
        tensors = self.sliced(key)
        saved = {}
        for name, tensor in tensors.items():
            store = shell._parameters if name in shell._parameters else shell._buffers
            saved[name], store[name] = store[name], tensor
        try:
            return shell(*args, **kwargs)
        finally:  # the shell keeps no reference to this step's graph
            for name, meta in saved.items():
                (shell._parameters if name in shell._parameters else shell._buffers)[name] = meta

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward_at(self.active_key(), *args, **kwargs)

    def collect(self, prefix: str, out: dict[str, torch.Tensor]) -> None:
        for name, tensor in self.sliced(self.active_key()).items():
            out[prefix + name] = tensor


def _tensor(shell: nn.Module, name: str, shells: dict[str, nn.Module]) -> torch.Tensor:
    for s in (shell, *shells.values()):
        tensor = s._parameters.get(name, s._buffers.get(name))
        if tensor is not None:
            return tensor
    raise KeyError(name)


def _describe(args: tuple[tuple, dict]) -> str:
    positional, keywords = args
    parts = [repr(a) for a in positional] + [f"{k}={v!r}" for k, v in keywords.items()]
    return f"({', '.join(parts)})"


class MixedCopies(ArgumentChoice):
    """A module whose weights cannot be shared across its ValueChoice arguments (a user's
    @basic_unit, or a torch module not in `SLICED`): one copy per distinct argument set, built
    as `freeze` builds it. Exact, but the copies learn separately."""

    def __init__(self, module: nn.Module, build: Callable[[tuple[tuple, dict]], nn.Module],
                 raw: tuple[tuple, dict], where: str):
        super().__init__(module, raw, where)
        if len(self.arguments) > MAX_COPIES:
            raise SpaceError(
                f"one-shot: {where} ({type(module).__name__}) takes ValueChoice arguments "
                f"{self.labels} that cannot share weights and would need "
                f"{len(self.arguments)} separate copies (at most {MAX_COPIES}); shared weights "
                f"exist for {SUPPORTED}: build it from nas_cli.nn modules with ValueChoice "
                "arguments instead")
        self._index = {key: str(i) for i, key in enumerate(self.arguments)}
        copies = nn.ModuleDict()
        for key, args in self.arguments.items():
            try:
                copies[self._index[key]] = build(args)
            except Exception as exc:  # noqa: BLE001 - the user's constructor
                raise SpaceError(f"one-shot: {where} ({type(module).__name__}) cannot be built "
                                 f"with {_describe(args)}: {type(exc).__name__}: {exc}") from None
        self.copies = copies

    def forward_at(self, key: str, *args: Any, **kwargs: Any) -> Any:
        return self.copies[self._index[key]](*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward_at(self.active_key(), *args, **kwargs)

    def collect(self, prefix: str, out: dict[str, torch.Tensor]) -> None:
        collect(self.copies[self._index[self.active_key()]], prefix, out)


def mixed_modules(model: nn.Module) -> Iterator[Mixed]:
    return (m for m in model.modules() if isinstance(m, Mixed))
