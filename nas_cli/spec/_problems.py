"""Pydantic validation errors as the one-line problems a user reads: `key.path: message`."""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

# Error types whose pydantic text we replace with "must be <what the field expects>, got <input>".
_OWN_MESSAGE = {"value_error", "assertion_error", "worded", "dataset"}
M = TypeVar("M", bound=BaseModel)


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice a typo of `word` most likely meant (or that `word` abbreviates), else None."""
    choices = list(choices)
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if match:
        return match[0]
    prefixed = [c for c in choices if len(word) >= 2 and c.startswith(word)]
    return prefixed[0] if len(prefixed) == 1 else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a close choice exists, else ''."""
    match = closest(word, choices)
    return f" (did you mean '{match}'?)" if match else ""


def unknown(what: str, value: Any, choices: Sequence[str], aliases: dict | None = None) -> str:
    """The message for a value not among `choices`, with a hint when one is close:
    unknown strategy 'evo' (choose from random, ...; did you mean 'evolution'?).
    `aliases` maps other accepted spellings to choices; they count when looking for a match."""
    aliases = aliases or {choice: choice for choice in choices}
    match = aliases.get(closest(str(value), aliases) or "")
    hint = f"; did you mean '{match}'?" if match else ""
    return f"unknown {what} {show(value)} (choose from {', '.join(choices)}{hint})"


def key_error(key: str | Sequence[str | int], message: str) -> PydanticCustomError:
    """An error for raising in a model validator, reported at `<model path>.<key>`."""
    return PydanticCustomError("spec", message, {"key": key})


def show(value: Any) -> str:
    """A value as the user wrote it in YAML, shortened."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def problems(exc: ValidationError, root: type[BaseModel]) -> list[str]:
    """One `key.path: message` line per error of `exc`, raised validating `root`."""
    lines = []
    for error in exc.errors():
        path, message = _describe(error, root)
        lines.append(f"{_join(path) or '(top level)'}: {message}")
    return lines


def validated(model: type[M], data: Any, extra_keys: Sequence[str] = ()) -> M:
    """`model.model_validate(data)` for use inside a validator of the section that holds `data`:
    its errors, reworded, become the section's own. `extra_keys`: the section's other keys."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details: list[InitErrorDetails] = []
        for error in exc.errors():
            path, message = _describe(error, model, extra_keys)
            done = PydanticCustomError("worded", message)
            details.append({"type": done, "loc": tuple(path), "input": error["input"]})
        raise ValidationError.from_exception_data(model.__name__, details) from None


def with_params(section: M, params_model: type[BaseModel]) -> M:
    """Check a section's extra keys with its params model and store them with defaults filled
    (`strategy: {name: evolution, population_size: 30}` -> EvolutionParams' keys)."""
    params = validated(
        params_model, section.model_extra, extra_keys=list(type(section).model_fields)
    )
    extra = section.model_extra
    if extra is None:
        raise TypeError(f"{type(section).__name__} keeps no extra keys (extra='allow')")
    extra.clear()
    extra.update(params.model_dump())
    return section


def _describe(error: Any, root: type[BaseModel], extra_keys: Sequence[str] = ()):
    """The key path of a pydantic error and its message in our words."""
    path, owner, node, meta = _locate(root, error["loc"])
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "missing":
        message = "required"
    elif kind == "extra_forbidden":
        valid = _keys(owner) + (list(extra_keys) if owner is root else [])
        message = "unknown key" + did_you_mean(str(path[-1]), valid)
    elif kind == "spec":  # the key: a name, or a list of names and indices below the field
        key = ctx["key"]
        path.extend(key if isinstance(key, list) else [key])
        message = error["msg"]
    elif kind == "union_tag_invalid":
        path.append(ctx["discriminator"].strip("'"))
        tags = ctx["expected_tags"].replace("'", "")
        message = f"must be one of {tags}, got {show(ctx['tag'])}"
    elif kind == "union_tag_not_found":
        path.append(ctx["discriminator"].strip("'"))
        message = "required"
    elif kind in _OWN_MESSAGE or expected(node, meta) is None:
        message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    else:
        message = f"must be {expected(node, meta)}, got {show(error['input'])}"
    return path, message


def _join(path: Sequence[Any]) -> str:
    text = ""
    for item in path:
        text += f"[{item}]" if isinstance(item, int) else f".{item}"
    return text.lstrip(".")


def _keys(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    fields = model.model_fields.items()
    return [field.alias or name for name, field in fields if not field.exclude]


def _locate(root: type[BaseModel], loc: Sequence[Any]):
    """YAML key path of an error location (union tags dropped), the model that owns its last
    key, and that key's type and constraints."""
    path: list[Any] = []
    owner: type[BaseModel] | None = None
    node: Any = root
    meta: list[Any] = []
    for item in loc:
        node = _strip(node)
        if _is_union(node):
            node, meta = _member(node, item)
            continue
        path.append(item)
        if _is_model(node):
            owner = node
            field = next((f for n, f in node.model_fields.items() if item in (n, f.alias)), None)
            node, meta = (field.annotation, field.metadata) if field else (None, [])
        elif get_origin(node) in (list, dict):
            node, meta = get_args(node)[-1], []
        else:
            node, meta = None, []
    return path, owner, node, meta


def _strip(node: Any) -> Any:
    """The type without Annotated wrappers and without `| None`."""
    while get_origin(node) is Annotated:
        node = get_args(node)[0]
    if _is_union(node, count_none=True):
        rest = [arg for arg in get_args(node) if arg is not type(None)]
        if len(rest) == 1:
            return _strip(rest[0])
    return node


def _is_union(node: Any, count_none: bool = False) -> bool:
    if get_origin(node) not in (Union, types.UnionType):
        return False
    return count_none or sum(arg is not type(None) for arg in get_args(node)) > 1


def _is_model(node: Any) -> bool:
    return isinstance(node, type) and issubclass(node, BaseModel)


def _member(union: Any, tag: Any) -> tuple[Any, list[Any]]:
    """The member of `union` that pydantic names `tag` in an error location, and its
    constraints."""
    for member in get_args(union):
        inner, meta = member, []
        if get_origin(member) is Annotated:
            inner, *meta = get_args(member)
        if any(isinstance(m, Tag) and m.tag == tag for m in meta):
            return inner, meta
        if _is_model(inner) and any(
            get_origin(f.annotation) is Literal and tag in get_args(f.annotation)
            for f in inner.model_fields.values()
        ):
            return inner, meta
        if getattr(inner, "__name__", None) == tag:
            return inner, meta
    return None, []


def expected(node: Any, meta: Sequence[Any]) -> str | None:
    """What a value of type `node` with constraints `meta` must be, in words."""
    node = _strip(node)
    if get_origin(node) is Literal:
        return "one of " + ", ".join(str(arg) for arg in get_args(node))
    if node is bool:
        return "true or false"
    if node is int:
        return _bounded("an integer", meta)
    if node is float:
        return _bounded("a number", meta)
    if node is str:
        return "a string"
    if _is_model(node) or get_origin(node) is dict or _is_union(node):
        return "a mapping"
    if get_origin(node) is list:
        return "a list"
    return None


def _bounded(noun: str, meta: Sequence[Any]) -> str:
    """'a positive integer', 'a number between 0 and 1', 'a number >= 0 and < 1', ..."""
    signs = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    bounds = {
        key: getattr(item, key)
        for item in meta
        if isinstance(item, at.Gt | at.Ge | at.Lt | at.Le)
        for key in signs
        if hasattr(item, key)
    }
    word = noun.split()[-1]
    if bounds == {"gt": 0}:
        return f"a positive {word}"
    if bounds == {"ge": 0}:
        return f"a non-negative {word}"
    if bounds.keys() == {"ge", "le"}:
        return f"{noun} between {bounds['ge']} and {bounds['le']}"
    return " ".join([noun, " and ".join(f"{signs[k]} {v}" for k, v in bounds.items())]).strip()
