"""Parameters of each early-stopping rule (the keys of `early_stopping:` besides type)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from nas_cli.spec._models import ExperimentSpec


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MedianParams(_Params):
    """Stop a trial whose intermediate result is worse than the median of earlier trials (Optuna's
    MedianPruner)."""

    n_startup_trials: int = Field(5, ge=0)
    n_warmup_steps: int = Field(0, ge=0)
    interval_steps: int = Field(1, gt=0)


class AshaParams(_Params):
    """Asynchronous successive halving (Optuna's SuccessiveHalvingPruner)."""

    min_resource: int = Field(1, gt=0)
    reduction_factor: int = Field(3, ge=2)
    min_early_stopping_rate: int = Field(0, ge=0)


EARLY_STOPPING_PARAMS: dict[str, type[_Params]] = {"median": MedianParams, "asha": AshaParams}


def early_stopping_params(spec: ExperimentSpec) -> BaseModel | None:
    """The spec's early-stopping parameters, defaults filled in; None without early stopping."""
    if spec.early_stopping is None:
        return None
    params = spec.early_stopping.model_extra or {}
    return EARLY_STOPPING_PARAMS[spec.early_stopping.type].model_validate(params)
