"""The strategies a spec can name (`STRATEGY_TABLE`, NNI's names included) and each one's own
parameters (the keys of `strategy:` besides name, seed and dedup)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nas_cli.spec._problems import key_error, show, unknown, with_params

if TYPE_CHECKING:
    from nas_cli.spec._models import ExperimentSpec


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
    """Policy gradient whose advantages are ranks among the latest `window` results."""

    samples_per_update: int = Field(1, gt=0, description="a step after every this many results")
    learning_rate: float = Field(0.5, gt=0, description="the step size on the policy's logits")
    window: int = Field(20, ge=2, description="the latest results ranked against each other")
    entropy_weight: float = Field(0.0, ge=0, description="an entropy bonus (more exploration)")


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


class _OneShotParams(_Params):
    """What every one-shot strategy shares: the supernet's training, the search on inherited
    weights, the retraining of the best."""

    supernet_epochs: int = Field(10, gt=0, description="phase 1: epochs of supernet training")
    retrain_top: int = Field(0, ge=0, description="phase 3: the best architectures retrained "
                                                  "from scratch (0: none)")
    bn_recalibration_batches: int = Field(
        10, ge=0, description="training batches that re-estimate batch-norm statistics of an "
                              "inherited sub-network (0: keep the supernet's)")


class SPOSParams(_OneShotParams):
    """Single-path one-shot (NNI's RandomOneShot): train a supernet, one uniformly sampled path
    per step; search it with a multi-trial strategy on inherited weights; retrain the best."""

    search: SearchStrategySpec = Field(
        default_factory=SearchStrategySpec,
        description="phase 2: the multi-trial strategy (name and its own keys, seed, dedup) "
                    "that proposes architectures")
    search_trials: int = Field(100, gt=0, description="phase 2: architectures scored on "
                                                      "inherited weights")
    path_sampling: Literal["per_decision", "per_architecture"] = Field(
        "per_decision", description="phase 1: each active decision uniform (SPOS), or "
                                    "architectures uniform")
    eval_paths: int = Field(3, gt=0, description="phase 1: fixed paths validated after each "
                                                 "epoch (live progress)")


class PenaltySpec(_Params):
    """A hardware-cost term in the architecture's loss (ENAS: in its reward): the expected
    cost of the architecture the distribution gives, from a table of each candidate's own cost
    measured on the supernet before training."""

    metric: Literal["params", "flops", "latency_ms"] = Field(
        description="params: parameters; flops: FLOPs of one sample; latency_ms: milliseconds of a "
                    "forward pass of latency_batch_size samples, timed on the training device")
    weight: float = Field(gt=0, description="how much the cost counts: weight * cost / target "
                                            "(without a target: / the cost of the untrained "
                                            "distribution's expected architecture)")
    target: float | None = Field(None, gt=0, description="a budget in the metric's unit: only "
                                                         "an expected cost above it is penalized")
    latency_batch_size: int = Field(1, gt=0, description="samples per timed forward pass "
                                                         "(latency_ms only)")


class _LearnedParams(_OneShotParams):
    """A one-shot strategy that learns a distribution over architectures while the supernet
    trains: weight steps on training batches alternate with architecture steps on validation
    batches."""

    search_trials: int = Field(5, gt=0, description="phase 2: the most probable architectures "
                                                    "(the derived one first) scored on "
                                                    "inherited weights")
    warmup_epochs: int = Field(0, ge=0, description="phase 1: first epochs that train the "
                                                    "weights only (uniform paths or mixture)")
    arch_learning_rate: float = Field(3e-4, gt=0, description="the architecture optimizer's "
                                                              "(Adam) learning rate")
    arch_weight_decay: float = Field(0.0, ge=0, description="the architecture optimizer's "
                                                            "weight decay")
    grad_clip: float | None = Field(5.0, gt=0, description="clip the weights' gradient norm "
                                                           "to this (null: no clipping)")
    penalty: PenaltySpec | None = Field(None, description="an optional hardware-cost penalty")


class _MixtureParams(_LearnedParams):
    arch_weight_decay: float = Field(1e-3, ge=0, description="the architecture optimizer's "
                                                             "weight decay")


class DARTSParams(_MixtureParams):
    """DARTS: every candidate runs, weighted by a softmax over its decision's architecture
    parameters; those learn by gradient on validation batches (first order, or second order
    with `unrolled`)."""

    unrolled: bool = Field(False, description="second-order DARTS (NNI 2.x's unrolled): the "
                                              "validation loss is taken after a virtual weight "
                                              "step, its Hessian term by finite differences; "
                                              "about 4x an architecture step's cost")


class GumbelDARTSParams(_MixtureParams):
    """Gumbel DARTS (GDAS, SNAS, FBNet): candidates weighted by a Gumbel-softmax sample of
    the architecture distribution whose temperature anneals; `hard` runs one sampled path
    (straight-through gradients), soft weighs every candidate."""

    hard: bool = Field(False, description="true: one sampled candidate per decision runs "
                                          "(GDAS, one path's memory); false: every candidate, "
                                          "Gumbel-softmax weights (SNAS; NNI's GumbelDARTS)")
    initial_temperature: float = Field(10.0, gt=0, description="the Gumbel-softmax temperature "
                                                               "of the first epoch")
    final_temperature: float = Field(0.1, gt=0, description="the temperature of the last epoch "
                                                            "(linear in between)")

    @model_validator(mode="after")
    def _cooling(self) -> GumbelDARTSParams:
        if self.final_temperature > self.initial_temperature:
            raise key_error("final_temperature", "must be at most initial_temperature "
                            f"({self.initial_temperature}), got {self.final_temperature}")
        return self


class ProxylessParams(_LearnedParams):
    """ProxylessNAS: binary gates, one sampled path per step; the architecture gradient comes
    from every candidate's output on that step's input (memory of one path)."""

    arch_learning_rate: float = Field(1e-3, gt=0, description="the architecture optimizer's "
                                                              "(Adam) learning rate")


LearnedParams = _LearnedParams  # what every method that learns a distribution takes


class ENASParams(_LearnedParams):
    """ENAS: a controller (one categorical distribution per decision) samples sub-networks;
    the shared weights train on the sampled paths, the controller by REINFORCE on the sampled
    path's validation accuracy with a moving-average baseline."""

    arch_learning_rate: float = Field(3.5e-4, gt=0, description="the controller's (Adam) "
                                                                "learning rate")
    entropy_weight: float = Field(1e-4, ge=0, description="bonus for the controller's entropy "
                                                          "(keeps it exploring)")
    baseline_decay: float = Field(0.999, ge=0, lt=1, description="the reward baseline's moving "
                                                                 "average decay")


@dataclass(frozen=True)
class StrategyName:
    """A strategy as a spec names it: its NNI names (accepted too), its own keys, and what the
    docs say of it."""

    name: str
    kind: Literal["multi-trial", "one-shot"]
    nni: tuple[str, ...]
    params: type[_Params]
    what: str
    good_for: str
    learned: bool = False  # one-shot, learns a distribution while the supernet trains
    aliases: tuple[str, ...] = ()  # other spellings accepted


#: Every strategy, once: spec validation, `nas bench`, the engine and the docs read this.
STRATEGY_TABLE: tuple[StrategyName, ...] = (
    StrategyName(
        "random", "multi-trial", ("Random",), RandomParams,
        "uniform over architectures (with `dedup`, each once; the run ends when the space is "
        "exhausted)", "a baseline; small budgets; many workers"),
    StrategyName(
        "grid", "multi-trial", ("GridSearch",), GridParams,
        "every architecture once, in an order fixed by the seed (a seeded shuffle, or an affine "
        "permutation for huge spaces)", "small spaces searched exhaustively"),
    StrategyName(
        "evolution", "multi-trial", ("RegularizedEvolution",), EvolutionParams,
        "regularized (aging) evolution: the best of `sample_size` random members of the "
        "population is mutated, the oldest member leaves",
        "the most robust choice for medium budgets; tolerant of many asynchronous workers"),
    StrategyName(
        "tpe", "multi-trial", ("TPE",), TPEParams,
        "Optuna's Tree-structured Parzen Estimator over the decisions (`multivariate`, "
        "`constant_liar` for parallel workers)",
        "medium budgets, spaces with few strongly interacting decisions"),
    StrategyName(
        "rl", "multi-trial", ("PolicyBasedRL",), RLParams,
        "policy gradient on one vector of logits per decision; an architecture's advantage is "
        "its rank among the latest `window` results",
        "small and medium budgets on one or a few workers"),
    StrategyName(
        "nsga2", "multi-trial", (), NSGA2Params,
        "Optuna's NSGA-II: generations, non-dominated sorting and crowding distance",
        "several objectives (a Pareto front)", aliases=("NSGA-II",)),
    StrategyName(
        "spos", "one-shot", ("RandomOneShot",), SPOSParams,
        "one-shot: trains one weight-sharing supernet, scores architectures on inherited "
        "weights with a multi-trial `search` strategy, retrains the best "
        "([one-shot search](oneshot.md))", "large spaces; a budget of a few trainings"),
    StrategyName(
        "darts", "one-shot", ("DARTS",), DARTSParams,
        "one-shot, differentiable: every candidate weighted by a softmax over architecture "
        "parameters learned on validation batches; the derived and most probable architectures "
        "scored, the derived retrained "
        "([learned distributions](oneshot.md#methods-that-learn-a-distribution))",
        "cell spaces of cheap candidates; beware the collapse to skip connections",
        learned=True),
    StrategyName(
        "gumbel_darts", "one-shot", ("GumbelDARTS",), GumbelDARTSParams,
        "one-shot: Gumbel-softmax samples (one path with `hard: true`) at an annealed "
        "temperature", "less collapse than DARTS; one path's memory with `hard: true`",
        learned=True),
    StrategyName(
        "proxyless", "one-shot", ("Proxyless",), ProxylessParams,
        "one-shot: one sampled path per step, binary-gate gradients for the architecture",
        "large candidates; latency-aware search (no `ValueChoice` arguments)", learned=True),
    StrategyName(
        "enas", "one-shot", ("ENAS",), ENASParams,
        "one-shot: a controller samples paths, learns by REINFORCE from their validation "
        "accuracy", "any space; non-differentiable rewards", learned=True),
)

STRATEGIES = tuple(s.name for s in STRATEGY_TABLE)
MULTI_TRIAL = tuple(s.name for s in STRATEGY_TABLE if s.kind == "multi-trial")  # train each one
# Train one supernet and rank architectures on the weights they inherit: SPOS samples paths
# uniformly and searches with a multi-trial strategy; the others learn a distribution over the
# architectures while the supernet trains (LEARNED).
ONE_SHOT = tuple(s.name for s in STRATEGY_TABLE if s.kind == "one-shot")
LEARNED = tuple(s.name for s in STRATEGY_TABLE if s.learned)
STRATEGY_PARAMS: dict[str, type[_Params]] = {s.name: s.params for s in STRATEGY_TABLE}


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


# Lower-cased names with '_' and '-' removed -> canonical name; NNI's names included.
_ALIASES = {**{s.name: s.name for s in STRATEGY_TABLE},
            **{_key(alias): s.name for s in STRATEGY_TABLE for alias in (s.name, *s.nni, *s.aliases)}}


def canonical_strategy(name: Any) -> str:
    """'RegularizedEvolution' -> 'evolution'; an unknown name raises ValueError with a hint."""
    if isinstance(name, str) and _key(name) in _ALIASES:
        return _ALIASES[_key(name)]
    raise ValueError(unknown("strategy", name, STRATEGIES, _ALIASES))


def strategy_params(spec: ExperimentSpec) -> BaseModel:
    """The spec's strategy parameters, defaults filled in: `EvolutionParams(population_size=20, ...)`."""
    return spec.strategy.params()


def one_shot_params(spec: ExperimentSpec) -> SPOSParams | LearnedParams:
    """A one-shot strategy's parameters (spos, or a method that learns a distribution)."""
    params = strategy_params(spec)
    if not isinstance(params, SPOSParams | _LearnedParams):
        raise TypeError(f"strategy {spec.strategy.name!r} is not a one-shot strategy")
    return params


def proposing_strategy(spec: ExperimentSpec) -> tuple[str, int | None, bool, BaseModel]:
    """(name, seed, dedup, params) of the multi-trial strategy that proposes architectures:
    the spec's strategy, or a one-shot strategy's `search` (its seed defaults to the
    strategy's). A method that learns a distribution proposes its most probable
    architectures itself; the engine still keeps a (random, deduplicating) strategy for it."""
    if spec.strategy.name in LEARNED:  # its architectures come from the learned distribution
        return "random", spec.strategy.seed, True, RandomParams()  # (never asked to propose)
    params = strategy_params(spec)
    if isinstance(params, SPOSParams):  # spos: a multi-trial strategy searches the supernet
        search = params.search
        seed = search.seed if search.seed is not None else spec.strategy.seed
        return search.name, seed, search.dedup, search.params()
    return spec.strategy.name, spec.strategy.seed, spec.strategy.dedup, params


def trial_limit(spec: ExperimentSpec) -> int:
    """How many trials the spec asks for: max_trial_number, or a one-shot strategy's
    search_trials + retrain_top."""
    params = strategy_params(spec)
    if isinstance(params, SPOSParams | _LearnedParams):  # the one-shot strategies
        return params.search_trials + params.retrain_top
    return spec.max_trial_number
