"""Discovery: the labelled decisions of a model space, their conditions, and exact counting.

A decision nested in a LayerChoice candidate (or in a Repeat block) only matters when its
parent takes that candidate (that depth); the space is a tree of decisions, so its size is a
sum over each parent's values of the product of the active children. Architectures are
canonical when they hold exactly the active labels; index <-> architecture is a bijection.
"""

from __future__ import annotations

import difflib
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from nas_cli.errors import ArchError, SpaceError
from nas_cli.space._context import unfixed
from nas_cli.space._mutables import InputChoice, LayerChoice, Repeat
from nas_cli.space._mutator import Mutator
from nas_cli.space._value import arch_values, choice_leaves, describe, same_value
from nas_cli.space._wrap import CHOICE_ARGS


@dataclass
class Decision:
    """One labelled decision: the values an architecture may record for it."""

    label: str
    kind: str
    candidates: list[Any]          # as an architecture records them
    names: list[str]               # human-readable, one per candidate
    parent: tuple[str, list[Any]] | None = None  # active only when parent label takes one of these
    n_chosen: int | None = None    # InputChoice only

    def index_of(self, value: Any) -> int:
        """Index of the candidate an architecture value stands for (ValueError if none)."""
        if self.kind == "input":
            value = [value] if isinstance(value, int) and not isinstance(value, bool) else value
            if isinstance(value, list | tuple):
                value = sorted(value)
        for i, candidate in enumerate(self.candidates):
            if same_value(candidate, value):
                return i
        raise ValueError(value)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "candidates": self.candidates}
        if self.names != [describe(c) for c in self.candidates]:
            out["names"] = self.names
        if self.parent is not None:
            out["when"] = {self.parent[0]: self.parent[1]}
        if self.n_chosen is not None or self.kind == "input":
            out["n_chosen"] = self.n_chosen
        return out

    @classmethod
    def from_json(cls, label: str, data: Mapping[str, Any]) -> Decision:
        when = data.get("when")
        parent = None if not when else next(iter(when.items()))
        names = data.get("names") or [describe(c) for c in data["candidates"]]
        return cls(label, data["kind"], list(data["candidates"]), list(names),
                   (parent[0], list(parent[1])) if parent else None, data.get("n_chosen"))


@dataclass
class SearchSpace:
    """The decisions of a model space (in a stable order) and its exact size.

    >>> space = search_space(Net)
    >>> space.size, list(space.decisions)
    """

    decisions: dict[str, Decision]
    _children: dict[tuple[str, Any], list[Decision]] = field(default_factory=dict, repr=False)
    _sizes: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._children = {}
        for decision in self.decisions.values():
            if decision.parent is not None:
                parent, values = decision.parent
                for value in values:
                    self._children.setdefault((parent, _key(value)), []).append(decision)
        self._sizes = {}
        self.roots = [d for d in self.decisions.values() if d.parent is None]
        self.size = self._group_size(self.roots)

    # --- counting and indexing ----------------------------------------------------------------
    def children(self, label: str, value: Any) -> list[Decision]:
        return self._children.get((label, _key(value)), [])

    def _decision_size(self, decision: Decision) -> int:
        if decision.label not in self._sizes:
            self._sizes[decision.label] = 0  # guards against a (malformed) cycle
            self._sizes[decision.label] = sum(
                self._group_size(self.children(decision.label, v)) for v in decision.candidates
            )
        return self._sizes[decision.label]

    def _group_size(self, group: Sequence[Decision]) -> int:
        return math.prod(self._decision_size(d) for d in group)

    def decode(self, index: int) -> dict[str, Any]:
        """The architecture with this index in [0, size): a bijection, so uniform indices give
        uniformly sampled architectures and `range(size)` enumerates the space."""
        if not 0 <= index < self.size:
            raise IndexError(f"architecture index {index} outside [0, {self.size})")
        arch: dict[str, Any] = {}
        self._decode_group(self.roots, index, arch)
        return self._ordered(arch)

    def _decode_group(self, group: Sequence[Decision], index: int, arch: dict[str, Any]) -> None:
        for decision in group:
            size = self._decision_size(decision)
            local, index = index % size, index // size
            for value in decision.candidates:
                children = self.children(decision.label, value)
                width = self._group_size(children)
                if local < width:
                    arch[decision.label] = value
                    self._decode_group(children, local, arch)
                    break
                local -= width

    def choose(self, pick: Callable[[Decision], int]) -> dict[str, Any]:
        """The architecture made by walking the decision tree, asking `pick(decision)` for a
        candidate index at each active decision (strategies sample their own way with it)."""
        arch: dict[str, Any] = {}

        def visit(group: Sequence[Decision]) -> None:
            for decision in group:
                arch[decision.label] = decision.candidates[pick(decision)]
                visit(self.children(decision.label, arch[decision.label]))

        visit(self.roots)
        return self._ordered(arch)

    def sample(self, rng: random.Random) -> dict[str, Any]:
        """A uniformly random architecture."""
        return self.decode(rng.randrange(self.size))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Every architecture once, in index order."""
        return (self.decode(i) for i in range(self.size))

    def __len__(self) -> int:
        return self.size

    # --- checking ------------------------------------------------------------------------------
    def validate(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        """The canonical form of `arch` (its active labels, values as recorded); refuses a
        missing, unknown or out-of-range label with an error naming it."""
        return self.canonical(arch, strict=True)

    def canonical(self, arch: Mapping[str, Any], *, strict: bool = False,
                  fill: random.Random | None = None) -> dict[str, Any]:
        """Like `validate`; with `fill`, missing active labels get random values instead of an
        error, and out-of-range values are refused only when `strict`."""
        if not isinstance(arch, Mapping):
            raise ArchError(f"an architecture is a JSON object {{label: value}}, got {type(arch).__name__}")
        problems = []
        for label in arch:
            if label not in self.decisions:
                close = difflib.get_close_matches(str(label), list(self.decisions), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (labels: {', '.join(self.decisions)})"
                problems.append(f"unknown label '{label}'{hint}")
        out: dict[str, Any] = {}

        def visit(group: Sequence[Decision]) -> None:
            for decision in group:
                if decision.label not in arch:
                    if fill is not None:
                        value = fill.choice(decision.candidates)
                    else:
                        problems.append(f"missing label '{decision.label}' (candidates: {_preview(decision)})")
                        continue
                else:
                    try:
                        value = decision.candidates[decision.index_of(arch[decision.label])]
                    except ValueError:
                        if fill is not None and not strict:
                            value = fill.choice(decision.candidates)
                        else:
                            problems.append(
                                f"label '{decision.label}': {arch[decision.label]!r} is out of range "
                                f"(candidates: {_preview(decision)})"
                            )
                            continue
                out[decision.label] = value
                visit(self.children(decision.label, value))

        visit(self.roots)
        if problems:
            raise ArchError("invalid architecture: " + "; ".join(problems))
        return self._ordered(out)

    def is_active(self, label: str, arch: Mapping[str, Any]) -> bool:
        parent = self.decisions[label].parent
        if parent is None:
            return True
        return parent[0] in arch and self.is_active(parent[0], arch) and any(
            same_value(arch[parent[0]], v) for v in parent[1]
        )

    def _ordered(self, arch: dict[str, Any]) -> dict[str, Any]:
        return {label: arch[label] for label in self.decisions if label in arch}

    # --- presentation --------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """`{"size": N, "labels": {label: {"kind", "candidates", ...}}}` (CONTRACT section 3)."""
        return {"size": self.size, "labels": {k: d.to_json() for k, d in self.decisions.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchSpace:
        return cls({k: Decision.from_json(k, v) for k, v in data["labels"].items()})

    def __str__(self) -> str:
        lines = [f"search space: {len(self.decisions)} decisions, {self.size:,} architectures"]
        for d in self.decisions.values():
            when = f"  (when {d.parent[0]} in {d.parent[1]})" if d.parent else ""
            lines.append(f"  {d.label} [{d.kind}]: {_preview(d)}{when}")
        return "\n".join(lines)


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _preview(decision: Decision, limit: int = 8) -> str:
    shown = ", ".join(decision.names[:limit])
    more = f", ... ({len(decision.names)} in all)" if len(decision.names) > limit else ""
    return f"[{shown}{more}]"


class _Recorder:
    """Collects decisions while walking a built space; checks that shared labels agree."""

    def __init__(self) -> None:
        self.decisions: dict[str, Decision] = {}
        self.conditions: dict[str, list[tuple[tuple[str, frozenset], ...]]] = {}

    def add(self, label: str, kind: str, candidates: list[Any], names: list[str],
            condition: tuple, n_chosen: int | None = None) -> None:
        existing = self.decisions.get(label)
        if existing is None:
            self.decisions[label] = Decision(label, kind, candidates, names, None, n_chosen)
            self.conditions[label] = [condition]
            return
        same = len(existing.candidates) == len(candidates) and all(
            same_value(a, b) for a, b in zip(existing.candidates, candidates)
        ) and (existing.kind == "input") == (kind == "input") and existing.n_chosen == n_chosen
        if kind == "layer" and existing.kind == "layer":
            same = same and existing.names == names
        if not same:
            raise SpaceError(
                f"label '{label}' is shared by mutables whose candidates disagree: "
                f"{existing.kind} {existing.names} vs {kind} {names}; give them different labels "
                "or the same candidates"
            )
        if kind == "repeat":
            existing.kind = "repeat"
        self.conditions[label].append(condition)

    def finish(self) -> dict[str, Decision]:
        for label, conditions in self.conditions.items():
            self.decisions[label].parent = _merge(conditions)
        return self.decisions


def _merge(conditions: list[tuple]) -> tuple[str, list[Any]] | None:
    """The parent condition of a label from the conditions of all its occurrences."""
    if any(not c for c in conditions):
        return None
    # Only the immediate parent matters: the parent carries its own condition.
    parent = conditions[0][-1][0]
    if all(c[-1][0] == parent for c in conditions):
        values: list[Any] = []
        for c in conditions:
            values.extend(v for v in c[-1][1] if v not in values)
        return parent, values
    return None  # occurrences under different parents: counted as always active


def _walk(module: nn.Module, condition: tuple, recorder: _Recorder) -> None:
    if isinstance(module, LayerChoice):
        names = [str(n) if isinstance(n, str) else f"{n}: {type(m).__name__}"
                 for n, m in zip(module.names, module.candidates)]
        recorder.add(module.label, "layer", list(module.names), names, condition)
        for name, candidate in zip(module.names, module.candidates):
            _walk(candidate, condition + ((module.label, (name,)),), recorder)
        return
    if isinstance(module, InputChoice):
        candidates = module.candidates()
        recorder.add(module.label, "input", candidates, [str(c) for c in candidates], condition,
                     module.n_chosen)
        return
    if isinstance(module, Repeat):
        if module.label is not None:
            recorder.add(module.label, "repeat", list(module.depths),
                         [str(d) for d in module.depths], condition)
        for index, block in enumerate(module.blocks):
            inner = condition
            if module.label is not None:
                deeper = tuple(d for d in module.depths if d > index)
                inner = condition + ((module.label, deeper),)
            _walk(block, inner, recorder)
        return
    choice_args = module.__dict__.get(CHOICE_ARGS)
    if choice_args is not None:
        for leaf in choice_leaves(choice_args):
            recorder.add(leaf.label, "value", arch_values(leaf.candidates),
                         [describe(c) for c in leaf.candidates], condition)
    for child in module.children():
        _walk(child, condition, recorder)


_CACHE: dict[Any, SearchSpace] = {}


def search_space(model_class: type[nn.Module], init_kwargs: Mapping[str, Any] | None = None,
                 mutators: Sequence[Mutator] = ()) -> SearchSpace:
    """Discover the labelled decisions of a `@model_wrapper` class and count its architectures.

    >>> space = search_space(Net)
    >>> print(space)          # labels, candidates, size
    """
    init_kwargs = dict(init_kwargs or {})
    try:
        key = (model_class, repr(sorted(init_kwargs.items())),
               tuple((type(m), m.full_label, repr(sorted(vars(m).items()))) for m in mutators))
        hash(key)
    except TypeError:
        key = None
    if key is not None and key in _CACHE:
        return _CACHE[key]
    model, recorder = build_space(model_class, init_kwargs)
    for mutator in mutators:
        model = _dry_run(mutator, model, recorder)
    space = SearchSpace(recorder.finish())
    if key is not None:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = space
    return space


def build_space(model_class: type[nn.Module], init_kwargs: Mapping[str, Any]) -> tuple[nn.Module, _Recorder]:
    """Build the whole space (every candidate) and walk it."""
    if not getattr(model_class, "_nas_model_wrapper", False):
        name = getattr(model_class, "__name__", repr(model_class))
        raise SpaceError(f"{name} is not a model space: decorate the class with @model_wrapper")
    with unfixed():
        model = instantiate(model_class, init_kwargs)
    recorder = _Recorder()
    _walk(model, (), recorder)
    return model, recorder


def instantiate(model_class: type[nn.Module], init_kwargs: Mapping[str, Any]) -> nn.Module:
    """Build the user's class; its errors become one SpaceError line."""
    try:
        return model_class(**init_kwargs)
    except SpaceError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code
        raise SpaceError(f"building {model_class.__name__} failed: "
                         f"{type(exc).__name__}: {exc}") from exc


def _dry_run(mutator: Mutator, model: nn.Module, recorder: _Recorder) -> nn.Module:
    def record(label: str, candidates: list[Any]) -> int:
        if not candidates:
            raise SpaceError(f"mutator '{mutator.full_label}': choice() needs at least one candidate")
        recorder.add(label, "mutator", list(range(len(candidates))),
                     [describe(c) if not isinstance(c, nn.Module) else type(c).__name__ for c in candidates], ())
        return 0

    try:
        return mutator.apply(model, record)
    except SpaceError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code
        raise SpaceError(f"mutator '{mutator.full_label}' failed: {type(exc).__name__}: {exc}") from exc
