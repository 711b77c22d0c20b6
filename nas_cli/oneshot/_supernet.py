"""The supernet: the user's model space, built with every candidate, its mutables and its
ValueChoice modules turned into mixed modules that share one active path.

    net = Supernet(DigitsNet)
    net.activate({"conv1": "conv3x3", "channels": 16, ...})
    logits = net(x)                          # that architecture, on the shared weights
    model = net.subnet(arch)                 # freeze(DigitsNet, arch) with those weights
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from nas_cli.errors import SpaceError
from nas_cli.oneshot._mixed import (
    SLICED,
    ActivePath,
    Mixed,
    MixedCell,
    MixedCopies,
    MixedInput,
    MixedLayer,
    MixedOperation,
    MixedRepeat,
    collect,
)
from nas_cli.space import (
    Cell,
    InputChoice,
    LayerChoice,
    Repeat,
    ValueChoiceX,
    build_space,
    freeze,
    is_mutable_module,
    pick,
    recorded_arguments,
    search_space,
)

#: How each mutable kind becomes a mixed module (part 2 passes rules of its own).
Rule = Callable[[Any, str], nn.Module]  # gets a module of its key's kind
SINGLE_PATH: dict[type, Rule] = {
    LayerChoice: lambda m, where: MixedLayer(m),
    InputChoice: lambda m, where: MixedInput(m),
    Repeat: lambda m, where: MixedRepeat(m),
    Cell: lambda m, where: MixedCell(m),
}


def mix_arguments(module: nn.Module, raw: tuple[tuple, dict], where: str) -> Mixed:
    """The mixed form of a module built with ValueChoice arguments: shared slices for the
    torch modules that allow it and modules without weights, else one copy per argument set."""
    kind = type(module).__dict__.get("_nas_torch_class")  # a nas_cli.nn twin of a torch module
    if kind is not None and (issubclass(kind, SLICED) or not _has_state(module)):
        return MixedOperation(module, kind, raw, where)
    inner = [n for n, m in module.named_modules() if m is not module and _is_mutable(m)]
    if inner:
        raise SpaceError(f"one-shot: {where} ({type(module).__name__}) takes ValueChoice "
                         f"arguments and holds mutables itself ({inner[0]}); a supernet cannot "
                         "rebuild it per argument set")
    build_class = kind or type(module)
    return MixedCopies(module, lambda args: build_class(*args[0], **args[1]), raw, where)


def _has_state(module: nn.Module) -> bool:
    return any(True for _ in module.parameters()) or any(True for _ in module.buffers())


def _is_mutable(module: nn.Module) -> bool:
    return isinstance(module, tuple(SINGLE_PATH)) or recorded_arguments(module) is not None


class _Converter:
    def __init__(self, path: ActivePath, rules: Mapping[type, Rule]):
        self.path = path
        self.rules = rules
        self.done: dict[int, nn.Module] = {}      # shared modules stay shared
        self.attributes: list[tuple[nn.Module, str, ValueChoiceX]] = []

    def convert(self, module: nn.Module, where: str) -> nn.Module:
        if id(module) in self.done:
            return self.done[id(module)]
        raw = recorded_arguments(module)
        if raw is not None:
            mixed: nn.Module = mix_arguments(module, raw, where)
        else:
            for name, child in list(module._modules.items()):
                if child is not None:
                    module._modules[name] = self.convert(child, f"{where}.{name}")
            for name, value in vars(module).items():  # a ValueChoice kept as an attribute
                if isinstance(value, ValueChoiceX) and not name.startswith("_"):
                    self.attributes.append((module, name, value))
            rule = next((r for kind, r in self.rules.items() if isinstance(module, kind)), None)
            if rule is None and is_mutable_module(module):
                label = getattr(module, "label", None)
                raise SpaceError(
                    f"one-shot: {where} ({type(module).__name__}"
                    + (f" '{label}'" if label else "") + ") decides its own structure; a "
                    "supernet is built from LayerChoice, InputChoice, Repeat, Cell and "
                    "ValueChoice module arguments only: use a multi-trial strategy")
            mixed = rule(module, where) if rule is not None else module
        if isinstance(mixed, Mixed):
            mixed.bind(self.path)
        self.done[id(module)] = mixed
        return mixed


class Supernet(nn.Module):
    """A weight-sharing supernet of a `@model_wrapper` class, built from the class as it is.

    `activate(arch)` picks the path every later forward runs; `subnet(arch)` is
    `freeze(model_class, arch)` loaded with that path's weights, and gives the same outputs.
    `rules` say what each mutable kind becomes; `seed` seeds the initial weights.
    """

    def __init__(self, model_class: type[nn.Module], init_kwargs: Mapping[str, Any] | None = None,
                 *, mutators: Sequence[Any] = (), rules: Mapping[type, Rule] = SINGLE_PATH,
                 seed: int | None = None):
        super().__init__()
        self.space = search_space(model_class, dict(init_kwargs or {}))
        if self.space.continuous:
            labels = self.space.continuous
            raise SpaceError(f"one-shot: {', '.join(labels)} "
                             f"{'takes' if len(labels) == 1 else 'take'} continuous values; a "
                             "supernet needs decisions with candidates (a ValueChoice list): "
                             "use a multi-trial strategy")
        if mutators:
            raise SpaceError("one-shot strategies cannot use custom Mutators (they rewrite a "
                             "built model; a supernet needs the mutables themselves): use a "
                             "multi-trial strategy, or express the choices with LayerChoice/"
                             "ValueChoice")
        self.model_class = model_class
        self.init_kwargs = dict(init_kwargs or {})
        if seed is not None:  # reproducible initial weights
            torch.manual_seed(seed)
        built, _ = build_space(model_class, self.init_kwargs)
        self.path = ActivePath()
        converter = _Converter(self.path, rules)
        self.model = converter.convert(built, type(built).__name__)
        self._attributes = converter.attributes
        _check_covered(self.space, self.model, self._attributes)
        self.activate(self.space.choose(lambda decision: 0))

    # --- the active path -------------------------------------------------------------------
    def activate(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        """Run `arch` from now on; returns its canonical form (refuses an invalid one)."""
        canonical = self.space.validate(arch)
        self.path.set(canonical)
        for module, name, value in self._attributes:
            chosen = {leaf.label: (pick(leaf.candidates, canonical[leaf.label])
                                   if leaf.label in canonical else leaf.candidates[0])
                      for leaf in value.leaves()}
            setattr(module, name, value.evaluate(chosen))
        return canonical

    @property
    def arch(self) -> dict[str, Any]:
        return dict(self.path.arch)

    def sample(self, rng: random.Random, *, fair: bool = True) -> dict[str, Any]:
        """A random architecture: `fair` draws each active decision uniformly (every candidate
        of a decision equally often, as SPOS does); otherwise uniform over architectures."""
        if fair:
            return self.space.choose(lambda d: rng.randrange(len(d.candidates)))
        return self.space.sample(rng)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)

    # --- sub-networks ----------------------------------------------------------------------
    def sub_state_dict(self, arch: Mapping[str, Any] | None = None) -> dict[str, torch.Tensor]:
        """The weights of `arch` (default: the active path), named as `freeze` names them."""
        if arch is not None:
            self.activate(arch)
        out: dict[str, torch.Tensor] = {}
        collect(self.model, "", out)
        return {k: v.detach() for k, v in out.items()}

    def check_exact(self, *args: Any, archs: Sequence[Mapping[str, Any]]) -> None:
        """Refuse (SpaceError) a supernet that does not compute what `subnet(arch)` computes on
        these inputs: a space whose shapes depend on a choice in a way no mixed module sees
        (a loose-end Cell whose output width sizes the next layer, say). Eval mode, no
        gradients; the random state is left as it was."""
        training = self.training
        self.eval()
        try:
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                for arch in archs:
                    try:
                        self.activate(arch)
                        expected = self(*args)
                        got = self.subnet(arch).eval()(*args)
                        same = _same_output(expected, got)
                    except SpaceError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - the user's forward
                        same, expected = False, f"{type(exc).__name__}: {exc}"
                    if not same:
                        why = expected if isinstance(expected, str) else "different outputs"
                        raise SpaceError(
                            f"one-shot: the supernet of {self.model_class.__name__} does not "
                            f"compute what freeze() builds for {dict(arch)} ({why}); a shape in "
                            "the space depends on a choice outside LayerChoice/InputChoice/"
                            "Repeat/Cell and ValueChoice module arguments (e.g. a loose-end "
                            "Cell whose output width sizes the next layer): use a multi-trial "
                            "strategy")
        finally:
            self.train(training)

    def subnet(self, arch: Mapping[str, Any]) -> nn.Module:
        """`freeze(model_class, arch)` with the weights it inherits from the supernet."""
        state = self.sub_state_dict(arch)
        model = freeze(self.model_class, self.path.arch, **self.init_kwargs)
        model.load_state_dict(state, strict=True)
        device = next(iter(state.values())).device if state else None
        return model.to(device) if device is not None else model


def _same_output(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same_output(x, y) for x, y in zip(a, b))
    return type(a) is type(b)


def check_supernet(model_class: type[nn.Module], init_kwargs: Mapping[str, Any] | None = None,
                   mutators: Sequence[Any] = (), method: str = "spos", params: Any = None) -> None:
    """Refuse, before anything trains, a space that cannot become a supernet, or that
    `method` cannot search (the error names the label and the module). Built on the meta
    device: no memory is used for weights."""
    from nas_cli.oneshot._methods import check_method

    try:
        with torch.device("meta"):
            net = Supernet(model_class, init_kwargs, mutators=mutators)
    except SpaceError:
        raise
    except Exception:  # noqa: BLE001 - user code that needs real tensors: the worker will tell
        return
    check_method(net, method, params)


def mixed_labels(model: nn.Module) -> set[str]:
    """The labels the mixed modules under `model` decide on."""
    used: set[str] = set()
    for module in model.modules():
        label = getattr(module, "label", None) if isinstance(module, Mixed) else None
        if label is not None:
            used.add(label)
        used.update(getattr(module, "labels", []) if isinstance(module, Mixed) else [])
    return used


def _check_covered(space: Any, model: nn.Module, attributes: list[tuple[Any, str, Any]]) -> None:
    """Every decision of the space must be one the supernet varies: a decision it never reads
    (a ModelParameterChoice, a choice read with `ensure_frozen` while building) would be
    silently fixed to its first value."""
    used = mixed_labels(model)
    for _, _, value in attributes:
        used.update(leaf.label for leaf in value.leaves())
    unused = [label for label in space.decisions if label not in used]
    if unused:
        raise SpaceError(f"one-shot: {', '.join(unused)} {'shapes' if len(unused) == 1 else 'shape'}"
                         " the model while it is built (a "
                         "ModelParameterChoice, or a choice read with ensure_frozen), so one "
                         "supernet cannot hold every value: use LayerChoice/ValueChoice module "
                         "arguments, or a multi-trial strategy")
