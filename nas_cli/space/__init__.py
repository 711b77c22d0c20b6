"""The model-space API: mutables, discovery of their decisions, and freezing."""

from nas_cli.distributions import Distribution
from nas_cli.space._context import fixed_arch
from nas_cli.space._discover import Decision, SearchSpace, search_space
from nas_cli.space._freeze import freeze
from nas_cli.space._mutables import Cell, ChosenInputs, FixedCell, InputChoice, LayerChoice, Repeat
from nas_cli.space._mutator import Mutator
from nas_cli.space._value import ValueChoice, ValueChoiceX
from nas_cli.space._wrap import basic_unit, model_wrapper, wrap_module

__all__ = [
    "Cell", "ChosenInputs", "Decision", "Distribution", "FixedCell", "InputChoice", "LayerChoice", "Mutator",
    "Repeat", "SearchSpace", "ValueChoice", "ValueChoiceX", "basic_unit", "fixed_arch", "freeze",
    "model_wrapper", "search_space", "wrap_module",
]
