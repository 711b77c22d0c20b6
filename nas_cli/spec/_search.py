"""Searched values: an evaluator field (or a function evaluator's kwarg) given as a distribution
becomes a hyperparameter that is searched together with the architecture.

    learning_rate: {loguniform: [1.0e-4, 1.0e-1]}
    batch_size: {choice: [32, 64, 128]}
    dropout: {_type: quniform, _value: [0.0, 0.5, 0.1]}     # NNI's search_space.json format

| form                          | values                                                   |
|-------------------------------|----------------------------------------------------------|
| `{choice: [a, b, ...]}`       | one of the values                                        |
| `{uniform: [low, high]}`      | a float in [low, high]                                   |
| `{loguniform: [low, high]}`   | a float in [low, high], uniform in log space (low > 0)   |
| `{randint: [low, high]}`      | an integer in [low, high], both included                 |
| `{quniform: [low, high, q]}`  | low, low + q, ... up to high (low, high multiples of q)  |
| `{qloguniform: [low, high, q]}` | the same grid, drawn uniformly in log space            |

NNI's `{_type: T, _value: [...]}` takes choice, uniform, loguniform, quniform, qloguniform and
randint (NNI's upper bound is excluded: `{_type: randint, _value: [1, 5]}` is 1..4); NNI's
normal distributions are unbounded and refused. A range over an integer field (batch_size,
max_epochs) draws integers. No torch here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    Discriminator,
    PlainSerializer,
    PlainValidator,
    Tag,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from nas_cli.distributions import Distribution
from nas_cli.spec._problems import show
from nas_cli.trials import HP_PREFIX

__all__ = ["HP_PREFIX", "Searchable", "SearchableKwarg", "Searched", "is_form", "parse", "resolved",
           "searchable", "searched_fields"]

RANGES = ("uniform", "loguniform", "randint", "quniform", "qloguniform")
FORMS = ("choice", *RANGES)
NNI_TYPES = (*FORMS, "normal", "qnormal", "lognormal", "qlognormal")
_HINT = ("{choice: [...]}, {uniform: [low, high]}, {loguniform: [low, high]}, "
         "{randint: [low, high]}, {quniform: [low, high, q]}, {qloguniform: [low, high, q]}, "
         "or NNI's {_type: ..., _value: [...]}")


def _error(key: list[Any], message: str) -> PydanticCustomError:
    """An error at `<field>.<key...>` (see nas_cli.spec._problems)."""
    return PydanticCustomError("spec", message, {"key": key})


@dataclass(frozen=True)
class Searched:
    """A searched value: `choices`, or a numeric `distribution`; `form` is what the user
    wrote (written back to spec.yaml as it was)."""

    form: dict[str, Any] = field(compare=False)
    choices: tuple[Any, ...] | None = None
    distribution: Distribution | None = None

    def describe(self) -> str:
        if self.distribution is not None:
            return self.distribution.describe()
        return "choice(" + ", ".join(show(c) for c in self.choices or ()) + ")"


def is_form(value: Any) -> bool:
    """Whether a mapping reads as a distribution: one known key, or NNI's `_type`."""
    return isinstance(value, Mapping) and (
        "_type" in value or (len(value) == 1 and next(iter(value)) in FORMS))


def parse(value: Any, *, integer: bool = False) -> Searched:
    """A distribution mapping as a Searched value; a problem raises an error naming its key."""
    if not isinstance(value, Mapping):
        raise _error([], f"must be a value or a distribution ({_HINT}), got {show(value)}")
    form = dict(value)
    if "_type" in form:
        return _parse_nni(form, integer)
    if len(form) != 1:
        raise _error([], f"a distribution has one key ({_HINT}), got {show(form)}")
    kind, args = next(iter(form.items()))
    if kind not in FORMS:
        raise _error([], f"unknown distribution {show(kind)} (use {_HINT})")
    return _build(form, kind, args, [kind], integer)


def _parse_nni(form: dict[str, Any], integer: bool) -> Searched:
    extra = sorted(set(form) - {"_type", "_value"})
    if extra:
        raise _error([extra[0]], "unknown key (NNI's format is {_type: ..., _value: [...]})")
    kind = form["_type"]
    if kind not in NNI_TYPES:
        raise _error(["_type"], f"unknown NNI distribution {show(kind)} (choose from "
                                f"{', '.join(FORMS)})")
    if kind in ("normal", "qnormal", "lognormal", "qlognormal"):
        raise _error(["_type"], f"NNI's {kind} is not supported: its range is unbounded; "
                                "use uniform or loguniform with bounds")
    if "_value" not in form:
        raise _error(["_value"], "required")
    args = form["_value"]
    if kind == "randint":  # NNI: lower included, upper excluded
        _arity(args, 2, ["_value"], "[lower, upper]")
        low, high = (_number(a, ["_value", i]) for i, a in enumerate(args))
        if not high > low:
            raise _error(["_value"], f"NNI's randint needs lower < upper (upper excluded), "
                                     f"got {show(args)}")
        args = [low, high - 1]
    return _build(form, kind, args, ["_value"], integer)


def _build(form: dict[str, Any], kind: str, args: Any, key: list[Any], integer: bool) -> Searched:
    if kind == "choice":
        if not isinstance(args, list | tuple) or not args:
            raise _error(key, f"must be a non-empty list of values, got {show(args)}")
        return Searched(form, choices=tuple(args))
    quantized = kind.startswith("q")
    _arity(args, 3 if quantized else 2, key, "[low, high, q]" if quantized else "[low, high]")
    low, high, *rest = (_number(a, [*key, i]) for i, a in enumerate(args))
    step = rest[0] if rest else None
    log = "log" in kind
    if low > high:
        raise _error(key, f"low must not exceed high, got {show(list(args))}")
    if log and low <= 0:
        raise _error(key, f"{kind} needs a positive low bound, got {show(low)}")
    if step is not None:
        if step <= 0:
            raise _error([*key, 2], f"q must be positive, got {show(step)}")
        if not (_multiple(low, step) and _multiple(high, step)):
            raise _error(key, f"low and high must be multiples of q (values are rounded to "
                              f"multiples of q), got {show(list(args))}")
    integer = integer or kind == "randint"
    if integer and not (float(low).is_integer() and float(high).is_integer()):
        raise _error(key, f"an integer range needs whole bounds, got {show(list(args))}")
    if integer and step is not None and not float(step).is_integer():
        raise _error([*key, 2], f"q must be a whole number for an integer, got {show(step)}")
    if integer:
        low, high = int(low), int(high)
        step = int(step) if step is not None else None
    return Searched(form, distribution=Distribution(low, high, log, step, integer))


def _arity(args: Any, n: int, key: list[Any], shape: str) -> None:
    if not isinstance(args, list | tuple) or len(args) != n:
        raise _error(key, f"must be {shape}, got {show(args)}")


def _number(value: Any, key: list[Any]) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _error(key, f"must be a finite number, got {show(value)}")
    return value


def _multiple(value: float, step: float) -> bool:
    ratio = value / step
    return abs(ratio - round(ratio)) < 1e-9 * max(1.0, abs(ratio))


_SCHEMA = {
    "title": "searched value",
    "description": "A distribution: the value is searched together with the architecture.",
    "anyOf": [
        {"type": "object", "properties": {"choice": {"type": "array", "minItems": 1}},
         "required": ["choice"], "additionalProperties": False},
        *({"type": "object", "properties": {kind: {
            "type": "array", "items": {"type": "number"},
            "minItems": 3 if kind.startswith("q") else 2,
            "maxItems": 3 if kind.startswith("q") else 2}},
           "required": [kind], "additionalProperties": False} for kind in RANGES),
        {"type": "object", "description": "NNI's search space format",
         "properties": {"_type": {"enum": list(FORMS)}, "_value": {"type": "array"}},
         "required": ["_type", "_value"], "additionalProperties": False},
    ],
}


def searchable(base: Any, *, detect_any_mapping: bool = True) -> Any:
    """`base` or a distribution over values of `base` (checked against it): the type of an
    evaluator field that may be searched. `detect_any_mapping=False` (a kwarg of any type):
    only mappings that read as distributions are searched, other mappings are plain values."""
    adapter = TypeAdapter(base)
    integer = _plain(base) is int
    choice_only = get_origin(_plain(base)) is Literal

    def kind(value: Any) -> str:
        if isinstance(value, Searched):
            return "searched"
        wanted = isinstance(value, Mapping) if detect_any_mapping else is_form(value)
        return "searched" if wanted else "value"

    def validate(value: Any) -> Searched:
        if isinstance(value, Searched):
            return value
        return parse(value, integer=integer)

    def check(value: Any) -> Any:
        if not isinstance(value, Searched):
            return value
        if value.distribution is not None and choice_only:
            raise _error([], "takes one of a fixed set of values: search it with "
                             "{choice: [...]}")
        key = next(iter(value.form)) if "_type" not in value.form else "_value"
        if value.choices is not None:
            values = list(enumerate(value.choices))
        elif value.distribution is not None:
            values = [(0, value.distribution.low), (1, value.distribution.high)]
        else:  # parse() gives one or the other
            values = []
        for index, item in values:
            try:
                adapter.validate_python(item)
            except ValidationError:
                raise _error([key, index], f"must be {_expected(base)}, got {show(item)}") from None
        return value

    member = Annotated[Searched, PlainValidator(validate),
                       PlainSerializer(lambda s: s.form), WithJsonSchema(_SCHEMA)]
    union = Union[Annotated[base, Tag("value")], Annotated[member, Tag("searched")]]
    return Annotated[union, Discriminator(kind), AfterValidator(check)]


def _plain(base: Any) -> Any:
    while get_origin(base) is Annotated:
        base = get_args(base)[0]
    return base


def _expected(base: Any) -> str:
    from nas_cli.spec._problems import expected

    plain = _plain(base)
    meta = list(get_args(base)[1:]) if get_origin(base) is Annotated else []
    return expected(plain, meta) or "a valid value"


def searched_fields(config: Any) -> dict[str, Searched]:
    """The searched fields of an evaluator spec (for a function evaluator, its kwargs), by
    name, in the spec's order."""
    if getattr(config, "type", None) == "function":
        return {k: v for k, v in config.kwargs.items() if isinstance(v, Searched)}
    return {name: getattr(config, name) for name in type(config).model_fields
            if isinstance(getattr(config, name, None), Searched)}


T = TypeVar("T")

if TYPE_CHECKING:
    # What a validated field holds: a value of T, or a distribution over such values.
    Searchable = Union[T, Searched]
    SearchableKwarg = Any
else:
    class Searchable:
        """`field: Searchable[int]`: the type of an evaluator field that may be searched
        (`searchable(int)`; to a type checker, an int or a `Searched`)."""

        def __class_getitem__(cls, base: Any) -> Any:
            return searchable(base)

    # a function evaluator's kwarg: any value; a mapping that reads as a distribution is searched
    SearchableKwarg = searchable(Any, detect_any_mapping=False)


def resolved(value: Searchable[T], name: str) -> T:
    """A searched field's value in a trial (its own value, not a distribution): the worker
    applies the trial's hyperparameters before training; this checks it did."""
    if isinstance(value, Searched):
        raise TypeError(f"evaluator.{name} is still a distribution ({value.describe()}): the "
                        "trial's value was not applied")
    return value
