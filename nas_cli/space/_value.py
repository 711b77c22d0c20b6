"""`ValueChoice` and the derived values built from it by arithmetic (not new decisions)."""

from __future__ import annotations

import itertools
import json
import math
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, Union

from nas_cli.distributions import Distribution
from nas_cli.errors import SpaceError
from nas_cli.space._context import auto_label, current_fixed, current_record


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
        """The ValueChoices (decisions) this value depends on, in order (with repeats)."""
        for operand in self._operands:
            if isinstance(operand, ValueChoiceX):
                yield from operand.leaves()

    def inner_choices(self) -> Iterator[ValueChoice]:
        """NNI's name for `leaves()`: every leaf choice, in order, not deduplicated."""
        return self.leaves()

    def evaluate(self, values: Mapping[str, Any] | Iterable[Any]) -> Any:
        """The concrete value: `values` maps each leaf label to its chosen value, or (NNI's
        form) gives one value per leaf in the order of `inner_choices()`.

        >>> (ValueChoice([1, 2], label="a") * 10).evaluate([2])
        20
        """
        if isinstance(values, Mapping):
            return self._evaluate(lambda leaf: values[leaf.label])
        given = iter(values)

        def take(leaf: ValueChoice) -> Any:
            try:
                value = next(given)
            except StopIteration:
                raise ValueError(f"too few values to evaluate {self!r}: one per inner choice, "
                                 "in the order of inner_choices()") from None
            leaf.check(value)
            return value

        return self._evaluate(take)

    def _evaluate(self, value_of: Callable[[ValueChoice], Any]) -> Any:
        args = [o._evaluate(value_of) if isinstance(o, ValueChoiceX) else o for o in self._operands]
        return self._function(*args)

    def first(self) -> Any:
        """The value when every decision takes its first candidate (a range its middle)."""
        return self._evaluate(lambda leaf: leaf.dry_run())

    def dry_run(self) -> Any:
        """NNI's name for `first()`: the value the unfrozen space is built with."""
        return self.first()

    def all_options(self) -> Iterator[Any]:
        """Every value this can take, one per combination of its leaves' candidates (a label
        met twice counts once), as NNI's `all_options()`."""
        leaves: dict[str, ValueChoice] = {}
        for leaf in self.leaves():
            if getattr(leaf, "distribution", None) is not None:
                raise SpaceError(f"{self!r} takes continuous values: all_options() needs candidates")
            leaves.setdefault(leaf.label, leaf)
        for combination in itertools.product(*(leaf.candidates for leaf in leaves.values())):
            yield self.evaluate(dict(zip(leaves, combination)))

    def __call__(self) -> Any:
        """Calling a choice in `forward` of the unfrozen space gives its first value (NNI)."""
        return self.first()

    # --- NNI 3.0's names for the same ----------------------------------------------------------
    def freeze(self, sample: Mapping[str, Any]) -> Any:
        """NNI 3.0: the value for an architecture `{label: value}`."""
        return self.evaluate(sample)

    def default(self) -> Any:
        """NNI 3.0: the value the unfrozen space is built with."""
        return self.first()

    def grid(self, memo: Any = None, granularity: int | None = None) -> Iterator[Any]:
        """NNI 3.0: every value this can take (`all_options()`)."""
        return self.all_options()

    def simplify(self) -> dict[str, Any]:
        """NNI 3.0: the leaf choices this depends on, by label."""
        return {leaf.label: leaf for leaf in self.leaves()}

    def random(self, memo: dict[str, Any] | None = None, random_state: Any = None) -> Any:
        """NNI 3.0: the value for random candidates of its leaves (one per label; `memo`
        holds values already drawn and receives the new ones)."""
        import random as _random

        memo = {} if memo is None else memo
        rng = random_state if isinstance(random_state, _random.Random) else _random.Random(random_state)
        for label, leaf in self.simplify().items():
            if label not in memo:
                memo[label] = (leaf.distribution.sample(rng) if getattr(leaf, "distribution", None)
                               else rng.choice(leaf.candidates))
        return self.evaluate(memo)

    def __class_getitem__(cls, item: Any) -> type:  # ChoiceOf[int] in type hints
        return cls

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

    def __pow__(self, o, modulo=None):
        if modulo is not None:
            return _apply(pow, (self, o, modulo), "pow")
        return self._op(operator.pow, "**", o)

    def __rpow__(self, o, modulo=None):
        if modulo is not None:
            return _apply(pow, (o, self, modulo), "pow")
        return self._op(operator.pow, "**", o, True)

    def __matmul__(self, o):
        return self._op(operator.matmul, "@", o)

    def __rmatmul__(self, o):
        return self._op(operator.matmul, "@", o, True)

    def __divmod__(self, o):
        return _apply(divmod, (self, o), "divmod")

    def __rdivmod__(self, o):
        return _apply(divmod, (o, self), "divmod")

    def __and__(self, o):
        return self._op(operator.and_, "&", o)

    def __rand__(self, o):
        return self._op(operator.and_, "&", o, True)

    def __or__(self, o):
        return self._op(operator.or_, "|", o)

    def __ror__(self, o):
        return self._op(operator.or_, "|", o, True)

    def __xor__(self, o):
        return self._op(operator.xor, "^", o)

    def __rxor__(self, o):
        return self._op(operator.xor, "^", o, True)

    def __lshift__(self, o):
        return self._op(operator.lshift, "<<", o)

    def __rlshift__(self, o):
        return self._op(operator.lshift, "<<", o, True)

    def __rshift__(self, o):
        return self._op(operator.rshift, ">>", o)

    def __rrshift__(self, o):
        return self._op(operator.rshift, ">>", o, True)

    def __eq__(self, o):
        return self._op(operator.eq, "==", o)

    def __ne__(self, o):
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

    def __pos__(self):
        return ValueChoiceX(operator.pos, [self], f"+{self!r}")

    def __invert__(self):
        return ValueChoiceX(operator.invert, [self], f"~{self!r}")

    def __floor__(self):
        return ValueChoiceX(math.floor, [self], f"math.floor({self!r})")

    def __ceil__(self):
        return ValueChoiceX(math.ceil, [self], f"math.ceil({self!r})")

    def __trunc__(self):
        return self._refuse("math.trunc() (use ValueChoice.to_int)")

    def __abs__(self):
        return ValueChoiceX(abs, [self], f"abs({self!r})")

    def __round__(self, ndigits: int | None = None):
        if ndigits is None:
            return ValueChoiceX(round, [self], f"round({self!r})")
        return _apply(round, (self, ndigits), "round")

    def __getitem__(self, key: Any):
        return ValueChoiceX(operator.getitem, [self, key], f"{self!r}[{key!r}]")

    # --- helpers that work on choices and on plain values alike -------------------------------
    @staticmethod
    def max(*values: Any) -> Any:
        """`ValueChoice.max(a, b)` or `ValueChoice.max([a, b])`: the larger, derived when any
        argument is a choice."""
        return _apply(max, _spread(values), "max")

    @staticmethod
    def min(*values: Any) -> Any:
        return _apply(min, _spread(values), "min")

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


def _spread(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """max([a, b]) as max(a, b)."""
    if len(values) == 1 and isinstance(values[0], list | tuple):
        return tuple(values[0])
    return values


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
    if abs(total - 1) < 1e-9:  # already a distribution: kept as written
        return [float(w) for w in weights]
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

    def _evaluate(self, value_of: Callable[[ValueChoice], Any]) -> Any:
        return value_of(self)

    def dry_run(self) -> Any:
        return self.candidates[0]

    @property
    def values(self) -> list[Any]:
        """NNI 3.0's name for `candidates`."""
        return self.candidates

    def check(self, value: Any) -> None:
        """ValueError unless `value` is one of the candidates."""
        if not any(same_value(value, c) for c in self.candidates):
            raise ValueError(f"{value!r} is not a candidate of {self!r}")


class ContinuousChoice(ValueChoiceX):
    """One decision over a numeric range (NNI 3.0's `nni.uniform`, `nni.loguniform`): a
    dropout rate, a width multiplier. Frozen, it is the chosen number; unfrozen, the space is
    built with the range's middle.

    >>> rate = ContinuousChoice(Distribution(0.0, 0.5), label="rate")
    """

    label: str
    distribution: Distribution
    candidates: list[Any] = []  # none: a range
    prior = None

    def __new__(cls, distribution: Distribution | None = None, *, label: str | None = None):
        if distribution is None:  # copy / pickle
            return super().__new__(cls)
        label = auto_label("continuous", label, nni=False)
        fixed = current_fixed()
        if fixed is not None:
            if label not in fixed:
                return distribution.default()
            try:
                return distribution.normalize(fixed[label])
            except ValueError as exc:
                raise SpaceError(f"label '{label}': {exc}") from None
        self = super().__new__(cls)
        self.label = label
        self.distribution = distribution
        return self

    def __init__(self, distribution: Distribution | None = None, *, label: str | None = None):
        if distribution is not None:
            super().__init__(_identity, [], f"{distribution.describe()} (label={self.label!r})")

    def __getnewargs_ex__(self):
        return (), {}

    def leaves(self) -> Iterator[Any]:
        yield self

    def _evaluate(self, value_of: Callable[[Any], Any]) -> Any:
        return value_of(self)

    def dry_run(self) -> Any:
        return self.distribution.default()

    def check(self, value: Any) -> None:
        self.distribution.normalize(value)


class ModelParameterChoice:
    """NNI's ModelParameterChoice: a decision that is a plain value even while the space is
    built (usable in `if`, `range()`, any function). Unfrozen it is `default` (a candidate, or
    a function of the candidates; the first by default); frozen, the chosen candidate. It is
    always active: nothing tells where the value is used.

    >>> depth = ModelParameterChoice([2, 3, 4], label="depth")   # an int, 2 in the space
    """

    def __new__(cls, candidates: Sequence[Any], *, prior: Sequence[float] | None = None,
                default: Any = None, label: str | None = None) -> Any:
        candidates = list(candidates)
        label = auto_label("parameterchoice", label)
        if not candidates:
            raise SpaceError(f"ModelParameterChoice '{label}': needs at least one candidate")
        fixed = current_fixed()
        if fixed is not None and label in fixed:
            try:
                return pick(candidates, fixed[label])
            except KeyError:
                raise SpaceError(f"label '{label}': {fixed[label]!r} is not a candidate "
                                 f"(candidates: {arch_values(candidates)})") from None
        if default is None:
            default = cls.FIRST
        if not any(same_value(default, c) for c in candidates):
            if not callable(default):
                raise SpaceError(f"ModelParameterChoice '{label}': default {default!r} is "
                                 "neither a candidate nor a function of the candidates")
            default = default(candidates)
        record = current_record()
        if fixed is None and record is not None:
            record.parameters.append(
                (label, candidates, normalized_prior(prior, len(candidates),
                                                     f"ModelParameterChoice '{label}'")))
        return default

    @staticmethod
    def FIRST(candidates: Sequence[Any]) -> Any:  # noqa: N802 - NNI's name
        return candidates[0]

    @staticmethod
    def LAST(candidates: Sequence[Any]) -> Any:  # noqa: N802 - NNI's name
        return candidates[-1]


class _MaybeChoice:
    """`MaybeChoice[int]`: an int or a choice of ints (NNI's type hint)."""

    def __getitem__(self, item: Any) -> Any:
        return Union[ValueChoiceX, item]  # noqa: UP007 - a runtime Union


T = TypeVar("T")

ChoiceOf = ValueChoiceX
if TYPE_CHECKING:
    MaybeChoice = Union[T, ValueChoiceX]
else:
    MaybeChoice = _MaybeChoice()


#: The attribute where a `nas_cli.nn` module or a `@basic_unit` built with ValueChoice
#: arguments keeps them, as `(args, kwargs)`; discovery and the supernet read it.
CHOICE_ARGS = "_nas_choice_args"


def recorded_arguments(module: Any) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """The `(args, kwargs)` with ValueChoices a module was built with, or None."""
    return module.__dict__.get(CHOICE_ARGS)


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
