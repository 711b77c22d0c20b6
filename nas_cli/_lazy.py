"""Package attributes imported on first use (PEP 562), so importing a package stays cheap:
`nas --help`, `nas status` and a driver that reads a known space never import torch.

    _LAZY = {"freeze": "nas_cli.space._freeze"}
    __getattr__ = lazy_getattr(__name__, _LAZY)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `names[name]` and returns its `name`."""

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
