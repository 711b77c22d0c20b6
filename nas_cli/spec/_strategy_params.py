"""Each strategy's own parameters (the keys of `strategy:` besides name, seed and dedup)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nas_cli.spec._problems import key_error, unknown

if TYPE_CHECKING:
    from nas_cli.spec._models import ExperimentSpec

STRATEGIES = ("random", "grid", "evolution", "tpe", "rl")

# Lower-cased names with '_' and '-' removed -> canonical name; NNI's names included.
_ALIASES = {
    **{name: name for name in STRATEGIES},
    "gridsearch": "grid",
    "regularizedevolution": "evolution",
    "policybasedrl": "rl",
}


def canonical_strategy(name: Any) -> str:
    """'RegularizedEvolution' -> 'evolution'; an unknown name raises ValueError with a hint."""
    key = str(name).lower().replace("_", "").replace("-", "")
    if isinstance(name, str) and key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(unknown("strategy", name, STRATEGIES, _ALIASES))


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RandomParams(_Params):
    """Random sampling has no parameters."""


class GridParams(_Params):
    """Grid search has no parameters."""


class EvolutionParams(_Params):
    """Regularized evolution (aging evolution), as in NNI's RegularizedEvolution."""

    population_size: int = Field(20, gt=0)
    sample_size: int = Field(5, gt=0)
    mutation_prob: float = Field(0.05, ge=0, le=1)
    on_failure: Literal["ignore", "worst"] = "ignore"

    @model_validator(mode="after")
    def _sample_fits(self) -> EvolutionParams:
        if self.sample_size > self.population_size:
            raise key_error(
                "sample_size",
                f"must be at most population_size ({self.population_size}), got {self.sample_size}",
            )
        return self


class TPEParams(_Params):
    """Optuna's TPE sampler."""

    n_startup_trials: int = Field(10, ge=0)
    multivariate: bool = True
    constant_liar: bool = True


class RLParams(_Params):
    """REINFORCE on a policy over the decisions, as in NNI's PolicyBasedRL."""

    samples_per_update: int = Field(5, gt=0)
    learning_rate: float = Field(0.05, gt=0)
    baseline_decay: float = Field(0.9, ge=0, lt=1)
    entropy_weight: float = Field(0.01, ge=0)


STRATEGY_PARAMS: dict[str, type[_Params]] = {
    "random": RandomParams,
    "grid": GridParams,
    "evolution": EvolutionParams,
    "tpe": TPEParams,
    "rl": RLParams,
}


def strategy_params(spec: ExperimentSpec) -> BaseModel:
    """The spec's strategy parameters, defaults filled in: `EvolutionParams(population_size=20, ...)`."""
    return STRATEGY_PARAMS[spec.strategy.name].model_validate(spec.strategy.model_extra or {})
