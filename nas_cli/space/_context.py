"""Build-time context: the fixed architecture (if any) and deterministic automatic labels.

A model space is built in one of two modes. Without a fixed architecture every candidate is
kept (the "space"); under `fixed_arch(arch)` every mutable turns into its chosen form while
the model is constructed, so the result is a plain torch module.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

_local = threading.local()


class _Frame:
    """Counters for automatic labels within one naming scope."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.counters: dict[str, int] = {}

    def next_label(self, kind: str) -> str:
        n = self.counters.get(kind, 0) + 1
        self.counters[kind] = n
        return f"{self.prefix}{kind}_{n}"


def _frames() -> list[_Frame]:
    if not hasattr(_local, "frames"):
        _local.frames = [_Frame()]
    return _local.frames


def auto_label(kind: str, label: str | None) -> str:
    """Return `label`, or the next automatic label of `kind` in the current scope."""
    return _frames()[-1].next_label(kind) if label is None else str(label)


@contextlib.contextmanager
def label_scope(prefix: str) -> Iterator[None]:
    """Automatic labels created inside get `prefix` and counters of their own."""
    frames = _frames()
    frames.append(_Frame(prefix))
    try:
        yield
    finally:
        frames.pop()


def current_fixed() -> dict[str, Any] | None:
    """The architecture being frozen, or None while building the whole space."""
    return getattr(_local, "fixed", None)


def fixed_is_validated() -> bool:
    return getattr(_local, "fixed_validated", False)


def build_depth() -> int:
    return getattr(_local, "depth", 0)


@contextlib.contextmanager
def model_build() -> Iterator[bool]:
    """Entered by each @model_wrapper __init__; yields True for the outermost one, which
    starts a fresh label scope so that the same class with the same arguments gets the same
    automatic labels every time."""
    depth = build_depth()
    _local.depth = depth + 1
    saved = getattr(_local, "frames", None)
    if depth == 0:
        _local.frames = [_Frame()]
    try:
        yield depth == 0
    finally:
        _local.depth = depth
        if depth == 0:
            if saved is None:
                del _local.frames
            else:
                _local.frames = saved


def _load_arch(arch: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(arch, str | Path):
        from nas_cli.errors import ArchError

        try:
            loaded = json.loads(Path(arch).read_text())
        except (OSError, ValueError) as exc:
            raise ArchError(f"cannot read architecture from {arch}: {exc}") from None
        if not isinstance(loaded, dict):
            raise ArchError(f"{arch}: an architecture is a JSON object {{label: value}}")
        return loaded
    return dict(arch)


@contextlib.contextmanager
def fixed_arch(arch: Mapping[str, Any] | str | Path, *, _validated: bool = False) -> Iterator[None]:
    """Build models with this architecture: `with fixed_arch({"conv": 1}): model = Net()`.

    `arch` is a dict or a path to a JSON file. The outermost `@model_wrapper` class checks it
    against its space and refuses a missing, unknown or out-of-range label.
    """
    previous = (current_fixed(), fixed_is_validated())
    _local.fixed = _load_arch(arch)
    _local.fixed_validated = _validated
    try:
        yield
    finally:
        _local.fixed, _local.fixed_validated = previous


@contextlib.contextmanager
def unfixed() -> Iterator[None]:
    """Suspend the fixed architecture (to discover the space while freezing)."""
    previous = (current_fixed(), fixed_is_validated(), build_depth(), getattr(_local, "frames", None))
    _local.fixed, _local.fixed_validated, _local.depth = None, False, 0
    try:
        yield
    finally:
        _local.fixed, _local.fixed_validated, _local.depth, frames = previous
        if frames is not None:
            _local.frames = frames
