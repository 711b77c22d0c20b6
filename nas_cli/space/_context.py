"""Build-time context: the fixed architecture (if any) and deterministic automatic labels.

A model space is built in one of two modes. Without a fixed architecture every candidate is
kept (the "space"); under `fixed_arch(arch)` every mutable turns into its chosen form while
the model is constructed, so the result is a plain torch module.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

_local = threading.local()


class _Frame:
    """Counters for automatic labels within one naming scope.

    Our own scopes (Repeat blocks, Cell ops) prefix automatic labels only: `repeat_1/0/
    layerchoice_1`. An NNI 3.0 `label_scope` (`named=True`) prefixes given labels too, and
    numbers automatic ones in one sequence: `backbone/1`, `backbone/width`.
    """

    def __init__(self, prefix: str = "", *, named: bool = False):
        self.prefix = prefix
        self.named = named
        self.counters: dict[str, int] = {}

    def next_label(self, kind: str) -> str:
        key = "" if self.named else kind
        n = self.counters.get(key, 0) + 1
        self.counters[key] = n
        return f"{self.prefix}{n}" if self.named else f"{self.prefix}{kind}_{n}"


class FinalLabel(str):
    """A label composed from another, already final one (`cell/op_2_0`): no scope applies."""


class BuildRecord:
    """What building a space leaves besides the modules: NNI 2.x's automatic label for each
    of ours (`model_3` -> `layerchoice_1`; a list when one NNI label stands for several of
    ours), and the ModelParameterChoices met (label, candidates, prior)."""

    def __init__(self) -> None:
        self.aliases: dict[str, list[str]] = {}
        self.parameters: list[tuple[str, list[Any], list[float] | None]] = []


def _frames() -> list[_Frame]:
    if not hasattr(_local, "frames"):
        _local.frames = [_Frame()]
    return _local.frames


def _nni_spaces() -> list[list[Any]]:
    """NNI 2.x's namespaces: [name, counter] per @model_wrapper being built."""
    if not hasattr(_local, "nni"):
        _local.nni = [["model", 0]]
    return _local.nni


def _next_nni_label() -> str:
    space = _nni_spaces()[-1]
    space[1] += 1
    return f"{space[0]}_{space[1]}"


def current_record() -> BuildRecord | None:
    return getattr(_local, "record", None)


@contextlib.contextmanager
def recording() -> Iterator[BuildRecord]:
    """Collect the BuildRecord of the space built inside."""
    previous, _local.record = current_record(), BuildRecord()
    try:
        yield _local.record
    finally:
        _local.record = previous


def auto_label(kind: str, label: str | None, *, nni: bool = True) -> str:
    """Return `label` (under the NNI 3.0 label scopes in force), or the next automatic label of
    `kind` in the current scope. `nni`: NNI 2.x would number this mutable too (`model_N`)."""
    if isinstance(label, FinalLabel):
        return label
    frames = _frames()
    if label is not None:
        return "".join(f.prefix for f in frames if f.named) + str(label)
    ours = frames[-1].next_label(kind)
    if nni:
        theirs = _next_nni_label()
        record = current_record()
        if record is not None:
            record.aliases.setdefault(theirs, []).append(ours)
    return ours


@contextlib.contextmanager
def label_scope(prefix: str, *, named: bool = False) -> Iterator[None]:
    """Automatic labels created inside get `prefix` and counters of their own (with `named`,
    given labels get the prefix too, as in NNI 3.0's `label_scope`)."""
    frames = _frames()
    frames.append(_Frame(prefix, named=named))
    try:
        yield
    finally:
        frames.pop()


@contextlib.contextmanager
def same_nni_labels() -> Iterator[Callable[[], None]]:
    """Build several copies that NNI 2.x builds once (a Cell op per possible input): call the
    yielded rewind() before each copy; NNI's automatic labels then repeat across the copies and
    continue after them as after one."""
    space = _nni_spaces()[-1]
    start = space[1]
    end = [start]

    def rewind() -> None:
        end[0] = max(end[0], space[1])
        space[1] = start

    try:
        yield rewind
    finally:
        space[1] = max(end[0], space[1])


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
    saved = getattr(_local, "frames", None), getattr(_local, "nni", None)
    if depth == 0:
        _local.frames = [_Frame()]
        _local.nni = [["model", 0]]
    else:  # NNI 2.x numbers a nested @model_wrapper and gives it a namespace of its own
        _nni_spaces().append([_next_nni_label(), 0])
    try:
        yield depth == 0
    finally:
        _local.depth = depth
        if depth == 0:
            for name, value in zip(("frames", "nni"), saved):
                if value is None:
                    delattr(_local, name)
                else:
                    setattr(_local, name, value)
        else:
            _local.nni.pop()


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
def fixed_arch(arch: Mapping[str, Any] | str | Path, verbose: bool = False, *,
               allow_unknown: bool = False, _validated: bool = False) -> Iterator[None]:
    """Build models with this architecture: `with fixed_arch({"conv": 1}): model = Net()`.

    `arch` is a dict or a path to a JSON file (ours, or one NNI wrote). The outermost
    `@model_wrapper` class checks it against its space and refuses a missing, unknown or
    out-of-range label; with `allow_unknown`, labels the space does not have are dropped with a
    warning. `verbose` prints the architecture to stderr (NNI logs it).
    """
    loaded = _load_arch(arch)
    if verbose:
        print(f"fixed architecture: {json.dumps(loaded, default=repr)}", file=sys.stderr)
    previous = (current_fixed(), fixed_is_validated(), fixed_allows_unknown())
    _local.fixed = loaded
    _local.fixed_validated = _validated
    _local.fixed_allow_unknown = allow_unknown
    try:
        yield
    finally:
        _local.fixed, _local.fixed_validated, _local.fixed_allow_unknown = previous


def fixed_allows_unknown() -> bool:
    return getattr(_local, "fixed_allow_unknown", False)


@contextlib.contextmanager
def unfixed() -> Iterator[None]:
    """Suspend the fixed architecture (to discover the space while freezing)."""
    previous = (current_fixed(), fixed_is_validated(), build_depth(), getattr(_local, "frames", None),
                getattr(_local, "nni", None))
    _local.fixed, _local.fixed_validated, _local.depth = None, False, 0
    try:
        yield
    finally:
        _local.fixed, _local.fixed_validated, _local.depth, frames, nni = previous
        if frames is not None:
            _local.frames = frames
        if nni is not None:
            _local.nni = nni
