"""Generated reference pages: the spec (from its pydantic models), the strategies (from the
spec's table of them), the CLI (from the Typer app), and the files an experiment keeps
(results.json and the study's attributes, from the store's models).

Used by `_hooks.py` at build time (a page holding `<!-- nas:spec-reference -->`,
`<!-- nas:strategy-table -->`, `<!-- nas:cli-reference -->`, `<!-- nas:results-reference -->`
or `<!-- nas:study-reference -->` gets the generated text there) and by tests/docs.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

# --------------------------------------------------------------------------- the spec


def _type_name(annotation: Any) -> str:
    """A reader's name for a field's type: `int`, `adam | sgd`, `list of int`, `section`."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        text = " or ".join(dict.fromkeys(names))
        return text + (" or null" if type(None) in args else "")
    if origin is tuple and len(args) > 1 and Ellipsis not in args:  # a fixed-length pair
        return "[" + ", ".join(_type_name(a) for a in args) + "]"
    if origin in (list, tuple, set):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if isinstance(annotation, type):
        if annotation.__name__ == "Searched":  # nas_cli.spec._search: a searched value
            return "[distribution](multi-objective.md#searched-hyperparameters)"
        if issubclass(annotation, BaseModel):
            return "mapping (below)"
        if issubclass(annotation, enum.Enum):
            return " \\| ".join(f"`{m.value}`" for m in annotation)
        return {"str": "text", "int": "int", "float": "number", "bool": "bool",
                "Path": "path"}.get(annotation.__name__, annotation.__name__)
    return str(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        return "(below)" if isinstance(value, BaseModel) else f"`{value!r}`"
    value = field.default
    if value is PydanticUndefined or value is None:
        return "—"
    if isinstance(value, enum.Enum):
        value = value.value
    return f"`{value}`" if not isinstance(value, str) else f"`{value}`"


def _describe(field: FieldInfo) -> str:
    return " ".join((field.description or "").split())


def model_table(model: type[BaseModel], prefix: str = "", skip: tuple[str, ...] = ()) -> str:
    """A markdown table of a model's keys: key, type, default, meaning."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if name in skip or field.exclude:
            continue
        key = field.alias or name
        rows.append(f"| `{prefix}{key}` | {_type_name(field.annotation)} | {_default(field)} "
                    f"| {_describe(field)} |")
    return "\n".join(rows)


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's type holds (one, or each member of a union)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _models_of(args[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in args for m in _models_of(a)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _doc(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


def spec_reference() -> str:
    """Every key of the experiment spec: the top level, each section, each strategy's and
    early-stopping rule's own keys."""
    from nas_cli.spec import EARLY_STOPPING_PARAMS, STRATEGY_PARAMS, ExperimentSpec

    parts = ["## Top level", "", model_table(ExperimentSpec)]
    for name, field in ExperimentSpec.model_fields.items():
        models = _models_of(field.annotation)
        if not models or field.exclude:
            continue
        name = field.alias or name  # the YAML key
        parts += ["", f"## `{name}`", ""]
        if len(models) == 1:
            parts += [_doc(models[0]), "", model_table(models[0], f"{name}.")]
        else:
            for model in models:
                kind = _variant(model)
                parts += [f"### `{name}` {kind}", "", _doc(model), "",
                          model_table(model, f"{name}.")]
                for inner in _nested(model):
                    parts += ["", f"#### {inner.__name__}", "", _doc(inner), "",
                              model_table(inner)]
                parts.append("")
        if name == "strategy":
            for strategy, params in STRATEGY_PARAMS.items():
                parts += ["", f"### strategy `{strategy}`", "", _doc(params), ""]
                parts += [model_table(params, "strategy.") if params.model_fields
                          else "No parameters of its own."]
        if name == "early_stopping":
            for rule, params in EARLY_STOPPING_PARAMS.items():
                parts += ["", f"### early stopping `{rule}`", "", _doc(params), "",
                          model_table(params, "early_stopping.")]
    return "\n".join(parts) + "\n"


def strategy_table() -> str:
    """The strategies a spec can name, NNI's names beside ours (from `STRATEGY_TABLE`)."""
    from nas_cli.spec import STRATEGY_TABLE

    rows = ["| strategy | NNI's name | what it does | good for |", "|---|---|---|---|"]
    for s in STRATEGY_TABLE:
        nni = ", ".join(f"`{n}`" for n in s.nni) or "—"
        rows.append(f"| `{s.name}` | {nni} | {s.what} | {s.good_for} |")
    return "\n".join(rows)


def _variant(model: type[BaseModel]) -> str:
    """`type: classification | regression` for a union member told apart by a literal key."""
    for name, field in model.model_fields.items():
        if typing.get_origin(field.annotation) is typing.Literal:
            return f"({name}: " + " \\| ".join(map(str, typing.get_args(field.annotation))) + ")"
    return f"({model.__name__})"


def _nested(model: type[BaseModel]) -> list[type[BaseModel]]:
    return [m for f in model.model_fields.values() for m in _models_of(f.annotation)]


def spec_keys() -> set[str]:
    """Every key path the reference documents (for the docs tests)."""
    from nas_cli.spec import EARLY_STOPPING_PARAMS, STRATEGY_PARAMS, ExperimentSpec

    keys = set()
    for name, field in ExperimentSpec.model_fields.items():
        if field.exclude:
            continue
        name = field.alias or name  # the YAML key
        keys.add(name)
        for model in _models_of(field.annotation):
            keys.update(f"{name}.{f.alias or n}" for n, f in model.model_fields.items())
    keys.update(f"strategy.{k}" for p in STRATEGY_PARAMS.values() for k in p.model_fields)
    keys.update(f"early_stopping.{k}" for p in EARLY_STOPPING_PARAMS.values() for k in p.model_fields)
    return keys


# --------------------------------------------------------------------------- experiment files


def _file_models() -> dict[str, list[tuple[str, type[BaseModel]]]]:
    """Each generated reference: (heading, model) for each of its tables."""
    from nas_cli.store import (
        Objective,
        OneShotSection,
        Results,
        StudyMeta,
        SupernetSection,
        TrialDetails,
        TrialEntry,
    )

    return {
        "results": [("", Results), ("`objective`, each of `objectives`", Objective),
                    ("each of `trials`", TrialEntry), ("`oneshot`", OneShotSection),
                    ("`oneshot.supernet`", SupernetSection)],
        "study": [("the study's user attributes", StudyMeta),
                  ("each trial's user attribute `nas`", TrialDetails)],
    }


def _file_reference(part: str) -> str:
    parts: list[str] = []
    for heading, model in _file_models()[part]:
        if heading:
            parts += [f"#### {heading}", ""]
        parts += [_doc(model), "", model_table(model), ""]
    return "\n".join(parts)


def results_reference() -> str:
    """Every key of results.json, from the model the driver writes it with and readers read."""
    return _file_reference("results")


def study_reference() -> str:
    """nas-cli's attributes in the Optuna study (study.db), from the store's models."""
    return _file_reference("study")


def file_keys(part: str) -> dict[str, list[str]]:
    """Model name -> its keys, for the docs tests."""
    return {model.__name__: [f.alias or name for name, f in model.model_fields.items()]
            for _, model in _file_models()[part]}


# --------------------------------------------------------------------------- the CLI


def cli_reference() -> str:
    """Every `nas` command with its arguments and options, from the Typer app itself."""
    import typer

    from nas_cli.cli._app import app

    group = typer.main.get_command(app)
    context = group.make_context("nas", [], resilient_parsing=True)
    parts = [f"`nas` — {group.help}", ""]
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        arguments = [p for p in command.params if getattr(p, "param_type_name", "") == "argument"]
        usage = " ".join(["[OPTIONS]"] + [_metavar(p) if p.required else f"[{_metavar(p)}]"
                                          for p in arguments])
        parts += [f"## `nas {name}`", "", f"```text\nnas {name} {usage}\n```", "",
                  " ".join((command.help or "").split()), ""]
        rows = []
        for param in command.params:
            if param.name == "help":
                continue
            names = ", ".join(f"`{o}`" for o in (*param.opts, *param.secondary_opts))
            if getattr(param, "param_type_name", "") == "argument":
                names = f"`{_metavar(param)}`"
            help_text = " ".join((getattr(param, "help", None) or "").split())
            default = param.default
            if isinstance(default, enum.Enum):
                default = default.value
            shown = f"`{default}`" if default not in (None, False, ()) and not callable(default) else ""
            rows.append(f"| {names} | {help_text} | {shown} |")
        if rows:
            parts += ["| argument / option | meaning | default |", "|---|---|---|", *rows, ""]
    return "\n".join(parts)


def _metavar(param: Any) -> str:
    return getattr(param, "metavar", None) or param.name.upper()


def cli_commands() -> dict[str, list[str]]:
    """Command name -> its option names (for the docs tests)."""
    import typer

    from nas_cli.cli._app import app

    group = typer.main.get_command(app)
    context = group.make_context("nas", [], resilient_parsing=True)
    return {name: [o for p in group.get_command(context, name).params for o in p.opts]
            for name in group.list_commands(context)}
