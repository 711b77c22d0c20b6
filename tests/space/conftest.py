"""Fixtures for the model-space tests: the example spaces (imported by path, like a spec does)
and a check that a frozen model holds no mutable."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from torch import nn

from nas_cli.space import Cell, InputChoice, LayerChoice, Repeat

SPACES_DIR = Path(__file__).resolve().parents[2] / "search_spaces"
MUTABLES = (LayerChoice, InputChoice, Repeat, Cell)


def load_example(name: str) -> ModuleType:
    """`search_spaces/<name>.py` as a module (loaded once per test session)."""
    module_name = f"_nas_example_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, SPACES_DIR / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


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
