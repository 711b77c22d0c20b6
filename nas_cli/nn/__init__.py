"""Drop-in for `torch.nn`: every module accepts ValueChoice init arguments, plus the mutables.

    import nas_cli.nn as nn
    nn.Linear(8, nn.ValueChoice([32, 64], label="hidden"))
"""

import warnings

import torch.nn as _torch_nn

from nas_cli.space import (
    Cell,
    ChosenInputs,
    FixedCell,
    InputChoice,
    LayerChoice,
    Repeat,
    ValueChoice,
    ValueChoiceX,
    wrap_module,
)

# Containers and bases take modules, not values: they stay torch's own classes.
_AS_IS = {"Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict",
          "Container", "Identity"}


def _wrap_all() -> dict[str, type]:
    wrapped = {}
    with warnings.catch_warnings():  # subclassing deprecated modules (NLLLoss2d) warns
        warnings.simplefilter("ignore")
        for name in dir(_torch_nn):
            obj = getattr(_torch_nn, name)
            if (isinstance(obj, type) and issubclass(obj, _torch_nn.Module)
                    and not name.startswith("_") and name not in _AS_IS):
                wrapped[name] = wrap_module(obj)
    return wrapped


_WRAPPED = _wrap_all()
globals().update(_WRAPPED)
Module = _torch_nn.Module
Sequential = _torch_nn.Sequential
ModuleList = _torch_nn.ModuleList
ModuleDict = _torch_nn.ModuleDict
ParameterList = _torch_nn.ParameterList
ParameterDict = _torch_nn.ParameterDict
Identity = _torch_nn.Identity
Parameter = _torch_nn.Parameter
functional = _torch_nn.functional
init = _torch_nn.init
utils = _torch_nn.utils


def __getattr__(name: str):
    """Anything else torch.nn has (its submodules, helpers) is torch's own."""
    return getattr(_torch_nn, name)


__all__ = ["Cell", "ChosenInputs", "FixedCell", "InputChoice", "LayerChoice", "Repeat",
           "ValueChoice", "ValueChoiceX", *sorted(_WRAPPED)]
