"""The experiment spec as pydantic models: one class per YAML section (CONTRACT section 2)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float | None:
    """'30m' -> 1800.0; a bare number is seconds; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"must be a duration like 30s, 5m, 2h or 1d, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"must be a duration like 30s, 5m, 2h or 1d, got {value!r}")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"must be a positive duration, got {value!r}")
    return seconds


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ModelSpaceSpec(_Section):
    module: str
    class_name: str = Field(alias="class")
    init_kwargs: dict[str, Any] = Field(default_factory=dict)
    mutators: list[str] = Field(default_factory=list)


class StrategySpec(BaseModel):
    """`name` plus that strategy's own parameters (checked by the strategy's params model)."""

    model_config = ConfigDict(extra="allow")
    name: str = "random"
    seed: int | None = None
    dedup: bool = True


class DatasetFactory(_Section):
    factory: str
    kwargs: dict[str, Any] = Field(default_factory=dict)


class TorchvisionDataset(_Section):
    name: Literal["mnist", "fashion_mnist", "cifar10"]
    root: str


DatasetSpec = Union[str, DatasetFactory, TorchvisionDataset]


class TrainingEvaluatorSpec(_Section):
    """classification | regression: trained with PyTorch Lightning on a built-in or user dataset."""

    type: Literal["classification", "regression"]
    dataset: DatasetSpec = "digits"
    max_epochs: int = Field(3, gt=0)
    batch_size: int = Field(64, gt=0)
    learning_rate: float = Field(1e-3, gt=0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    weight_decay: float = Field(0.0, ge=0)
    keep_checkpoints: Literal["none", "best", "all"] = "none"
    seed: int | None = None


class FunctionEvaluatorSpec(_Section):
    type: Literal["function"]
    function: str
    kwargs: dict[str, Any] = Field(default_factory=dict)


EvaluatorSpec = Annotated[
    Union[TrainingEvaluatorSpec, FunctionEvaluatorSpec], Field(discriminator="type")
]


class ObjectiveSpec(_Section):
    metric: str
    mode: Literal["maximize", "minimize"] = "maximize"


class TrainingServiceSpec(_Section):
    platform: Literal["local", "ray"] = "local"
    address: str | None = None
    gpu_indices: list[int] | None = None
    max_trial_number_per_gpu: int = Field(1, gt=0)
    use_active_gpu: bool = True
    cpus_per_trial: float | None = Field(None, gt=0)


class EarlyStoppingSpec(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["median", "asha"]


class ConstraintsSpec(_Section):
    max_params: int | None = Field(None, gt=0)
    max_flops: int | None = Field(None, gt=0)
    input_shape: list[int] | None = None


class ExperimentSpec(_Section):
    experiment_name: str | None = None
    model_space: ModelSpaceSpec
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    evaluator: EvaluatorSpec
    objective: ObjectiveSpec | None = None
    trial_concurrency: int = Field(1, gt=0)
    max_trial_number: int = Field(20, gt=0)
    max_experiment_duration: float | None = None
    max_trial_duration: float | None = None
    max_failed_trials: int = Field(5, ge=0)
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

    @model_validator(mode="after")
    def _default_objective(self) -> ExperimentSpec:
        if self.objective is None:
            if self.evaluator.type == "classification":
                self.objective = ObjectiveSpec(metric="val_acc", mode="maximize")
            elif self.evaluator.type == "regression":
                self.objective = ObjectiveSpec(metric="val_mse", mode="minimize")
            else:
                self.objective = ObjectiveSpec(metric="default", mode="maximize")
        return self
