"""Read, check and write experiment specs."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from nas_cli.durations import format_duration
from nas_cli.errors import SpecError
from nas_cli.spec._models import ExperimentSpec, resolve_under
from nas_cli.spec._problems import problems, show
from nas_cli.spec._strategy_params import STRATEGY_PARAMS


def load_spec(
    path: str | Path, overrides: dict[str, Any] | None = None, *, base_dir: str | Path | None = None
) -> ExperimentSpec:
    """Read and check a YAML spec; every problem found is in the SpecError raised.

    `overrides` maps dotted keys to values (`{"max_trial_number": 5, "strategy.seed": 1}`) and is
    applied before checking; None values are skipped. Relative paths resolve against `base_dir`,
    by default the spec file's folder (pass the original one for a copied spec).

    >>> spec = load_spec("specs/quickstart.yaml", {"max_trial_number": 5})
    """
    path = Path(path)
    data = _read_yaml(path)
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, key, value)
    if data.get("experiment_name") is None:
        data["experiment_name"] = path.stem
    return validate_spec(data, path.parent if base_dir is None else base_dir)


def validate_spec(data: dict[str, Any], base_dir: str | Path) -> ExperimentSpec:
    """Check a spec given as a mapping; relative paths in it are relative to `base_dir`."""
    base_dir = Path(base_dir).expanduser().resolve()
    try:
        spec = ExperimentSpec.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise SpecError(problems(exc, ExperimentSpec)) from None
    spec.base_dir = base_dir
    return spec


def resolve_path(spec: ExperimentSpec, path: str | Path) -> Path:
    """A path from the spec, resolved against the spec file's folder unless absolute."""
    return resolve_under(spec.base_dir, path)


def dump_spec(spec: ExperimentSpec) -> str:
    """The spec as YAML, defaults and overrides included; `load_spec` reads it back unchanged."""
    data = spec.model_dump(mode="json", by_alias=True)
    for key in ("max_experiment_duration", "max_trial_duration"):
        if data[key] is not None and data[key] == int(data[key]):  # a fraction stays a number
            data[key] = format_duration(data[key])
    if data["max_trial_memory"] is not None:
        data["max_trial_memory"] = format_size(data["max_trial_memory"])
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def format_size(size: int) -> str | int:
    """8 * 2**30 -> '8GiB', 3 * 2**20 -> '3MiB'; other sizes stay bytes."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20)):
        if size % (1 << shift) == 0:
            return f"{size >> shift}{unit}"
    return size


def json_schema() -> dict[str, Any]:
    """The JSON schema of a spec file, for editors (e.g. yaml-language-server)."""
    schema = ExperimentSpec.model_json_schema(by_alias=True, mode="validation")
    schema["properties"].pop("base_dir", None)
    schema["title"] = "nas-cli experiment spec"
    rules = []  # each strategy's own keys, given its name
    for name, params in STRATEGY_PARAMS.items():
        own = params.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
        schema["$defs"].update(own.pop("$defs", {}))
        rules.append({"if": {"properties": {"name": {"const": name}}},
                      "then": {"properties": own.get("properties", {})}})
    schema["$defs"]["StrategySpec"]["allOf"] = rules
    return schema


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a folder, not a YAML file") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise SpecError(_yaml_problem(path, exc)) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else show(data)
        raise SpecError(
            f"{path}: must be a mapping of keys (model_space, evaluator, ...), got {got}"
        )
    return data


def _yaml_problem(path: Path, exc: yaml.MarkedYAMLError) -> str:
    """'spec.yaml:7: mapping values are not allowed here' (lines counted from 1)."""
    mark = exc.problem_mark or exc.context_mark
    where = f"{path}:{mark.line + 1}" if mark else str(path)
    message = exc.problem or exc.context or "not valid YAML"
    if exc.problem and exc.context and exc.context_mark:
        message += f" ({exc.context} on line {exc.context_mark.line + 1})"
    return f"{where}: {message}"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # SafeLoader itself reports an unhashable key
            if key in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key '{key}'", problem_mark=key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = data
    for i, part in enumerate(parents):
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            where = ".".join(parents[: i + 1])
            raise SpecError(f"{key}: cannot override, {where} is not a mapping")
    node[last] = value
