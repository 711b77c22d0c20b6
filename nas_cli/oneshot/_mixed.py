"""The mixed modules of a supernet: every mutable, and every module built with ValueChoice
arguments, becomes a module that holds all its candidates and runs the one the active path
picks (single path), or, when the path carries a mixture, combines them as the mixture says
(weighted sum, straight-through sample, binary gates: see `_weighted`).

Each mixed module also knows which of its weights the frozen model of the active path has,
under which names (`collect`): that is how a sub-network's `state_dict` is sliced out.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import torch
from torch import nn

from nas_cli.errors import SpaceError
from nas_cli.oneshot._weighted import (
    SINGLE_PATH_METHODS,
    SOFT,
    SUMMING,
    Mixture,
    combine,
    key_weights,
    scaled,
    weighted_sum,
)
from nas_cli.space import (
    InputChoice,
    LayerChoice,
    ValueChoice,
    ValueChoiceX,
    arch_values,
    choice_leaves,
    input_candidates,
    reduce_inputs,
    run_cell,
    same_value,
)


class ActivePath:
    """The architecture a supernet runs now (canonical: its active labels), shared by all its
    mixed modules. A label missing from it takes its first candidate, as `freeze` does."""

    def __init__(self) -> None:
        self.arch: dict[str, Any] = {}
        self.version = 0  # bumped on every change: mixed modules cache what they derive
        self.mixture: Mixture | None = None  # how candidates combine (None: the path's alone)

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
        return [self[n] for n in self.names]

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, key: int | str) -> nn.Module:
        return cast(nn.Module, self._modules[str(key)])  # a registered candidate, never None

    def chosen(self) -> nn.Module:
        return self[self._path.get(self.label, self.names[0])]

    def index(self) -> int:
        """The active path's candidate, as an index into the decision's candidates."""
        value = self._path.get(self.label, self.names[0])
        return next(i for i, n in enumerate(self.names) if str(n) == str(value))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        mixture = self._path.mixture
        if mixture is None:
            return self.chosen()(*args, **kwargs)
        candidates = self.candidates
        return combine(mixture, self.label, self.index(),
                       lambda i: candidates[i](*args, **kwargs), module=self)

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
        self.selections = input_candidates(self.n_candidates, self.n_chosen)  # the decision's

    def chosen(self) -> list[int]:
        value = self._path.get(self.label, list(range(self.n_chosen or 1)))
        return [value] if isinstance(value, int) else list(value)

    def index(self) -> int:
        return self.selections.index(sorted(self.chosen()))

    def forward(self, candidate_inputs: Sequence[torch.Tensor]) -> Any:
        mixture = self._path.mixture
        if mixture is None:
            return reduce_inputs([candidate_inputs[i] for i in self.chosen()], self.reduction)
        return combine(mixture, self.label, self.index(), lambda i: reduce_inputs(
            [candidate_inputs[j] for j in self.selections[i]], self.reduction), module=self)

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
        mixture = self._path.mixture
        if mixture is None or self.label is None:
            return self._run(x, self.depth())
        return combine(mixture, self.label, self.index(),
                       lambda i: self._run(x, self.depths[i]), lambda: self._every(x),
                       module=self)

    def _run(self, x: Any, depth: int) -> Any:
        for block in self.blocks[:depth]:
            x = block(x)
        return x

    def _every(self, x: Any) -> list[Any]:
        """The output at every candidate depth, each block run once."""
        at, done = {}, 0
        for depth in sorted(set(self.depths)):
            for block in self.blocks[done:depth]:
                x = block(x)
            at[depth], done = x, depth
        return [at[d] for d in self.depths]

    def index(self) -> int:
        """The active path's candidate, as an index into the decision's candidates."""
        if self.label not in self._path.arch:
            return 0
        value = self._path.arch[self.label]
        return next(i for i, v in enumerate(self.values) if same_value(v, value))

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
        mixture = self._path.mixture
        if mixture is None:
            return run_cell(self, inputs, self.source, self.op)
        if mixture.profiling:
            return mixture.profile(self, None, 0, lambda i: self._run_weighted(mixture, inputs))
        return self._run_weighted(mixture, inputs)

    def _run_weighted(self, mixture: Mixture, inputs: tuple[Any, ...]) -> torch.Tensor:
        def slot(key: str, states: list[Any]) -> Any:  # the op on each possible input
            choice = self.inputs[key]
            return combine(mixture, choice.label, choice.index(),
                           lambda i: self.op(key, i)(states[i]), module=choice)

        return run_cell(self, inputs, self.source, self.op, run_slot=slot)

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
        """The argument set for given leaf positions."""
        return self._key_of[positions]

    @property
    def key_index(self) -> list[int]:
        """For each combination of leaf positions (row-major), the index of its argument set
        in `arguments`: how a distribution over the labels becomes one over argument sets."""
        order = {key: i for i, key in enumerate(self.arguments)}
        sizes = [len(leaf.candidates) for leaf in self.leaves]
        return [order[self._key_of[p]] for p in itertools.product(*(range(n) for n in sizes))]

    def key_weights(self, weights: Sequence[torch.Tensor]) -> torch.Tensor:
        """The weight of each argument set: the summed products of its leaves' weights."""
        index = self.__dict__.get("_index_tensor")
        if index is None or index.device != weights[0].device:
            index = torch.tensor(self.key_index, device=weights[0].device)
            self.__dict__["_index_tensor"] = index
        return key_weights(weights, index, len(self.arguments))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        mixture = self._path.mixture
        if mixture is None:
            return self.forward_at(self.active_key(), *args, **kwargs)
        if mixture.profiling:
            return mixture.profile_arguments(self, args, kwargs)
        found = [mixture.weights.get(label) for label in self.labels]
        weights = [w for w in found if w is not None]
        if len(weights) < len(found):  # a label the mixture does not weigh
            return self.forward_at(self.active_key(), *args, **kwargs)
        if mixture.mode == SOFT:
            return self.forward_soft(self.key_weights(weights), *args, **kwargs)
        out = self.forward_at(self.active_key(), *args, **kwargs)
        weight = weights[0][self.positions()[0]]
        for w, position in zip(weights[1:], self.positions()[1:]):
            weight = weight * w[position]
        return scaled(out, weight)  # hard: the product of straight-through weights

    def forward_at(self, key: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def fit_input(self, key: str, args: tuple) -> tuple:
        """`args` for argument set `key` (as it is: see `MixedOperation`)."""
        return args

    def forward_soft(self, weights: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        """Every argument set's output, weighted (`weights` in the order of `arguments`)."""
        outputs = []
        for key, arguments in self.arguments.items():
            try:
                outputs.append(self.forward_at(key, *args, **kwargs))
            except Exception as exc:  # noqa: BLE001 - a set that cannot take the input
                raise SpaceError(
                    f"one-shot: {self.where} with {_describe(arguments)} cannot run on the input "
                    f"the others take ({type(exc).__name__}), so {SUMMING} cannot sum its "
                    f"argument sets ({', '.join(self.labels)}): use {SINGLE_PATH_METHODS}"
                ) from None
        return weighted_sum(outputs, weights, "/".join(self.labels))

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

    _shells: dict[str, nn.Module]  # argument set -> its shell (in __dict__: not submodules)

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
        reset = getattr(holder, "reset_parameters", None)
        if callable(reset):
            reset()
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
        """The module's output for argument set `key`."""
        if not self._params and not self._buffers_:
            shell = self._shells[key]
            shell.training = self.training
            return shell(*args, **kwargs)
        return self._run_shell(self._shells[key], self.sliced(key), args, kwargs)

    def forward_soft(self, weights: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        """Weighted argument sets. With shared weights, as DARTS's mixed operations do: one
        run of the largest set, each tensor times the weighted sum of the sets' slice masks
        (a set's slice counts where it lies, zero elsewhere), which equals the weighted sum
        of the sets' outputs padded with zeros to the largest."""
        if issubclass(self.kind, nn.LayerNorm):  # each width normalizes over its own features
            outputs = [self.forward_at(key, *self.fit_input(key, args), **kwargs)
                       for key in self.arguments]
            return weighted_sum(_padded(outputs), weights, "/".join(self.labels))
        full = self.full_key()
        if full is None:
            return super().forward_soft(weights, *args, **kwargs)
        masks = self._masks(weights.device)
        tensors = {name: getattr(self, name) * torch.tensordot(weights, masks[name], dims=1)
                   for name in self._params}
        tensors.update({name: getattr(self, name) for name in self._buffers_})
        return self._run_shell(self._shells[full], tensors, args, kwargs)

    def fit_input(self, key: str, args: tuple) -> tuple:
        """`args` with the first input sliced or zero-padded to the width argument set `key`
        takes (channels of a convolution or batch norm, features of a linear or layer norm)."""
        if not args or not isinstance(args[0], torch.Tensor):
            return args
        shell, x = self._shells[key], args[0]
        if isinstance(shell, nn.modules.conv._ConvNd):
            x = _resize(x, 1, shell.in_channels)
        elif isinstance(shell, nn.Linear):
            x = _resize(x, x.dim() - 1, shell.in_features)
        elif isinstance(shell, nn.modules.batchnorm._BatchNorm):
            x = _resize(x, 1, shell.num_features)
        elif isinstance(shell, nn.LayerNorm):
            for offset, size in enumerate(reversed(shell.normalized_shape)):
                x = _resize(x, x.dim() - 1 - offset, size)
        return (x, *args[1:])

    def full_key(self) -> str | None:
        """The argument set whose tensors are the full shared ones, when every set's output
        is that set's slice of its output (same stride, dilation, aligned padding, groups
        equal or depthwise); else None (the sets' outputs are summed instead)."""
        if "_full" not in self.__dict__:
            self.__dict__["_full"] = _full_key(self)
        return self.__dict__["_full"]

    def _masks(self, device: torch.device) -> dict[str, torch.Tensor]:
        cached = self.__dict__.get("_mask_cache")
        if cached is None or cached[0] != device:
            masks = {}
            for name in self._params:
                full = getattr(self, name)
                stack = torch.zeros((len(self.arguments), *full.shape), device=device)
                for i, key in enumerate(self.arguments):
                    shape = self._shapes[key].get(name)
                    if shape is not None:
                        self._slice(stack[i], shape, name == "weight").fill_(1.0)
                masks[name] = stack
            cached = (device, masks)
            self.__dict__["_mask_cache"] = cached
        return cached[1]

    def _run_shell(self, shell: nn.Module, tensors: dict[str, torch.Tensor], args: tuple,
                   kwargs: dict) -> Any:
        shell.training = self.training
        saved = {}
        for name, tensor in tensors.items():
            # a parameter's slot holds a plain tensor (this step's slice) while the shell runs
            store: dict[str, Any] = shell._parameters if name in shell._parameters \
                else shell._buffers
            saved[name], store[name] = store[name], tensor
        try:
            return shell(*args, **kwargs)
        finally:  # the shell keeps no reference to this step's graph
            for name, meta in saved.items():
                (shell._parameters if name in shell._parameters else shell._buffers)[name] = meta

    def collect(self, prefix: str, out: dict[str, torch.Tensor]) -> None:
        for name, tensor in self.sliced(self.active_key()).items():
            out[prefix + name] = tensor


def _resize(x: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """`x` cut to, or padded with zeros up to, `size` along `dim`."""
    if x.shape[dim] >= size:
        return x.narrow(dim, 0, size)
    pad = list(x.shape)
    pad[dim] = size - x.shape[dim]
    return torch.cat([x, x.new_zeros(pad)], dim)


def _padded(outputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Each output padded with zeros, at the end of every dimension, to the largest shape."""
    shape = [max(sizes) for sizes in zip(*(o.shape for o in outputs))]
    padded = []
    for out in outputs:
        for dim, size in enumerate(shape):
            out = _resize(out, dim, size)
        padded.append(out)
    return padded


def _full_key(op: MixedOperation) -> str | None:
    """See `MixedOperation.full_key`."""
    names = [*op._params, *op._buffers_]
    if not names:
        return None
    full_shapes = {name: tuple(getattr(op, name).shape) for name in names}
    full = next((key for key, shapes in op._shapes.items()
                 if all(shapes.get(n) == full_shapes[n] for n in names)), None)
    if full is None:
        return None
    big = op._shells[full]
    if issubclass(op.kind, nn.modules.conv._ConvNd):
        return full if all(_conv_aligned(op._shells[key], big) for key in op.arguments) else None
    same = {nn.modules.batchnorm._BatchNorm: ("eps", "momentum", "affine", "track_running_stats"),
            nn.LayerNorm: ("eps", "elementwise_affine")}
    for kind, attributes in same.items():
        if issubclass(op.kind, kind) and any(
                getattr(op._shells[key], a) != getattr(big, a)
                for key in op.arguments for a in attributes):
            return None
    return full  # Linear


def _conv_aligned(small: Any, big: Any) -> bool:
    """Whether `small`'s output is the leading channels of `big`'s output when `big` runs with
    `small`'s weights zero-padded (the kernel centred)."""
    if (small.stride, small.dilation, small.padding_mode) != (big.stride, big.dilation,
                                                              big.padding_mode):
        return False
    channels = (small.in_channels, small.out_channels) == (big.in_channels, big.out_channels)
    depthwise = all(m.groups == m.in_channels == m.out_channels for m in (small, big))
    if not (small.groups == big.groups == 1 or depthwise
            or (channels and small.groups == big.groups)):
        return False
    if any((kk - k) % 2 for k, kk in zip(small.kernel_size, big.kernel_size)):
        return False
    if isinstance(small.padding, str) or isinstance(big.padding, str):
        return small.padding == big.padding and (small.padding == "same"
                                                 or small.kernel_size == big.kernel_size)
    return all(pp - p == d * (kk - k) // 2 for p, pp, k, kk, d in
               zip(small.padding, big.padding, small.kernel_size, big.kernel_size, big.dilation))


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

    def collect(self, prefix: str, out: dict[str, torch.Tensor]) -> None:
        collect(self.copies[self._index[self.active_key()]], prefix, out)


def mixed_modules(model: nn.Module) -> Iterator[Mixed]:
    return (m for m in model.modules() if isinstance(m, Mixed))
