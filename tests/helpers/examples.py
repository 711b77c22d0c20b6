"""The example spaces of search_spaces/, imported by path as a spec imports them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SPACES_DIR = Path(__file__).resolve().parents[2] / "search_spaces"


def load_example(name: str) -> ModuleType:
    """`search_spaces/<name>.py` as a module (loaded once per test session)."""
    module_name = f"_nas_example_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, SPACES_DIR / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]
