"""The model-space API: mutables, discovery of their decisions, and freezing."""

from nas_cli.distributions import Distribution
from nas_cli.space._cells import (
    AutoActivation,
    FixedNasBench101Cell,
    NasBench101Cell,
    NasBench201Cell,
)
from nas_cli.space._context import fixed_arch
from nas_cli.space._discover import Decision, Limit, SearchSpace, UnknownLabelsWarning, search_space
from nas_cli.space._freeze import freeze
from nas_cli.space._mutables import (
    Cell,
    ChosenInputs,
    FixedCell,
    InputChoice,
    LayerChoice,
    MutableModule,
    Repeat,
)
from nas_cli.space._mutator import Mutator
from nas_cli.space._value import (
    ChoiceOf,
    ContinuousChoice,
    MaybeChoice,
    ModelParameterChoice,
    ValueChoice,
    ValueChoiceX,
)
from nas_cli.space._wrap import basic_unit, model_wrapper, wrap_module

__all__ = [
    "AutoActivation", "Cell", "ChoiceOf", "ChosenInputs", "ContinuousChoice", "Decision",
    "Distribution", "FixedCell", "FixedNasBench101Cell", "InputChoice", "LayerChoice", "Limit",
    "MaybeChoice", "ModelParameterChoice", "MutableModule", "Mutator", "NasBench101Cell",
    "NasBench201Cell", "Repeat", "SearchSpace", "UnknownLabelsWarning", "ValueChoice",
    "ValueChoiceX", "basic_unit", "fixed_arch", "freeze", "model_wrapper", "search_space",
    "wrap_module",
]
