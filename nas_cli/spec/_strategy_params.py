"""Each strategy's own parameters (the keys of `strategy:` besides name, seed and dedup)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nas_cli.spec._problems import key_error, show, unknown, with_params

if TYPE_CHECKING:
    from nas_cli.spec._models import ExperimentSpec

MULTI_TRIAL = ("random", "grid", "evolution", "tpe", "rl", "nsga2")  # train every sampled architecture
ONE_SHOT = ("spos",)  # train one supernet, rank architectures on the weights they inherit
STRATEGIES = MULTI_TRIAL + ONE_SHOT

# Lower-cased names with '_' and '-' removed -> canonical name; NNI's names included.
_ALIASES = {
    **{name: name for name in STRATEGIES},
    "gridsearch": "grid",
    "regularizedevolution": "evolution",
    "policybasedrl": "rl",
    "randomoneshot": "spos",
    "nsgaii": "nsga2",
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


class NSGA2Params(_Params):
    """Optuna's NSGA-II sampler (several objectives; one works too)."""

    population_size: int = Field(20, ge=2)
    mutation_prob: float | None = Field(None, ge=0, le=1)  # None: 1 / number of decisions
    crossover_prob: float = Field(0.9, ge=0, le=1)
    swapping_prob: float = Field(0.5, ge=0, le=1)


class StrategySpec(BaseModel):
    """`name` plus that strategy's own parameters (checked by the strategy's params model)."""

    model_config = ConfigDict(extra="allow")
    name: str = "random"
    seed: int | None = None
    dedup: bool = True

    @field_validator("name", mode="before")
    @classmethod
    def _canonical(cls, value: Any) -> str:
        return canonical_strategy(value)

    @model_validator(mode="after")
    def _params(self) -> StrategySpec:
        return with_params(self, STRATEGY_PARAMS[self.name])

    def params(self) -> BaseModel:
        """The strategy's own parameters, defaults filled in."""
        return STRATEGY_PARAMS[self.name].model_validate(self.model_extra or {})


class SearchStrategySpec(StrategySpec):
    """A one-shot strategy's `search:` section: the multi-trial strategy that proposes the
    architectures scored on inherited weights."""

    name: str = "evolution"

    @field_validator("name", mode="before")
    @classmethod
    def _canonical(cls, value: Any) -> str:
        name = canonical_strategy(value)
        if name not in MULTI_TRIAL:
            raise ValueError(f"must be a multi-trial strategy ({', '.join(MULTI_TRIAL)}), "
                             f"got {show(value)}")
        return name


class SPOSParams(_Params):
    """Single-path one-shot (NNI's RandomOneShot): train a supernet, one uniformly sampled path
    per step; search it with a multi-trial strategy on inherited weights; retrain the best."""

    supernet_epochs: int = Field(10, gt=0, description="phase 1: epochs of supernet training")
    search: SearchStrategySpec = Field(
        default_factory=SearchStrategySpec,
        description="phase 2: the multi-trial strategy (name and its own keys, seed, dedup) "
                    "that proposes architectures")
    search_trials: int = Field(100, gt=0, description="phase 2: architectures scored on "
                                                      "inherited weights")
    retrain_top: int = Field(0, ge=0, description="phase 3: the best architectures retrained "
                                                  "from scratch (0: none)")
    path_sampling: Literal["per_decision", "per_architecture"] = Field(
        "per_decision", description="phase 1: each active decision uniform (SPOS), or "
                                    "architectures uniform")
    eval_paths: int = Field(3, gt=0, description="phase 1: fixed paths validated after each "
                                                 "epoch (live progress)")
    bn_recalibration_batches: int = Field(
        10, ge=0, description="training batches that re-estimate batch-norm statistics of an "
                              "inherited sub-network (0: keep the supernet's)")


STRATEGY_PARAMS: dict[str, type[_Params]] = {
    "random": RandomParams,
    "grid": GridParams,
    "evolution": EvolutionParams,
    "tpe": TPEParams,
    "rl": RLParams,
    "nsga2": NSGA2Params,
    "spos": SPOSParams,
}


def strategy_params(spec: ExperimentSpec) -> BaseModel:
    """The spec's strategy parameters, defaults filled in: `EvolutionParams(population_size=20, ...)`."""
    return spec.strategy.params()


def proposing_strategy(spec: ExperimentSpec) -> tuple[str, int | None, bool, BaseModel]:
    """(name, seed, dedup, params) of the multi-trial strategy that proposes architectures:
    the spec's strategy, or a one-shot strategy's `search` (its seed defaults to the
    strategy's)."""
    if spec.strategy.name in ONE_SHOT:
        search = strategy_params(spec).search
        seed = search.seed if search.seed is not None else spec.strategy.seed
        return search.name, seed, search.dedup, search.params()
    return spec.strategy.name, spec.strategy.seed, spec.strategy.dedup, strategy_params(spec)


def trial_limit(spec: ExperimentSpec) -> int:
    """How many trials the spec asks for: max_trial_number, or a one-shot strategy's
    search_trials + retrain_top."""
    if spec.strategy.name in ONE_SHOT:
        params = strategy_params(spec)
        return params.search_trials + params.retrain_top
    return spec.max_trial_number
