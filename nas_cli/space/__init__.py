"""The model-space API: mutables, discovery of their decisions, and freezing.

Names are imported on first use: reading a space from its JSON (`SearchSpace.from_json`, as
the driver does for a space it knows) does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas_cli._lazy import lazy_getattr

if TYPE_CHECKING:  # what type checkers and the API docs read; at run time, see _LAZY
    from nas_cli.distributions import Distribution
    from nas_cli.space._cells import (
        AutoActivation,
        FixedNasBench101Cell,
        NasBench101Cell,
        NasBench201Cell,
    )
    from nas_cli.space._context import fixed_arch
    from nas_cli.space._discover import (
        Decision,
        Limit,
        SearchSpace,
        UnknownLabelsWarning,
        build_space,
        search_space,
    )
    from nas_cli.space._freeze import freeze
    from nas_cli.space._mutables import (
        Cell,
        ChosenInputs,
        FixedCell,
        InputChoice,
        LayerChoice,
        MutableModule,
        Repeat,
        input_candidates,
        is_mutable_module,
        reduce_inputs,
        run_cell,
    )
    from nas_cli.space._mutator import Mutator
    from nas_cli.space._value import (
        ChoiceOf,
        ContinuousChoice,
        MaybeChoice,
        ModelParameterChoice,
        ValueChoice,
        ValueChoiceX,
        arch_values,
        choice_leaves,
        describe,
        pick,
        recorded_arguments,
        same_value,
    )
    from nas_cli.space._wrap import basic_unit, model_wrapper, wrap_module

_LAZY = {
    "Distribution": "nas_cli.distributions",
    "AutoActivation": "nas_cli.space._cells",
    "FixedNasBench101Cell": "nas_cli.space._cells",
    "NasBench101Cell": "nas_cli.space._cells",
    "NasBench201Cell": "nas_cli.space._cells",
    "fixed_arch": "nas_cli.space._context",
    "Decision": "nas_cli.space._discover",
    "Limit": "nas_cli.space._discover",
    "SearchSpace": "nas_cli.space._discover",
    "UnknownLabelsWarning": "nas_cli.space._discover",
    "search_space": "nas_cli.space._discover",
    "freeze": "nas_cli.space._freeze",
    "Cell": "nas_cli.space._mutables",
    "ChosenInputs": "nas_cli.space._mutables",
    "FixedCell": "nas_cli.space._mutables",
    "InputChoice": "nas_cli.space._mutables",
    "LayerChoice": "nas_cli.space._mutables",
    "MutableModule": "nas_cli.space._mutables",
    "Repeat": "nas_cli.space._mutables",
    "Mutator": "nas_cli.space._mutator",
    "ChoiceOf": "nas_cli.space._value",
    "ContinuousChoice": "nas_cli.space._value",
    "MaybeChoice": "nas_cli.space._value",
    "ModelParameterChoice": "nas_cli.space._value",
    "ValueChoice": "nas_cli.space._value",
    "ValueChoiceX": "nas_cli.space._value",
    "basic_unit": "nas_cli.space._wrap",
    "model_wrapper": "nas_cli.space._wrap",
    "wrap_module": "nas_cli.space._wrap",
}
# What the packages built on a space (one-shot search, the experiment) read of it.
_LAZY.update(dict.fromkeys(("build_space",), "nas_cli.space._discover"))
_LAZY.update(dict.fromkeys(("input_candidates", "is_mutable_module", "reduce_inputs", "run_cell"),
                           "nas_cli.space._mutables"))
_LAZY.update(dict.fromkeys(("arch_values", "choice_leaves", "describe", "pick", "recorded_arguments",
                            "same_value"), "nas_cli.space._value"))

__all__ = [
    "AutoActivation", "Cell", "ChoiceOf", "ChosenInputs", "ContinuousChoice", "Decision",
    "Distribution", "FixedCell", "FixedNasBench101Cell", "InputChoice", "LayerChoice", "Limit",
    "MaybeChoice", "ModelParameterChoice", "MutableModule", "Mutator", "NasBench101Cell",
    "NasBench201Cell", "Repeat", "SearchSpace", "UnknownLabelsWarning", "ValueChoice",
    "ValueChoiceX", "basic_unit", "fixed_arch", "freeze", "model_wrapper", "search_space",
    "wrap_module",
    "arch_values", "build_space", "choice_leaves", "describe", "input_candidates",
    "is_mutable_module", "pick", "recorded_arguments", "reduce_inputs", "run_cell", "same_value",
]

__getattr__ = lazy_getattr(__name__, _LAZY)
