"""Importing the user's code by reference: a dotted module, or a .py file by its path.

A .py file is imported once per process under a private name derived from its absolute path,
so the driver, the workers and the dataset loader all agree on it (and pickles refer to it).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def file_module_name(path: Path) -> str:
    """The private module name a .py file is imported under."""
    path = Path(path).resolve()
    return f"nas_user_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"


def import_file(path: Path) -> ModuleType:
    """Import a .py file (once); its folder joins sys.path so it can import its neighbours.
    Raises what the file raises, or FileNotFoundError."""
    path = Path(path).resolve()
    name = file_module_name(path)
    if name in sys.modules:
        return sys.modules[name]
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # not a Python file's name (e.g. no .py suffix)
        raise ImportError(f"cannot import {path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec: dataclasses and pickling look it up there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def import_ref(ref: str, base_dir: Path) -> ModuleType:
    """`ref` is a .py path (relative to `base_dir`) or a dotted module (looked up from the
    current folder and `base_dir` too)."""
    if ref.endswith(".py"):
        return import_file(Path(base_dir) / ref)
    for folder in (str(Path.cwd()), str(base_dir)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    return importlib.import_module(ref)
