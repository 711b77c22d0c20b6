"""Fixtures for the model-space tests: the example spaces (imported by path, like a spec does)
and a check that a frozen model holds no mutable."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest
from helpers.examples import load_example
from torch import nn

from nas_cli.space import Cell, InputChoice, LayerChoice, Repeat

MUTABLES = (LayerChoice, InputChoice, Repeat, Cell)


def mutables_in(model: nn.Module) -> list[str]:
    """Names of the mutable modules left in `model` (a frozen model has none)."""
    return [f"{name}: {type(m).__name__}" for name, m in model.named_modules()
            if isinstance(m, MUTABLES)]


@pytest.fixture(scope="session")
def example() -> Callable[[str], ModuleType]:
    return load_example


@pytest.fixture(scope="session")
def assert_frozen() -> Callable[[nn.Module], None]:
    def check(model: nn.Module) -> None:
        assert mutables_in(model) == []
    return check
