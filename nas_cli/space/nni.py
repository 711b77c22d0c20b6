"""The rest of NNI's model-space API (2.x `nni.retiarii`, 3.0 `nni.nas.nn.pytorch` and
`nni.mutable`), written on ours: so that a space written for NNI runs with its imports changed.

What NNI had and we do not (the graph-based engine and its mutators) is an attribute that
raises one clear `UnsupportedError` naming what to use instead, not an ImportError.

`nas_cli.nn` and `nas_cli.mutable` (NNI's import paths) take their NNI names from here.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from nas_cli.distributions import Distribution
from nas_cli.errors import SpaceError, UnsupportedError
from nas_cli.space._context import fixed_arch
from nas_cli.space._context import label_scope as _label_scope
from nas_cli.space._mutables import LayerChoice, MutableModule
from nas_cli.space._value import ContinuousChoice, ValueChoice, ValueChoiceX
from nas_cli.space._wrap import basic_unit, model_wrapper

Sample = dict  # an architecture: {label: value}


def label_scope(name: str) -> Any:
    """NNI 3.0's `with label_scope("stage1"):` puts the labels made inside (given or
    automatic) under `stage1/`."""
    return _label_scope(f"{name}/", named=True)


# --------------------------------------------------------------------------- NNI 3.0 modules
class ModelSpace(nn.Module):
    """NNI 3.0's base class of a model space: `class Net(ModelSpace)` is `@model_wrapper class
    Net(nn.Module)`. `class Net(ModelSpace, label_prefix="net")` puts every label of the space
    under `net/` (automatic ones are `net/1`, `net/2`, ...)."""

    _label_prefix: str | None = None

    def __init_subclass__(cls, disable_init_wrapper: bool = False, label_prefix: str | None = None,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._label_prefix = label_prefix
        if disable_init_wrapper or "__init__" not in cls.__dict__:
            setattr(cls, "_nas_model_wrapper", True)  # noqa: B010 - a marker discovery reads
            return
        if label_prefix is not None:
            original = cls.__init__

            @functools.wraps(original)
            def __init__(self: Any, *args: Any, **kw: Any) -> None:
                with _label_scope(f"{label_prefix}/", named=True):
                    original(self, *args, **kw)

            setattr(cls, "__init__", __init__)  # noqa: B010 - patched, not assigned to a method
        model_wrapper(cls)

    def freeze(self, sample: Mapping[str, Any]) -> nn.Module:
        """The plain model of architecture `sample`, built with this space's init arguments."""
        from nas_cli.space._freeze import freeze
        from nas_cli.space._wrap import _bind

        args, kwargs = getattr(self, "_nas_init_args", ((), {}))
        return freeze(type(self), sample, **_bind(type(self).__init__, args, kwargs))


class ParametrizedModule(MutableModule):
    """NNI 3.0's ParametrizedModule: a subclass takes choices as init arguments and is built
    with their values (our `@basic_unit`). `class P(ParametrizedModule, nn.Conv2d,
    wraps=nn.Conv2d)` makes a torch module take choices."""

    def __init_subclass__(cls, disable_init_wrapper: bool = False, wraps: type | None = None,
                          copy_wrapped: bool = False, pure_fixed_module: bool | None = None,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not disable_init_wrapper and ("__init__" in cls.__dict__ or wraps is not None):
            basic_unit(cls)


class Mutable(abc.ABC):  # noqa: B024 - a marker for isinstance checks
    """NNI 3.0's `Mutable`: `isinstance(x, Mutable)` holds for choices, derived values and
    mutable modules."""


Mutable.register(ValueChoiceX)
Mutable.register(MutableModule)


def ensure_frozen(mutable: Any, *, sample: Mapping[str, Any] | None = None, retries: int = 0) -> Any:
    """The plain value of a choice here: its value in `sample`, else the value the unfrozen
    space is built with (frozen, a choice is already its value)."""
    if isinstance(mutable, ValueChoiceX):
        return mutable.first() if sample is None else mutable.evaluate(sample)
    return mutable


def current_model() -> dict[str, Any] | None:
    """NNI 3.0's `current_model()`: the architecture being built, None in the unfrozen space."""
    from nas_cli.space._context import current_fixed

    return current_fixed()


def model_context(sample: Mapping[str, Any]) -> Any:
    """NNI 3.0's `model_context(sample)`: build inside it with that architecture, as checked."""
    return fixed_arch(sample, _validated=True)


# --------------------------------------------------------------------------- NNI 3.0 choices
def choice(label: str, choices: list[Any]) -> Any:
    """`choice("width", [32, 64])`: a ValueChoice; a list of modules makes a LayerChoice."""
    if choices and all(isinstance(c, nn.Module) for c in choices):
        return LayerChoice(choices, label=label)
    return ValueChoice(choices, label=label)


def Categorical(values: list[Any], *, weights: list[float] | None = None,  # noqa: N802 - NNI's name
                default: Any = None, label: str | None = None) -> Any:
    """NNI 3.0's Categorical: a ValueChoice whose `weights` are its prior (`default` is not
    used: the unfrozen space runs the first value)."""
    return ValueChoice(values, prior=weights, label=label)


def Numerical(low: float | None = None, high: float | None = None, *,  # noqa: N802 - NNI's name
              mu: float | None = None, sigma: float | None = None, log_distributed: bool = False,
              quantize: float | None = None, label: str | None = None, default: Any = None) -> Any:
    """NNI 3.0's Numerical on a bounded range: uniform (or log-uniform) in [low, high], on a
    grid of `quantize` from `low` when given. A normal distribution is not supported."""
    if mu is not None or sigma is not None or low is None or high is None:
        raise UnsupportedError(
            f"Numerical {label or ''}: only bounded ranges are supported, not a normal "
            "distribution; use uniform(label, low, high) or loguniform(label, low, high)")
    try:
        distribution = Distribution(low, high, log=log_distributed, step=quantize)
    except ValueError as exc:
        raise SpaceError(f"Numerical '{label}': {exc}") from None
    return ContinuousChoice(distribution, label=label)


def uniform(label: str, low: float, high: float) -> Any:
    """A number drawn uniformly in [low, high] (a dropout rate, say)."""
    return Numerical(low, high, label=label)


def quniform(label: str, low: float, high: float, quantize: float) -> Any:
    """Uniform in [low, high] on a grid of `quantize` from `low`."""
    return Numerical(low, high, quantize=quantize, label=label)


def loguniform(label: str, low: float, high: float) -> Any:
    """A number uniform in log space in [low, high] (low > 0)."""
    return Numerical(low, high, log_distributed=True, label=label)


def qloguniform(label: str, low: float, high: float, quantize: float) -> Any:
    """Log-uniform in [low, high] on a grid of `quantize` from `low`."""
    return Numerical(low, high, log_distributed=True, quantize=quantize, label=label)


# --------------------------------------------------------------------------- pass-throughs
def trace(cls_or_func: Any = None, *, kw_only: bool = True, inheritable: bool = False) -> Any:
    """NNI's `nni.trace`: here a pass-through (workers receive the spec, not traced objects),
    so `nni.trace(MNIST)(root, ...)` still works."""
    if cls_or_func is None:
        return lambda target: target
    return cls_or_func


def serialize(cls: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """NNI 2.x's `serialize(cls, *args)`: here simply `cls(*args)`."""
    return cls(*args, **kwargs)


def serialize_cls(cls: type) -> type:
    """NNI 2.x's `serialize_cls`: a pass-through."""
    return cls


# --------------------------------------------------------------------------- not supported
class Unsupported:
    """An NNI name that has no counterpart here: any use raises one UnsupportedError line
    saying what to do instead (importing it works, so the message is seen)."""

    def __init__(self, name: str, instead: str):
        self._name = name
        self._instead = instead

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise UnsupportedError(f"{self._name} is not supported by nas-cli: {self._instead}")

    __call__ = _refuse

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._refuse()

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        return self._refuse()

    def __repr__(self) -> str:
        return f"<{self._name}: not supported by nas-cli>"


GRAPH = ("nas-cli runs model spaces as Python (NNI's python engine); the graph-based "
         "engine and its graph mutators are not available")

UNSUPPORTED_NN = {
    "Placeholder": Unsupported("Placeholder", f"{GRAPH}; write a LayerChoice, or a "
                               "nas_cli.Mutator that replaces a module of the built model"),
    "MutationAnchor": Unsupported("MutationAnchor", GRAPH),
    "GraphModelSpace": Unsupported("GraphModelSpace", f"{GRAPH}; subclass nas_cli.nn.ModelSpace"),
}

UNSUPPORTED_MUTABLE = {
    "normal": Unsupported("normal", "continuous choices are bounded ranges: use "
                          "uniform(label, low, high) or loguniform(label, low, high)"),
    "qnormal": Unsupported("qnormal", "continuous choices are bounded ranges: use "
                           "quniform(label, low, high, q)"),
    "CategoricalMultiple": Unsupported("CategoricalMultiple", "use nn.InputChoice(n, n_chosen) "
                                       "or one choice per item"),
    "MutableList": Unsupported("MutableList", "keep the choices in a plain list attribute or "
                               "register each with MutableModule.add_mutable"),
    "MutableDict": Unsupported("MutableDict", "keep the choices in a plain dict attribute or "
                               "register each with MutableModule.add_mutable"),
    "Constraint": Unsupported("Constraint", "limit parameters or FLOPs with the spec's "
                              "`constraints:` (max_params, max_flops)"),
    "ExpressionConstraint": Unsupported("ExpressionConstraint", "limit parameters or FLOPs with "
                                        "the spec's `constraints:` (max_params, max_flops)"),
    "frozen_context": Unsupported("frozen_context", "build under fixed_arch(arch); "
                                  "ensure_frozen(choice) gives a choice's value"),
}

SPEC = ("write a spec (model_space, strategy, evaluator, max_trial_number) and run "
        "`nas run spec.yaml`")
UNSUPPORTED_TOP = {  # NNI's experiment API: a spec and `nas run` replace it
    "RetiariiExperiment": Unsupported("RetiariiExperiment", SPEC),
    "RetiariiExeConfig": Unsupported("RetiariiExeConfig", SPEC),
    "NasExperiment": Unsupported("NasExperiment", SPEC),
    "NasExperimentConfig": Unsupported("NasExperimentConfig", SPEC),
    "FunctionalEvaluator": Unsupported("FunctionalEvaluator", "name the function in the spec: "
                                       "evaluator: {type: function, function: 'file.py:name'}"),
    "debug_mutated_model": Unsupported("debug_mutated_model", "run one architecture with "
                                       "`nas trial spec.yaml --arch arch.json`"),
}
globals().update(UNSUPPORTED_TOP)

__all__ = ["Categorical", "Mutable", "ModelSpace", "Numerical", "ParametrizedModule", "Sample",
           "choice", "current_model", "ensure_frozen", "loguniform", "model_context",
           "qloguniform", "quniform", "serialize", "serialize_cls", "trace", "uniform",
           "Unsupported"]
