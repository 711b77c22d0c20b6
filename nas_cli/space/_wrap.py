"""`model_wrapper`, `basic_unit` and the `nas_cli.nn` versions of every torch.nn module.

A module built with a ValueChoice among its init arguments records those arguments (to be
discovered) and is built with each choice's first value (so the space runs). Built without
any choice, `nas_cli.nn.Linear(...)` is a genuine `torch.nn.Linear`: frozen models are plain.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, TypeVar, cast

from torch import nn

from nas_cli.errors import ArchError, SpaceError
from nas_cli.space._context import (
    current_fixed,
    fixed_allows_unknown,
    fixed_arch,
    fixed_is_validated,
    model_build,
    unfixed,
)
from nas_cli.space._discover import search_space
from nas_cli.space._value import CHOICE_ARGS, contains_choice, first_values

T = TypeVar("T")


def _record(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    object.__setattr__(module, CHOICE_ARGS, (args, kwargs))


class _Copying:
    """Marks `__new__` calls made by copy/pickle (which pass no init arguments)."""


class _WrappedMeta(type):
    """`isinstance(torch.nn.Linear(...), nas_cli.nn.Linear)` holds, so user code that checks
    module types (weight init loops) works on frozen models too."""

    def __instancecheck__(cls, instance: Any) -> bool:
        torch_class = cls.__dict__.get("_nas_torch_class")
        if torch_class is None:  # a user's subclass: ordinary semantics
            return type.__instancecheck__(cls, instance)
        return isinstance(instance, torch_class)

    def __subclasscheck__(cls, subclass: type) -> bool:
        torch_class = cls.__dict__.get("_nas_torch_class")
        if torch_class is None:
            return type.__subclasscheck__(cls, subclass)
        return issubclass(subclass, torch_class)


def wrap_module(torch_class: type[nn.Module]) -> type[nn.Module]:
    """The `nas_cli.nn` twin of a torch.nn module class: accepts ValueChoice arguments."""

    def __new__(cls, *args: Any, **kwargs: Any):
        if len(args) == 1 and isinstance(args[0], _Copying):  # copy.deepcopy / pickle
            return torch_class.__new__(cls)
        if cls is wrapped and not contains_choice((args, kwargs)):
            return torch_class(*args, **kwargs)
        return torch_class.__new__(cls)

    def __getnewargs_ex__(self):
        return (_Copying(),), {}

    def __init__(self, *args: Any, **kwargs: Any):
        if contains_choice((args, kwargs)):
            torch_class.__init__(self, *first_values(args), **first_values(kwargs))
            _record(self, args, kwargs)
        else:
            torch_class.__init__(self, *args, **kwargs)

    namespace = {
        "__new__": __new__, "__init__": __init__, "__getnewargs_ex__": __getnewargs_ex__, "__module__": "nas_cli.nn",
        "__qualname__": torch_class.__name__, "__doc__": torch_class.__doc__,
        "_nas_torch_class": torch_class,
    }
    # a metaclass call makes a class (mypy types it as the metaclass's instance)
    wrapped = cast(type[nn.Module], _WrappedMeta(torch_class.__name__, (torch_class,), namespace))
    return wrapped


def basic_unit(cls: type[T]) -> type[T]:
    """Mark a user module as a leaf that may take ValueChoice init arguments.

    >>> @basic_unit
    ... class Block(nn.Module):
    ...     def __init__(self, width): ...
    """
    original = cls.__init__

    @functools.wraps(original)
    def __init__(self, *args: Any, **kwargs: Any):
        if contains_choice((args, kwargs)):
            original(self, *first_values(args), **first_values(kwargs))
            _record(self, args, kwargs)
        else:
            original(self, *args, **kwargs)

    setattr(cls, "__init__", __init__)  # noqa: B010 - patched, not assigned to a method
    setattr(cls, "_nas_basic_unit", True)  # noqa: B010 - a marker discovery reads
    return cls


def model_wrapper(cls: type[T]) -> type[T]:
    """Mark the outermost module of a model space; records its init arguments.

    Built under `fixed_arch(arch)`, it checks `arch` against its space first.
    """
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise SpaceError(f"@model_wrapper goes on a torch module class, not {cls!r}")
    original = cls.__init__

    @functools.wraps(original)
    def __init__(self, *args: Any, **kwargs: Any):
        arch = current_fixed()
        with model_build() as outermost:
            if outermost and arch is not None and not fixed_is_validated():
                with unfixed():
                    space = search_space(type(self), _bind(original, args, kwargs))
                canonical = space.validate(arch, allow_unknown=fixed_allows_unknown())
                with fixed_arch(canonical, _validated=True):  # in our labels and values
                    original(self, *args, **kwargs)
            else:
                original(self, *args, **kwargs)
        object.__setattr__(self, "_nas_init_args", (args, kwargs))

    setattr(cls, "__init__", __init__)  # noqa: B010 - patched, not assigned to a method
    setattr(cls, "_nas_model_wrapper", True)  # noqa: B010 - a marker discovery reads
    return cls


def _bind(init: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Positional init arguments as keywords (discovery builds the class from keywords)."""
    if not args:
        return dict(kwargs)
    try:
        bound = inspect.signature(init).bind(None, *args, **kwargs)
    except TypeError as exc:
        raise ArchError(f"bad init arguments: {exc}") from None
    bound.arguments.pop(next(iter(bound.arguments)))
    return dict(bound.arguments)
