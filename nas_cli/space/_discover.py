"""Discovery: the labelled decisions of a model space, their conditions, and exact counting.

A decision nested in a LayerChoice candidate (or in a Repeat block) only matters when its
parent takes that candidate (that depth); the space is a tree of decisions, so its size is a
sum over each parent's values of the product of the active children. Architectures are
canonical when they hold exactly the active labels; index <-> architecture is a bijection.
"""

from __future__ import annotations

import difflib
import itertools
import math
import random
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nas_cli.distributions import Distribution
from nas_cli.errors import ArchError, SpaceError
from nas_cli.space._context import recording, unfixed
from nas_cli.space._value import (
    CHOICE_ARGS,
    arch_values,
    choice_leaves,
    contains_choice,
    describe,
    same_value,
)

if TYPE_CHECKING:  # torch is imported where a space is built, not where one is read from JSON
    from torch import nn

    from nas_cli.space._cells import NasBench101Cell
    from nas_cli.space._mutables import Cell
    from nas_cli.space._mutator import Mutator

Condition = list[dict[str, list[Any]]]   # any of these conjunctions {label: values} holds


class UnknownLabelsWarning(UserWarning):
    """An architecture had labels its space does not have; they were ignored (allow_unknown)."""


@dataclass
class Decision:
    """One labelled decision: the values an architecture may record for it.

    `when` says when the decision is active: it is active when any of the conjunctions holds
    (each maps labels to the values they must take); an empty list means always active.
    """

    label: str
    kind: str
    candidates: list[Any]          # as an architecture records them
    names: list[str]               # human-readable, one per candidate
    when: Condition = field(default_factory=list)
    n_chosen: int | None = None    # InputChoice only
    distribution: Distribution | None = None  # a continuous decision: no candidates, a range
    prior: list[float] | None = None  # sampling weights, one per candidate (sum 1); None: uniform

    @property
    def continuous(self) -> bool:
        return self.distribution is not None

    @property
    def parent(self) -> tuple[str, list[Any]] | None:
        """`(label, values)` when the decision depends on exactly one other decision taking
        one of `values`; None when it is always active (see `when` for the general case)."""
        if len(self.when) == 1 and len(self.when[0]) == 1:
            return next(iter(self.when[0].items()))
        return None

    def index_of(self, value: Any) -> int:
        """Index of the candidate an architecture value stands for (ValueError if none)."""
        if self.kind == "input":
            value = [value] if isinstance(value, int) and not isinstance(value, bool) else value
            if isinstance(value, list | tuple):
                value = sorted(value)
        elif self.kind == "layer" and isinstance(value, str) and value.isdigit() and value not in \
                self.candidates and int(value) in self.candidates:
            value = int(value)  # NNI writes the index of a list candidate as a string
        for i, candidate in enumerate(self.candidates):
            if same_value(candidate, value):
                return i
        raise ValueError(value)

    def when_text(self) -> str:
        """`op in ['a'] and depth in [2, 3]`, alternatives joined by `or` ('' if always)."""
        return " or ".join(" and ".join(f"{label} in {values}" for label, values in conj.items())
                           for conj in self.when)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "candidates": self.candidates}
        if self.names != [describe(c) for c in self.candidates]:
            out["names"] = self.names
        if self.when:
            out["when"] = self.when[0] if len(self.when) == 1 else self.when
        if self.n_chosen is not None or self.kind == "input":
            out["n_chosen"] = self.n_chosen
        if self.distribution is not None:
            out["distribution"] = self.distribution.to_json()
        if self.prior is not None:
            out["prior"] = self.prior
        return out

    @classmethod
    def from_json(cls, label: str, data: Mapping[str, Any]) -> Decision:
        when = data.get("when") or []
        when = [when] if isinstance(when, Mapping) else when
        names = data.get("names") or [describe(c) for c in data["candidates"]]
        distribution = data.get("distribution")
        prior = data.get("prior")
        return cls(label, data["kind"], list(data["candidates"]), list(names),
                   [{k: list(v) for k, v in conj.items()} for conj in when], data.get("n_chosen"),
                   None if distribution is None else Distribution.from_json(distribution),
                   None if prior is None else [float(p) for p in prior])

    def draw(self, rng: random.Random, among: Sequence[int] | None = None) -> int:
        """A candidate index drawn by the prior (uniformly without one), among `among` (all
        candidates by default)."""
        among = range(len(self.candidates)) if among is None else among
        if self.prior is None:
            return rng.choice(among)
        weights = [self.prior[i] for i in among]
        if sum(weights) <= 0:  # only zero-weight candidates left: uniform among them
            return rng.choice(among)
        return rng.choices(among, weights)[0]


@dataclass
class Limit:
    """At most `most` in total over some decisions, each candidate of `costs[label]` costing
    that much: NAS-Bench-101's "at most 9 edges" over a cell's input choices."""

    what: str                       # "edges of cell 'c'"
    most: int
    costs: dict[str, list[int]]     # label -> the cost of each of its candidates

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "most": self.most, "costs": self.costs}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Limit:
        return cls(str(data["what"]), int(data["most"]),
                   {k: [int(c) for c in v] for k, v in data["costs"].items()})


# A condition compiled to candidate indices: any of these conjunctions of
# (position of a decision, indices it must take).
_Compiled = list[tuple[tuple[int, frozenset[int]], ...]]


@dataclass
class SearchSpace:
    """The decisions of a model space (in a stable order) and its exact size.

    A decision is active when its condition holds (it sits in a chosen LayerChoice candidate,
    a Repeat block within the chosen depth, an op for the chosen Cell input); an architecture
    holds exactly the active decisions, within its limits (at most so many edges). Counting is
    exact for any such conditions: a dynamic program over the decisions in order, whose state
    is the values of the decisions that later conditions still look at and the running total
    of each limit.

    >>> space = search_space(Net)
    >>> space.size, list(space.decisions)
    """

    decisions: dict[str, Decision]
    # NNI 2.x's automatic labels (`model_3`) -> ours (`layerchoice_1`), for architectures NNI wrote
    aliases: dict[str, list[str]] = field(default_factory=dict)
    limits: list[Limit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._order = _topological(self.decisions)
        self._position = {d.label: i for i, d in enumerate(self._order)}
        self._conditions = [self._compile(d) for d in self._order]
        for limit in self.limits:
            for label in limit.costs:
                if label not in self.decisions:
                    raise SpaceError(f"{limit.what}: limits unknown label '{label}'")
        self._costs = [[(j, limit.costs[d.label]) for j, limit in enumerate(self.limits)
                        if d.label in limit.costs] for d in self._order]
        self._start = (0,) * len(self.limits)  # the state before any decision
        self._completions = self._count()
        self.count = self._completions[0][self._start]  # architectures, continuous values aside
        self.continuous = [d.label for d in self._order if d.continuous]
        self.size: int | float = math.inf if self.continuous else self.count
        self.weighted = any(d.prior is not None for d in self._order)  # some decision has a prior

    def _compile(self, decision: Decision) -> _Compiled:
        compiled = []
        for conj in decision.when:
            atoms = []
            for label, values in conj.items():
                if label not in self.decisions:
                    raise SpaceError(f"label '{decision.label}' depends on unknown label '{label}'")
                other = self.decisions[label]
                indices = set()
                for value in values:
                    try:
                        indices.add(other.index_of(value))
                    except ValueError:
                        raise SpaceError(f"label '{decision.label}' depends on '{label}' taking "
                                         f"{value!r}, which is not one of its candidates") from None
                atoms.append((self._position[label], frozenset(indices)))
            compiled.append(tuple(atoms))
        return compiled

    # --- counting and indexing ----------------------------------------------------------------
    def _count(self) -> list[dict[tuple[int, ...], int]]:
        """completions[i][state]: how many ways decisions i.. can be completed, where `state`
        holds the chosen indices (-1: inactive) of the earlier decisions still looked at."""
        n = len(self._order)
        last_use = [-1] * n
        for i, compiled in enumerate(self._conditions):
            for conj in compiled:
                for position, _ in conj:
                    last_use[position] = max(last_use[position], i)
        live: list[list[int]] = [[]]  # live[i]: positions (< i) a condition at i or later reads
        self._live = live
        for i in range(n):
            live.append([p for p in live[i] if last_use[p] > i] + ([i] if last_use[i] > i else []))
        reachable: list[set[tuple[int, ...]]] = [{self._start}]
        for i in range(n):
            reachable.append({self._next(i, state, v) for state in reachable[i]
                              for v in self._options(i, state)})
        completions: list[dict[tuple[int, ...], int]] = [{} for _ in range(n)]
        completions.append(dict.fromkeys(reachable[n], 1))
        for i in range(n - 1, -1, -1):
            after = completions[i + 1]
            completions[i] = {state: sum(after[self._next(i, state, v)]
                                         for v in self._options(i, state))
                              for state in reachable[i]}
        return completions

    def _active(self, i: int, value_at: Callable[[int], int]) -> bool:
        compiled = self._conditions[i]
        return not compiled or any(all(value_at(p) in allowed for p, allowed in conj)
                                   for conj in compiled)

    def _options(self, i: int, state: tuple[int, ...]) -> Sequence[int]:
        """Candidate indices of decision i in this state (range(-1, 0) when inactive), those
        within the limits."""
        live = self._live[i]
        if not self._active(i, lambda p: state[live.index(p)]):
            return range(-1, 0)
        options = range(1 if self._order[i].continuous else len(self._order[i].candidates))
        if not self._costs[i]:
            return options
        totals = state[len(live):]
        return [v for v in options if all(totals[j] + costs[v] <= self.limits[j].most
                                          for j, costs in self._costs[i])]

    def _next(self, i: int, state: tuple[int, ...], value: int) -> tuple[int, ...]:
        live = self._live[i]
        values = dict(zip(live, state))
        values[i] = value
        following = tuple(values[p] for p in self._live[i + 1])
        if not self.limits:
            return following
        totals = list(state[len(live):])
        if value >= 0:
            for j, costs in self._costs[i]:
                totals[j] += costs[value]
        return following + tuple(totals)

    def decode(self, index: int, rng: random.Random | None = None) -> dict[str, Any]:
        """The architecture with this index in [0, count): a bijection, so uniform indices give
        uniformly sampled architectures and `range(size)` enumerates the space. Continuous
        decisions are drawn from `rng` (their range's middle without one)."""
        if not 0 <= index < self.count:
            raise IndexError(f"architecture index {index} outside [0, {self.count})")
        arch: dict[str, Any] = {}
        state = self._start
        for i, decision in enumerate(self._order):
            for value in self._options(i, state):
                following = self._next(i, state, value)
                width = self._completions[i + 1][following]
                if index < width:
                    if value >= 0:
                        arch[decision.label] = self._value(decision, value, rng)
                    state = following
                    break
                index -= width
        return self._ordered(arch)

    @staticmethod
    def _value(decision: Decision, index: int, rng: random.Random | None) -> Any:
        if decision.distribution is None:
            return decision.candidates[index]
        return decision.distribution.sample(rng) if rng else decision.distribution.default()

    def choose(self, pick: Callable[[Decision], Any]) -> dict[str, Any]:
        """The architecture made by walking the decisions in order, asking `pick(decision)`
        for a candidate index at each active one, or for the value itself at a continuous one
        (strategies sample their own way with it). A pick that would break a limit is replaced
        by the first candidate that keeps the architecture within its limits."""
        values: dict[int, Any] = {}

        def picked(i: int, decision: Decision) -> int:
            value = pick(decision)
            if decision.distribution is None:
                return value
            values[i] = decision.distribution.snap(value)
            return 0

        chosen = self._walk_indices(picked, lambda decision, viable: viable[0])
        return self._from_indices(chosen, values)

    def _walk_indices(self, pick: Callable[[int, Decision], int],
                      repair: Callable[[Decision, list[int]], int]) -> dict[int, int]:
        """Candidate indices of the active decisions, in order: `pick(i, decision)`, or
        `repair(decision, viable)` where the pick would break a limit."""
        chosen: dict[int, int] = {}
        state = self._start
        for i, decision in enumerate(self._order):
            options = self._options(i, state)
            value = -1
            if options and options[0] >= 0:
                value = pick(i, decision)
                if self.limits and not self._viable(i, state, value, options):
                    value = repair(decision, [v for v in options
                                              if self._viable(i, state, v, options)])
                chosen[i] = value
            state = self._next(i, state, value)
        return chosen

    def _viable(self, i: int, state: tuple[int, ...], value: int, options: Sequence[int]) -> bool:
        """Whether decision i may take `value` here and the rest still be completed."""
        return value in options and self._completions[i + 1].get(self._next(i, state, value), 0) > 0

    def sample(self, rng: random.Random) -> dict[str, Any]:
        """A uniformly random architecture (continuous values drawn from their ranges). A
        decision with a prior takes its values with the prior's probabilities whenever it is
        active; the others stay uniform over the architectures that remain."""
        if not self.weighted:
            return self.decode(rng.randrange(self.count), rng)
        arch: dict[str, Any] = {}
        state = self._start
        for i, decision in enumerate(self._order):
            options = list(self._options(i, state))
            widths = [self._completions[i + 1][self._next(i, state, v)] for v in options]
            if options[0] < 0:
                value = -1
            elif decision.prior is not None:
                value = decision.draw(rng, [v for v, w in zip(options, widths) if w > 0])
            else:
                value = rng.choices(options, widths)[0]
            if value >= 0:
                arch[decision.label] = self._value(decision, value, rng)
            state = self._next(i, state, value)
        return self._ordered(arch)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Every architecture once, in index order (a finite space only)."""
        self._require_finite("enumerating the space")
        return (self.decode(i) for i in range(self.count))

    def __len__(self) -> int:
        self._require_finite("len()")
        return self.count

    def _require_finite(self, what: str) -> None:
        if self.continuous:
            raise SpaceError(f"{what} needs a finite space, but {', '.join(self.continuous)} "
                             "take continuous values")

    # --- checking ------------------------------------------------------------------------------
    def validate(self, arch: Mapping[str, Any], *, allow_unknown: bool = False) -> dict[str, Any]:
        """The canonical form of `arch` (its active labels, values as recorded); refuses a
        missing, unknown or out-of-range label with an error naming it. An architecture
        written by NNI (its automatic labels `model_3`, list indices as strings `"0"`) is
        accepted and comes back in our labels. With `allow_unknown`, labels the space does not
        have are dropped with a warning instead of refused."""
        return self.canonical(arch, strict=True, allow_unknown=allow_unknown)

    def canonical(self, arch: Mapping[str, Any], *, strict: bool = False,
                  fill: random.Random | None = None, allow_unknown: bool = False) -> dict[str, Any]:
        """Like `validate`; with `fill`, missing active labels get random values instead of an
        error, and out-of-range values are refused only when `strict`."""
        if not isinstance(arch, Mapping):
            raise ArchError(f"an architecture is a JSON object {{label: value}}, got {type(arch).__name__}")
        arch = self.translate(arch)
        problems = []
        unknown = [label for label in arch if label not in self.decisions]
        if unknown and allow_unknown:
            warnings.warn(f"ignoring labels the space does not have: {', '.join(map(str, unknown))}",
                          UnknownLabelsWarning, stacklevel=3)
            unknown = []
        for label in unknown:
            close = difflib.get_close_matches(str(label), list(self.decisions), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (labels: {', '.join(self.decisions)})"
            problems.append(f"unknown label '{label}'{hint}")
        chosen: dict[int, int] = {}
        values: dict[int, Any] = {}
        for i, decision in enumerate(self._order):
            if not self._active(i, lambda p: chosen.get(p, -1)):
                continue
            if decision.label not in arch:
                if fill is not None:
                    self._fill(i, decision, fill, chosen, values)
                else:
                    problems.append(f"missing label '{decision.label}' (candidates: {_preview(decision)})")
                continue
            try:
                if decision.distribution is not None:
                    chosen[i], values[i] = 0, decision.distribution.normalize(arch[decision.label])
                else:
                    chosen[i] = decision.index_of(arch[decision.label])
            except ValueError:
                if fill is not None and not strict:
                    self._fill(i, decision, fill, chosen, values)
                else:
                    problems.append(f"label '{decision.label}': {arch[decision.label]!r} is out of "
                                    f"range (candidates: {_preview(decision)})")
        if not problems and self.limits:
            over = self._over_limits(chosen)
            if over and fill is not None and not strict:
                chosen = self._within_limits(chosen, fill)
            problems += over if fill is None or strict else []
        if problems:
            raise ArchError("invalid architecture: " + "; ".join(problems))
        return self._from_indices(chosen, values)

    def _over_limits(self, chosen: Mapping[int, int]) -> list[str]:
        totals = [0] * len(self.limits)
        for i, value in chosen.items():
            for j, costs in self._costs[i]:
                totals[j] += costs[value]
        return [f"{limit.what}: {total}, at most {limit.most}"
                for limit, total in zip(self.limits, totals) if total > limit.most]

    def _within_limits(self, chosen: Mapping[int, int], rng: random.Random) -> dict[int, int]:
        """`chosen` with the values that break a limit (and those after them in the same
        limit) redrawn among the ones that keep the architecture within its limits."""
        return self._walk_indices(lambda i, decision: chosen.get(i, -1),
                                  lambda decision, viable: decision.draw(rng, viable))

    def translate(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        """`arch` with NNI 2.x's automatic labels replaced by ours (`model_3/op_2_0` ->
        `cell_1/op_2_0`); a label of ours given as well wins."""
        out = {label: value for label, value in arch.items() if label in self.decisions}
        for label, value in arch.items():
            if label in self.decisions:
                continue
            targets = self._alias_targets(str(label))
            for target in targets:
                out.setdefault(target, value)
            if not targets:
                out[label] = value
        return out

    def _alias_targets(self, label: str) -> list[str]:
        if label in self.aliases:
            return list(self.aliases[label])
        for theirs, ours in self.aliases.items():
            for sep in ("/", "__"):  # a Cell's `model_3/op_2_0`, AutoActivation's `model_4__unary_0`
                if label.startswith(theirs + sep):
                    return [o + label[len(theirs):] for o in ours]
        return []

    @staticmethod
    def _fill(i: int, decision: Decision, rng: random.Random, chosen: dict[int, int],
              values: dict[int, Any]) -> None:
        if decision.distribution is not None:
            chosen[i], values[i] = 0, decision.distribution.sample(rng)
        elif decision.prior is not None:
            chosen[i] = decision.draw(rng)
        else:
            chosen[i] = rng.randrange(len(decision.candidates))

    def is_active(self, label: str, arch: Mapping[str, Any]) -> bool:
        """Whether `label` is active in `arch` (whose own labels are taken as active)."""

        def value_at(position: int) -> int:
            decision = self._order[position]
            try:
                return decision.index_of(arch[decision.label]) if decision.label in arch else -1
            except ValueError:
                return -1

        return self._active(self._position[label], value_at)

    def _from_indices(self, chosen: Mapping[int, int],
                      values: Mapping[int, Any] | None = None) -> dict[str, Any]:
        values = values or {}
        by_label = {self._order[i].label: values[i] if i in values else self._order[i].candidates[v]
                    for i, v in chosen.items()}
        return self._ordered(by_label)

    def _ordered(self, arch: dict[str, Any]) -> dict[str, Any]:
        return {label: arch[label] for label in self.decisions if label in arch}

    # --- presentation --------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """`{"size": N, "labels": {label: {"kind", "candidates", "when"?, ...}}, "aliases"?}`."""
        size = None if self.continuous else self.size  # JSON has no infinity
        out: dict[str, Any] = {"size": size,
                               "labels": {k: d.to_json() for k, d in self.decisions.items()}}
        if self.limits:
            out["limits"] = [limit.to_json() for limit in self.limits]
        if self.aliases:
            out["aliases"] = self.aliases
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchSpace:
        return cls({k: Decision.from_json(k, v) for k, v in data["labels"].items()},
                   {k: list(v) for k, v in data.get("aliases", {}).items()},
                   [Limit.from_json(limit) for limit in data.get("limits", [])])

    def __str__(self) -> str:
        size = "infinitely many" if self.continuous else f"{self.size:,}"
        lines = [f"search space: {len(self.decisions)} decisions, {size} architectures"]
        for d in self.decisions.values():
            when = f"  (when {d.when_text()})" if d.when else ""
            lines.append(f"  {d.label} [{d.kind}]: {_preview(d)}{when}")
        lines += [f"  at most {limit.most} {limit.what}" for limit in self.limits]
        return "\n".join(lines)


def _topological(decisions: Mapping[str, Decision]) -> list[Decision]:
    """The decisions in their order, each moved after the decisions its condition reads (a
    label shared by mutables found later)."""
    order: list[Decision] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def place(decision: Decision) -> None:
        if decision.label in placed:
            return
        if decision.label in visiting:
            raise SpaceError(f"label '{decision.label}' is nested inside a mutable that it "
                             "contains itself (a cycle of shared labels); give them different labels")
        visiting.add(decision.label)
        for conj in decision.when:
            for label in conj:
                if label in decisions:
                    place(decisions[label])
        visiting.discard(decision.label)
        placed.add(decision.label)
        order.append(decision)

    for decision in decisions.values():
        place(decision)
    return order


def _preview(decision: Decision, limit: int = 8) -> str:
    if decision.distribution is not None:
        return decision.distribution.describe()
    shown = ", ".join(decision.names[:limit])
    more = f", ... ({len(decision.names)} in all)" if len(decision.names) > limit else ""
    return f"[{shown}{more}]"


# --------------------------------------------------------------------------- discovery
# While walking a built space, the condition of a mutable is the path of choices above it:
# a tuple of (label, candidate indices it must take).
_Path = tuple[tuple[str, frozenset[int]], ...]


class _Recorder:
    """Collects decisions and the paths they occur under; checks that shared labels agree."""

    def __init__(self) -> None:
        self.decisions: dict[str, Decision] = {}
        self.paths: dict[str, list[_Path]] = {}
        self.aliases: dict[str, list[str]] = {}
        self.limits: list[Limit] = []

    def add(self, label: str, kind: str, candidates: list[Any], names: list[str],
            path: _Path, n_chosen: int | None = None,
            distribution: Distribution | None = None, prior: list[float] | None = None) -> None:
        existing = self.decisions.get(label)
        if existing is None:
            self.decisions[label] = Decision(label, kind, candidates, names, [], n_chosen,
                                             distribution, prior)
            self.paths[label] = [path]
            return
        same = len(existing.candidates) == len(candidates) and all(
            same_value(a, b) for a, b in zip(existing.candidates, candidates)
        ) and (existing.kind == "input") == (kind == "input") and existing.n_chosen == n_chosen
        same = same and existing.distribution == distribution
        if kind == "layer" and existing.kind == "layer":
            same = same and existing.names == names
        if not same:
            raise SpaceError(
                f"label '{label}' is shared by mutables whose candidates disagree: "
                f"{existing.kind} {existing.names} vs {kind} {names}; give them different labels "
                "or the same candidates"
            )
        if prior is not None:
            if existing.prior is not None and existing.prior != prior:
                raise SpaceError(f"label '{label}' is shared by mutables with different priors: "
                                 f"{existing.prior} vs {prior}; give the prior once, or the same")
            existing.prior = prior
        if kind == "repeat":
            existing.kind = "repeat"
        self.paths[label].append(path)

    def finish(self) -> dict[str, Decision]:
        sizes = {label: len(d.candidates) or 1 for label, d in self.decisions.items()}
        full = {label: _simplify(paths, sizes) for label, paths in self.paths.items()}
        for label, decision in self.decisions.items():
            decision.when = [
                {other: [self.decisions[other].candidates[i] for i in sorted(allowed)]
                 for other, allowed in conj.items()}
                for conj in _reduce(full[label], full)
            ]
        return self.decisions


def _simplify(paths: list[_Path], sizes: Mapping[str, int]) -> list[dict[str, frozenset[int]]]:
    """The condition (any of the returned conjunctions) under which a label occurring under
    these paths is active; [] means always. Drops choices that allow every candidate, paths
    that contain another (a label used at two depths under one parent), and merges paths that
    differ in one choice only."""
    conjs: list[dict[str, frozenset[int]]] = []
    for path in dict.fromkeys(paths):  # once each, in order
        conj: dict[str, frozenset[int]] = {}
        for label, allowed in path:
            conj[label] = conj[label] & allowed if label in conj else allowed
        if any(not allowed for allowed in conj.values()):
            continue  # a block no depth reaches: never active here
        conjs.append({k: v for k, v in conj.items() if len(v) < sizes[k]})
    changed = True
    while changed:
        if any(not conj for conj in conjs):
            return []
        changed = False
        for a, b in itertools.permutations(range(len(conjs)), 2):
            first, second = conjs[a], conjs[b]
            if all(k in second and second[k] <= v for k, v in first.items()):
                del conjs[b]  # `first` holds whenever `second` does
                changed = True
                break
            if first.keys() == second.keys():
                differ = [k for k in first if first[k] != second[k]]
                if len(differ) == 1:
                    k = differ[0]
                    merged = dict(first, **{k: first[k] | second[k]})
                    if len(merged[k]) == sizes[k]:
                        del merged[k]
                    conjs[a] = merged
                    del conjs[b]
                    changed = True
                    break
    return conjs


def _reduce(conjs: list[dict[str, frozenset[int]]],
            full: Mapping[str, list[dict[str, frozenset[int]]]]) -> list[dict[str, frozenset[int]]]:
    """Each conjunction without the choices that another of its choices implies (a choice
    nested in a candidate implies the choices above it): `{op: [scaled]}`, not
    `{depth: [2], op: [scaled]}`."""

    def implied(label: str, allowed: frozenset[int], conj: Mapping[str, frozenset[int]]) -> bool:
        for other in conj:
            if other != label and full[other] and all(
                    label in c and c[label] <= allowed for c in full[other]):
                return True
        return False

    return [{k: v for k, v in conj.items() if not implied(k, v, conj)} for conj in conjs]


def _walk(module: nn.Module, path: _Path, recorder: _Recorder) -> None:
    from nas_cli.space._cells import NasBench101Cell
    from nas_cli.space._mutables import Cell, InputChoice, LayerChoice, Repeat

    if isinstance(module, LayerChoice):
        names = [str(n) if isinstance(n, str) else f"{n}: {type(m).__name__}"
                 for n, m in zip(module.names, module.candidates)]
        recorder.add(module.label, "layer", list(module.names), names, path, prior=module.prior)
        for index, candidate in enumerate(module.candidates):
            _walk(candidate, path + ((module.label, frozenset([index])),), recorder)
        return
    if isinstance(module, InputChoice):
        candidates = module.candidates()
        recorder.add(module.label, "input", candidates, [str(c) for c in candidates], path,
                     module.n_chosen, prior=module.prior)
        return
    if isinstance(module, Repeat):
        if module.label is not None:
            recorder.add(module.label, "repeat", list(module.values),
                         [describe(v) for v in module.values], path)
        for index, block in enumerate(module.blocks):
            inner = path
            if module.label is not None:
                deeper = frozenset(i for i, d in enumerate(module.depths) if d > index)
                inner = path + ((module.label, deeper),)
            _walk(block, inner, recorder)
        return
    if isinstance(module, Cell):
        _walk_cell(module, path, recorder)
        return
    if isinstance(module, NasBench101Cell):
        _walk_nb101(module, path, recorder)
        return
    _record_values(module, path, recorder)
    for child in module.children():
        _walk(child, path, recorder)


def _walk_cell(cell: Cell, path: _Path, recorder: _Recorder) -> None:
    """A cell's inputs, then its ops; an op built for one input (a 3-argument factory) is
    active only when the slot takes that input."""
    from torch import nn

    for key in cell.inputs:
        choice = cell.slot_input(key)
        _walk(choice, path, recorder)
        per_input = cell.slot_ops(key)
        for source, op in enumerate(per_input):
            inner = path
            if len(per_input) > 1:
                inner = path + ((choice.label, frozenset([choice.candidates().index([source])])),)
            _walk(op, inner, recorder)
    for processor in (cell.preprocessor, cell.postprocessor):
        if isinstance(processor, nn.Module):
            _walk(processor, path, recorder)
    _record_values(cell, path, recorder)


def _walk_nb101(cell: NasBench101Cell, path: _Path, recorder: _Recorder) -> None:
    """The number of nodes, then each inner node's op and each node's inputs, active when the
    cell has that node; the cell's edges are limited."""
    nodes = cell.num_nodes
    recorder.add(nodes.label, "value", list(nodes.candidates), [str(n) for n in nodes.candidates],
                 path, prior=nodes.prior)

    def having(node: int) -> _Path:
        return path + ((nodes.label, frozenset(k for k, n in enumerate(nodes.candidates) if n > node)),)

    for node, op in enumerate(cell.ops):
        _walk(op, having(node + 1) if node else path, recorder)
    for node, choice in enumerate(cell.inputs):
        _walk(choice, having(node) if node else path, recorder)
    _walk(cell.projections, path, recorder)
    limit = Limit(f"edges of cell '{cell.label}'", cell.max_num_edges,
                  {c.label: [len(s) for s in c.candidates()] for c in cell.input_choices()})
    if limit not in recorder.limits:
        recorder.limits.append(limit)


def _record_values(module: nn.Module, path: _Path, recorder: _Recorder) -> None:
    """The ValueChoices a module holds: its init arguments (a `nas_cli.nn` module or a
    `@basic_unit`) and attributes it keeps (`self.repeats = nn.ValueChoice(...)`)."""
    from nas_cli.space._mutables import MUTABLES

    held = []
    for hidden in (CHOICE_ARGS, MUTABLES):
        if hidden in module.__dict__:
            held.append(module.__dict__[hidden])
    for name, value in module.__dict__.items():
        if not name.startswith("_") and contains_choice(value):
            held.append(value)
    for leaf in choice_leaves(held):
        distribution = getattr(leaf, "distribution", None)
        if distribution is not None:  # a continuous choice: a range, no candidates
            recorder.add(leaf.label, "value", [], [], path, distribution=distribution)
        else:
            recorder.add(leaf.label, "value", arch_values(leaf.candidates),
                         [describe(c) for c in leaf.candidates], path, prior=leaf.prior)


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
    space = SearchSpace(recorder.finish(), recorder.aliases, recorder.limits)
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
    with unfixed(), recording() as record:
        model = instantiate(model_class, init_kwargs)
    recorder = _Recorder()
    _walk(model, (), recorder)
    for label, candidates, prior in record.parameters:  # ModelParameterChoice: always active
        recorder.add(label, "value", arch_values(candidates), [describe(c) for c in candidates],
                     (), prior=prior)
    stems = set(recorder.decisions)  # labels and what precedes each "/" or "__" in them
    for label in recorder.decisions:
        stems.update(label[:m.start()] for m in re.finditer("/|__", label))
    recorder.aliases = {theirs: ours for theirs, ours in record.aliases.items()
                        if any(o in stems for o in ours)}
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
    from torch import nn

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
