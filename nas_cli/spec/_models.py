"""The experiment spec as pydantic models: one class per YAML section."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import annotated_types as at
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)

from nas_cli.durations import parse_duration
from nas_cli.evaluator import COST_METRICS
from nas_cli.spec._early_stopping import EARLY_STOPPING_PARAMS
from nas_cli.spec._problems import key_error, show, unknown, with_params
from nas_cli.spec._search import Searchable, SearchableKwarg, searched_fields
from nas_cli.spec._strategy_params import MULTI_TRIAL, ONE_SHOT, StrategySpec

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)([iI]?[bB])?\s*$")
_UNIT_BYTES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
SIZE_SCHEMA = {"anyOf": [{"type": "integer", "exclusiveMinimum": 0},
                         {"type": "string", "pattern": _SIZE.pattern}, {"type": "null"}],
               "examples": ["8GiB", "512MiB"]}


def parse_size(value: Any) -> int | None:
    """'8GiB' -> 8 * 2**30; K, M, G, T (with or without 'B' or 'iB') are powers of 1024; a bare
    number is bytes; None stays None."""
    if value is None:
        return None
    problem = f"must be a size like 8GiB or 512MiB, got {value!r}"
    if isinstance(value, bool):
        raise ValueError(problem)
    if isinstance(value, int | float):
        size = float(value)
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(problem)
        size = float(match.group(1)) * _UNIT_BYTES[match.group(2).lower()]
    if not math.isfinite(size) or size < 1 << 20:
        raise ValueError(f"must be at least 1MiB, got {value!r}")
    return int(size)


def resolve_under(base_dir: str | Path, path: str | Path) -> Path:
    """`path` if absolute (after `~` expansion), else `base_dir / path`, normalized."""
    return Path(os.path.normpath(Path(base_dir, Path(path).expanduser())))


_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _check_module(module: str, info: ValidationInfo) -> str:
    """A `.py` path must exist (relative to the spec's folder); anything else is a dotted name."""
    base_dir = (info.context or {}).get("base_dir")
    if module.endswith(".py"):
        if base_dir is not None and not resolve_under(base_dir, module).is_file():
            raise ValueError(f"file not found: {resolve_under(base_dir, module)}")
    elif not _DOTTED.match(module):
        raise ValueError(
            f"must be a .py file or a dotted module name like 'pkg.module', got {show(module)}"
        )
    return module


def _reference(what: str) -> Callable[[str, ValidationInfo], str]:
    """The check of a `"module:name"` string; the module part is checked like
    `model_space.module`."""

    def check(value: str, info: ValidationInfo) -> str:
        module, colon, name = value.rpartition(":")
        if not (colon and module and _DOTTED.match(name)):
            raise ValueError(
                f"must have the form 'module:{what}' (a dotted module or a .py file, a colon, "
                f"then a name), got {show(value)}"
            )
        _check_module(module, info)
        return value

    return check


ModuleRef = Annotated[str, AfterValidator(_check_module)]
FunctionRef = Annotated[str, AfterValidator(_reference("function"))]
ClassRef = Annotated[str, AfterValidator(_reference("Class"))]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ModelSpaceSpec(_Section):
    module: ModuleRef
    class_name: str = Field(alias="class")
    init_kwargs: dict[str, Any] = Field(default_factory=dict)
    mutators: list[ClassRef] = Field(default_factory=list)


class DatasetFactory(_Section):
    factory: FunctionRef
    kwargs: dict[str, Any] = Field(default_factory=dict)


class TorchvisionDataset(_Section):
    name: Literal["mnist", "fashion_mnist", "cifar10"]
    root: str


# Built-in datasets (offline) and the evaluator type each one serves.
BUILTIN_DATASETS = {"digits": "classification", "diabetes": "regression"}


def _builtin_dataset(name: str) -> str:
    if name not in BUILTIN_DATASETS:
        raise ValueError(unknown("built-in dataset", name, list(BUILTIN_DATASETS)))
    return name


def _dataset_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "builtin"
    if isinstance(value, DatasetFactory) or (isinstance(value, dict) and "factory" in value):
        return "factory"
    if isinstance(value, TorchvisionDataset) or (isinstance(value, dict) and "name" in value):
        return "torchvision"
    return None


DatasetSpec = Annotated[
    Union[
        Annotated[str, AfterValidator(_builtin_dataset), Tag("builtin")],
        Annotated[DatasetFactory, Tag("factory")],
        Annotated[TorchvisionDataset, Tag("torchvision")],
    ],
    Discriminator(
        _dataset_kind,
        custom_error_type="dataset",
        custom_error_message="must be a built-in dataset name (digits, diabetes) "
        "or a mapping with a 'factory' key",
    ),
]


class TrainingEvaluatorSpec(_Section):
    """classification | regression: trained with PyTorch Lightning on a built-in or user dataset."""

    type: Literal["classification", "regression"]
    dataset: DatasetSpec = "digits"
    # these may be distributions, searched together with the architecture (see _search)
    max_epochs: Searchable[Annotated[int, at.Gt(0)]] = 3
    batch_size: Searchable[Annotated[int, at.Gt(0)]] = 64
    learning_rate: Searchable[Annotated[float, at.Gt(0)]] = 1e-3
    optimizer: Searchable[Literal["adam", "adamw", "sgd"]] = "adam"
    weight_decay: Searchable[Annotated[float, at.Ge(0)]] = 0.0
    keep_checkpoints: Literal["none", "best", "all"] = "none"
    seed: int | None = None

    @model_validator(mode="after")
    def _dataset_fits(self) -> TrainingEvaluatorSpec:
        if isinstance(self.dataset, DatasetFactory):
            return self
        name = self.dataset if isinstance(self.dataset, str) else self.dataset.name
        kind = BUILTIN_DATASETS.get(name, "classification")
        if kind != self.type:
            raise key_error("dataset", f"{show(name)} is a {kind} dataset, not {self.type}")
        return self


class FunctionEvaluatorSpec(_Section):
    type: Literal["function"]
    function: FunctionRef
    # a kwarg given as a distribution is searched together with the architecture
    kwargs: dict[str, SearchableKwarg] = Field(default_factory=dict)


def _table_file(value: str, info: ValidationInfo) -> str:
    """A table must exist (relative to the spec's folder) and be a format the evaluator reads."""
    from nas_cli.evaluator import SUFFIXES

    if Path(value).suffix.lower() not in SUFFIXES:
        raise ValueError(f"must be a .csv, .json, .sqlite or .db table, got {show(value)}")
    base_dir = (info.context or {}).get("base_dir")
    if base_dir is not None and not resolve_under(base_dir, value).is_file():
        raise ValueError(f"file not found: {resolve_under(base_dir, value)}")
    return value


class TableEvaluatorSpec(_Section):
    """table: a trial is a look-up in a table of results measured beforehand."""

    type: Literal["table"]
    path: Annotated[str, AfterValidator(_table_file)] = Field(description=(
        "the table: .csv, .json or SQLite (.db, .sqlite), relative to the spec's folder"))
    sqlite_table: str | None = Field(None, description=(
        "the table's name in a SQLite file that holds several"))


EvaluatorSpec = Annotated[
    Union[TrainingEvaluatorSpec, FunctionEvaluatorSpec, TableEvaluatorSpec],
    Field(discriminator="type"),
]


# The metrics each training evaluator reports; the objective must be one of them.
EVALUATOR_METRICS = {
    "classification": ("val_acc", "val_loss"),
    "regression": ("val_mse", "val_loss"),
}


class ObjectiveSpec(_Section):
    """A metric to optimize; `mode` defaults to minimize for losses, errors and the cost
    metrics (params, flops, latency_ms), which are measured without training: `input_shape`
    (one input, no batch dimension) for flops and latency_ms, `batch_size` for latency_ms."""

    metric: str
    if TYPE_CHECKING:  # after validation: always set (see _default_mode)
        mode: Literal["maximize", "minimize"]
    else:
        mode: Literal["maximize", "minimize"] | None = None
    input_shape: list[Annotated[int, Field(gt=0)]] | None = None
    batch_size: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _default_mode(self) -> ObjectiveSpec:
        if self.mode is None:
            lower = self.metric.lower()
            smaller_is_better = lower.endswith(("loss", "mse", "mae", "error")) or \
                self.metric in COST_METRICS
            self.mode = "minimize" if smaller_is_better else "maximize"
        return self

    @model_validator(mode="after")
    def _measurement(self) -> ObjectiveSpec:
        if self.input_shape is not None and self.metric not in ("flops", "latency_ms"):
            raise key_error("input_shape", "only applies to the flops and latency_ms metrics")
        if self.batch_size is not None and self.metric != "latency_ms":
            raise key_error("batch_size", "only applies to the latency_ms metric")
        return self


def _objective_kind(value: Any) -> str | None:
    if isinstance(value, list):
        return "list"
    if isinstance(value, ObjectiveSpec | dict):
        return "one"
    return None


Objectives = Annotated[
    Union[Annotated[ObjectiveSpec, Tag("one")],
          Annotated[list[ObjectiveSpec], Field(min_length=1), Tag("list")]],
    Discriminator(_objective_kind, custom_error_type="objective",
                  custom_error_message="must be {metric: NAME, mode: maximize|minimize} or a "
                  "list of them"),
]


class TrainingServiceSpec(_Section):
    platform: Literal["local", "ray", "simulated"] = "local"
    address: str | None = None
    gpu_indices: list[int] | None = None
    max_trial_number_per_gpu: int = Field(1, gt=0)
    use_active_gpu: bool = True
    cpus_per_trial: float | None = Field(None, gt=0)
    # simulated: a cluster of `workers` on a virtual clock, over a table evaluator
    workers: int | None = Field(None, gt=0, description=(
        "simulated: the cluster's size (the trial concurrency; default trial_concurrency)"))
    trial_seconds: float = Field(1.0, gt=0, description=(
        "simulated: a trial's time where the table has no seconds"))
    time_noise: float = Field(0.0, ge=0, description=(
        "simulated: trial times are multiplied by exp(time_noise x N(0, 1))"))
    stragglers: float = Field(0.0, ge=0, le=1, description=(
        "simulated: the share of trials that straggle, taking straggler_factor times longer"))
    straggler_factor: float = Field(4.0, ge=1, description="simulated: see stragglers")
    failure_rate: float = Field(0.0, ge=0, le=1, description=(
        "simulated: the share of trials lost part-way (their worker was lost)"))
    seed: int | None = Field(None, description="simulated: the seed of its draws (default 0)")

    @model_validator(mode="after")
    def _simulated_keys(self) -> TrainingServiceSpec:
        if self.platform != "simulated":
            given = [k for k in SIMULATED_KEYS  # (a written-back spec holds the defaults)
                     if getattr(self, k) != type(self).model_fields[k].default]
            if given:
                raise key_error(given[0], f"only applies to platform simulated, not {self.platform}")
        return self


SIMULATED_KEYS = ("workers", "trial_seconds", "time_noise", "stragglers", "straggler_factor",
                  "failure_rate", "seed")


class EarlyStoppingSpec(BaseModel):
    """`type` plus that rule's own parameters (checked by the rule's params model)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["median", "asha"]

    @model_validator(mode="after")
    def _params(self) -> EarlyStoppingSpec:
        return with_params(self, EARLY_STOPPING_PARAMS[self.type])


class ConstraintsSpec(_Section):
    """Architectures over max_params or max_flops are never trained (and use no trial); one
    over max_latency_ms (measured in the worker, on the trial's device) ends pruned, untrained."""

    max_params: int | None = Field(None, gt=0)
    max_flops: int | None = Field(None, gt=0)
    max_latency_ms: float | None = Field(None, gt=0)
    input_shape: list[Annotated[int, Field(gt=0)]] | None = None  # one sample, no batch dim
    latency_batch_size: int = Field(1, gt=0)

    @model_validator(mode="after")
    def _flops_need_shape(self) -> ConstraintsSpec:
        if self.max_flops is not None and not self.input_shape:
            raise key_error("input_shape", "is required with max_flops: the shape of one "
                            "input without the batch dimension, e.g. [1, 8, 8]")
        return self


class ExperimentSpec(_Section):
    experiment_name: str | None = None
    model_space: ModelSpaceSpec
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    evaluator: EvaluatorSpec
    # `objective:` in YAML: one {metric, mode}, or a list of them (a multi-objective search)
    if TYPE_CHECKING:  # after validation: always a list (see _metric_reported, _default_objective)
        objectives: list[ObjectiveSpec]
    else:
        objectives: Objectives | None = Field(None, alias="objective")
    trial_concurrency: int = Field(1, gt=0)
    max_trial_number: int = Field(20, gt=0)
    max_experiment_duration: float | None = None
    max_trial_duration: float | None = None
    max_failed_trials: int = Field(5, ge=0)
    # a trial lost with its worker or node (not its own fault) runs again this many times
    max_trial_retries: int = Field(1, ge=0)
    # the memory one worker may use (its trial's data, model and tensors): past it the trial
    # fails "out of memory" instead of the machine swapping or the OOM killer stepping in
    max_trial_memory: Annotated[int | None, WithJsonSchema(SIZE_SCHEMA)] = None
    trial_gpu_number: int = Field(0, ge=0)
    training_service: TrainingServiceSpec = Field(default_factory=TrainingServiceSpec)
    early_stopping: EarlyStoppingSpec | None = None
    constraints: ConstraintsSpec | None = None
    # Where relative paths resolve (the spec file's folder); not a YAML key.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("max_experiment_duration", "max_trial_duration", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return parse_duration(value)

    @field_validator("max_trial_memory", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int | None:
        return parse_size(value)

    @property
    def objective(self) -> ObjectiveSpec:
        """The first (or only) objective: what ranks trials, what early stopping watches."""
        return self.objectives[0]

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @field_validator("objectives")
    @classmethod
    def _metric_reported(cls, objectives: Any, info: ValidationInfo) -> Any:
        if objectives is None:
            return None
        many = isinstance(objectives, list)
        listed = objectives if many else [objectives]
        evaluator = info.data.get("evaluator")
        kind = getattr(evaluator, "type", "")
        reported = EVALUATOR_METRICS.get(kind)
        seen: dict[str, int] = {}
        for index, objective in enumerate(listed):
            where: list[str | int] = [index, "metric"] if many else ["metric"]
            if objective.metric in seen:
                raise key_error(where, f"{show(objective.metric)} is already objective "
                                       f"[{seen[objective.metric]}]")
            seen[objective.metric] = index
            if reported and objective.metric not in (*reported, *COST_METRICS):
                raise key_error(
                    where,
                    f"must be {' or '.join(reported)} for a {kind} evaluator "
                    f"(or a cost metric: {', '.join(COST_METRICS)}), got {show(objective.metric)}",
                )
        return listed

    @field_serializer("objectives")
    def _write_objectives(self, objectives: list[ObjectiveSpec] | None) -> Any:
        if objectives is None:
            return None
        written = [o.model_dump(exclude_none=True) for o in objectives]
        return written[0] if len(written) == 1 else written

    @model_validator(mode="after")
    def _cost_inputs(self) -> ExperimentSpec:
        """flops and latency_ms need an input shape: their own, the constraints', or (for a
        training evaluator) the dataset's."""
        shape = self.constraints.input_shape if self.constraints else None
        if self.evaluator.type in ("classification", "regression") or shape:
            return self
        if self.constraints is not None and self.constraints.max_latency_ms is not None:
            raise key_error(["constraints", "input_shape"], "is required with max_latency_ms "
                            f"and a {self.evaluator.type} evaluator: the shape of one input "
                            "without the batch dimension, e.g. [1, 8, 8]")
        for index, objective in enumerate(self.objectives or []):
            if objective.metric in ("flops", "latency_ms") and not objective.input_shape:
                where: list[str | int] = ["objective", index, "input_shape"] \
                    if self.multi_objective else ["objective", "input_shape"]
                raise key_error(where, f"is required for {objective.metric} with a "
                                       f"{self.evaluator.type} evaluator: the shape of one input "
                                       "without the batch dimension, e.g. [1, 8, 8]")
        return self

    @model_validator(mode="after")
    def _simulated_on_a_table(self) -> ExperimentSpec:
        service = self.training_service
        if service.platform != "simulated":
            return self
        if self.evaluator.type != "table":
            raise key_error("training_service", "platform simulated replays a table: set "
                            "evaluator.type: table (with evaluator.path: FILE)")
        if service.workers is not None:
            if "trial_concurrency" in self.model_fields_set and \
                    self.trial_concurrency != service.workers:
                raise key_error("trial_concurrency", f"is {self.trial_concurrency} but "
                                f"training_service.workers is {service.workers}: give one")
            self.trial_concurrency = service.workers
        return self

    @model_validator(mode="after")
    def _one_shot_fits(self) -> ExperimentSpec:
        name = self.strategy.name
        if name not in ONE_SHOT:
            return self
        multi = f"use a multi-trial strategy ({', '.join(MULTI_TRIAL)})"
        if self.evaluator.type not in EVALUATOR_METRICS:  # function, table
            raise key_error("evaluator.type", f"{name} trains a supernet with the evaluator's "
                            "data and optimizer: use a classification or regression evaluator, "
                            f"or {multi} with a {self.evaluator.type} evaluator")
        if self.model_space.mutators:
            raise key_error("model_space.mutators", f"{name} builds a supernet from the space's "
                            "mutables; a custom Mutator rewrites a built model and cannot be "
                            f"part of one: express its choices with LayerChoice/ValueChoice, or "
                            f"{multi}")
        if self.early_stopping is not None:
            raise key_error("early_stopping", f"{name}'s search trials are not trained, so "
                            "nothing can stop early: remove early_stopping")
        searched = searched_fields(self.evaluator)
        if searched:
            raise key_error(["evaluator", next(iter(searched))],
                            f"{name} trains one supernet with one set of hyperparameters: give "
                            f"a value, not a distribution, or {multi}")
        if isinstance(self.objectives, list) and len(self.objectives) > 1:
            raise key_error("objective", f"{name} ranks architectures by one metric: give one "
                            f"objective, or {multi}")
        return self

    @model_validator(mode="after")
    def _default_objective(self) -> ExperimentSpec:
        if self.objectives is None:
            if self.evaluator.type == "table":
                raise key_error("objective", "is required with a table evaluator: the metric "
                                "column to optimize, e.g. {metric: val_acc}")
            if self.evaluator.type == "classification":
                self.objectives = [ObjectiveSpec(metric="val_acc", mode="maximize")]
            elif self.evaluator.type == "regression":
                self.objectives = [ObjectiveSpec(metric="val_mse", mode="minimize")]
            else:
                self.objectives = [ObjectiveSpec(metric="default", mode="maximize")]
        return self
