"""`ValueChoice` and the derived values built from it by arithmetic (not new decisions)."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from nas_cli.errors import SpaceError
from nas_cli.space._context import auto_label, current_fixed


def json_value(value: Any) -> Any:
    """`value` as JSON would record it (tuples become lists), or raise TypeError."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError("non-finite float")
        return value
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: json_value(v) for k, v in value.items()}
    raise TypeError(f"{type(value).__name__} is not JSON")


def arch_values(candidates: Sequence[Any]) -> list[Any]:
    """How an architecture records each candidate: the value itself, or its index when any
    candidate is not JSON."""
    try:
        return [json_value(c) for c in candidates]
    except TypeError:
        return list(range(len(candidates)))


def same_value(a: Any, b: Any) -> bool:
    """Equality as an architecture means it: 1 == 1.0, but True != 1 and (3, 3) == [3, 3]."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if type(a) is type(b) or isinstance(a, int | float) and isinstance(b, int | float):
        return bool(a == b)
    return False


def pick(candidates: Sequence[Any], recorded: Any) -> Any:
    """The candidate that an architecture's recorded value stands for (KeyError if none)."""
    for candidate, value in zip(candidates, arch_values(candidates)):
        if same_value(value, recorded):
            return candidate
    raise KeyError(recorded)


class ValueChoiceX:
    """A value derived from one or more ValueChoices: `vc * 2`, `vc_a + vc_b`, `vc[0]`."""

    def __init__(self, function: Callable[..., Any], operands: Sequence[Any], text: str):
        self._function = function
        self._operands = list(operands)
        self._text = text

    # --- inspection -------------------------------------------------------------------------
    def leaves(self) -> Iterator[ValueChoice]:
        """The ValueChoices (decisions) this value depends on."""
        for operand in self._operands:
            if isinstance(operand, ValueChoiceX):
                yield from operand.leaves()

    def evaluate(self, chosen: dict[str, Any]) -> Any:
        """The concrete value given each leaf label's chosen candidate value."""
        args = [o.evaluate(chosen) if isinstance(o, ValueChoiceX) else o for o in self._operands]
        return self._function(*args)

    def first(self) -> Any:
        """The value when every decision takes its first candidate."""
        return self.evaluate({leaf.label: leaf.candidates[0] for leaf in self.leaves()})

    def __repr__(self) -> str:
        return self._text

    # --- refusing control flow ----------------------------------------------------------------
    def _refuse(self, what: str) -> Any:
        raise SpaceError(
            f"{self!r} cannot be used in {what} while the space is built: pass it to a "
            "nas_cli.nn module or a @basic_unit class, or derive values with arithmetic, "
            "ValueChoice.max/min/condition"
        )

    def __bool__(self) -> bool:
        return self._refuse("an if/while condition or a boolean test")

    def __index__(self) -> int:
        return self._refuse("range() or as an index")

    def __int__(self) -> int:
        return self._refuse("int()")

    def __float__(self) -> float:
        return self._refuse("float()")

    def __iter__(self) -> Iterator[Any]:
        return self._refuse("a for loop or unpacking")

    def __len__(self) -> int:
        return self._refuse("len()")

    # --- arithmetic ---------------------------------------------------------------------------
    def _op(self, fn: Callable[..., Any], symbol: str, other: Any, reflected: bool = False):
        operands = [other, self] if reflected else [self, other]
        text = f"({operands[0]!r} {symbol} {operands[1]!r})"
        return ValueChoiceX(fn, operands, text)

    def __add__(self, o):
        return self._op(operator.add, "+", o)

    def __radd__(self, o):
        return self._op(operator.add, "+", o, True)

    def __sub__(self, o):
        return self._op(operator.sub, "-", o)

    def __rsub__(self, o):
        return self._op(operator.sub, "-", o, True)

    def __mul__(self, o):
        return self._op(operator.mul, "*", o)

    def __rmul__(self, o):
        return self._op(operator.mul, "*", o, True)

    def __truediv__(self, o):
        return self._op(operator.truediv, "/", o)

    def __rtruediv__(self, o):
        return self._op(operator.truediv, "/", o, True)

    def __floordiv__(self, o):
        return self._op(operator.floordiv, "//", o)

    def __rfloordiv__(self, o):
        return self._op(operator.floordiv, "//", o, True)

    def __mod__(self, o):
        return self._op(operator.mod, "%", o)

    def __rmod__(self, o):
        return self._op(operator.mod, "%", o, True)

    def __pow__(self, o):
        return self._op(operator.pow, "**", o)

    def __rpow__(self, o):
        return self._op(operator.pow, "**", o, True)

    def __eq__(self, o):  # type: ignore[override]
        return self._op(operator.eq, "==", o)

    def __ne__(self, o):  # type: ignore[override]
        return self._op(operator.ne, "!=", o)

    __hash__ = object.__hash__  # identity: a choice is one object, whatever its value

    def __lt__(self, o):
        return self._op(operator.lt, "<", o)

    def __le__(self, o):
        return self._op(operator.le, "<=", o)

    def __gt__(self, o):
        return self._op(operator.gt, ">", o)

    def __ge__(self, o):
        return self._op(operator.ge, ">=", o)

    def __neg__(self):
        return ValueChoiceX(operator.neg, [self], f"-{self!r}")

    def __abs__(self):
        return ValueChoiceX(abs, [self], f"abs({self!r})")

    def __round__(self, ndigits: int | None = None):
        return ValueChoiceX(round, [self, ndigits], f"round({self!r})")

    def __getitem__(self, key: Any):
        return ValueChoiceX(operator.getitem, [self, key], f"{self!r}[{key!r}]")

    # --- helpers that work on choices and on plain values alike -------------------------------
    @staticmethod
    def max(*values: Any) -> Any:
        """`ValueChoice.max(a, b)`: the larger, derived when any argument is a choice."""
        return _apply(max, values, "max")

    @staticmethod
    def min(*values: Any) -> Any:
        return _apply(min, values, "min")

    @staticmethod
    def condition(predicate: Any, true: Any, false: Any) -> Any:
        """`true` where `predicate` holds, else `false` (an `if` that works on choices)."""
        return _apply(lambda p, t, f: t if p else f, (predicate, true, false), "condition")

    @staticmethod
    def to_int(value: Any) -> Any:
        return _apply(int, (value,), "int")

    @staticmethod
    def to_float(value: Any) -> Any:
        return _apply(float, (value,), "float")


def _apply(fn: Callable[..., Any], values: Sequence[Any], name: str) -> Any:
    if any(isinstance(v, ValueChoiceX) for v in values):
        return ValueChoiceX(fn, values, f"{name}({', '.join(map(repr, values))})")
    return fn(*values)


def _identity(value: Any) -> Any:
    return value


def normalized_prior(prior: Sequence[float] | None, n: int, where: str) -> list[float] | None:
    """`prior` (one weight per candidate) scaled to sum 1; None stays None (uniform)."""
    if prior is None:
        return None
    weights = list(prior)
    if len(weights) != n or any(isinstance(w, bool) or not isinstance(w, int | float)
                                or not math.isfinite(w) or w < 0 for w in weights) \
            or sum(weights) <= 0:
        raise SpaceError(f"{where}: prior must be {n} non-negative numbers (one per candidate) "
                         f"with a positive sum, got {prior!r}")
    total = sum(weights)
    return [w / total for w in weights]


class ValueChoice(ValueChoiceX):
    """One decision among `candidates`, used as an init argument of nas_cli.nn modules.

    >>> hidden = ValueChoice([32, 64, 128], label="hidden")
    """

    label: str
    candidates: list[Any]
    prior: list[float] | None = None

    def __new__(cls, candidates: Sequence[Any] | None = None, *, prior: Sequence[float] | None = None,
                label: str | None = None):
        if candidates is None:  # copy / pickle
            return super().__new__(cls)
        candidates = list(candidates)
        if not candidates:
            raise SpaceError(f"ValueChoice {label or ''}: needs at least one candidate".replace(" :", ":"))
        label = auto_label("valuechoice", label)
        fixed = current_fixed()
        if fixed is not None:
            if label not in fixed:  # inactive here; validated by the outermost model
                return candidates[0]
            try:
                return pick(candidates, fixed[label])
            except KeyError:
                raise SpaceError(
                    f"label '{label}': {fixed[label]!r} is not a candidate "
                    f"(candidates: {arch_values(candidates)})"
                ) from None
        self = super().__new__(cls)
        self.label = label
        self.candidates = candidates
        self.prior = normalized_prior(prior, len(candidates), f"ValueChoice '{label}'")
        return self

    def __init__(self, candidates: Sequence[Any] | None = None, *,
                 prior: Sequence[float] | None = None, label: str | None = None):
        if candidates is not None:
            super().__init__(_identity, [], f"ValueChoice({self.candidates!r}, label={self.label!r})")

    def __getnewargs_ex__(self):
        return (), {}

    def leaves(self) -> Iterator[ValueChoice]:
        yield self

    def evaluate(self, chosen: dict[str, Any]) -> Any:
        return chosen[self.label]


def contains_choice(obj: Any) -> bool:
    """Whether `obj` (possibly nested in lists, tuples, dicts) holds a ValueChoice."""
    if isinstance(obj, ValueChoiceX):
        return True
    if isinstance(obj, list | tuple):
        return any(contains_choice(o) for o in obj)
    if isinstance(obj, dict):
        return any(contains_choice(o) for o in obj.values())
    return False


def first_values(obj: Any) -> Any:
    """`obj` with every choice replaced by its first value (what the unfrozen space runs)."""
    if isinstance(obj, ValueChoiceX):
        return obj.first()
    if isinstance(obj, list | tuple):
        return type(obj)(first_values(o) for o in obj)
    if isinstance(obj, dict):
        return {k: first_values(v) for k, v in obj.items()}
    return obj


def choice_leaves(obj: Any) -> Iterator[ValueChoice]:
    """Every ValueChoice leaf inside `obj`."""
    if isinstance(obj, ValueChoiceX):
        yield from obj.leaves()
    elif isinstance(obj, list | tuple):
        for o in obj:
            yield from choice_leaves(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from choice_leaves(o)


def describe(value: Any) -> str:
    try:
        return json.dumps(json_value(value))
    except TypeError:
        return repr(value)
