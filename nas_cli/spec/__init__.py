"""The experiment spec: load and check a YAML spec, write it back, its JSON schema."""

from nas_cli.durations import format_duration, parse_duration
from nas_cli.spec._early_stopping import EARLY_STOPPING_PARAMS, early_stopping_params
from nas_cli.spec._load import (
    dump_spec,
    json_schema,
    load_spec,
    resolve_path,
    validate_spec,
)
from nas_cli.spec._models import (
    BUILTIN_DATASETS,
    DatasetFactory,
    DatasetSpec,
    ExperimentSpec,
    TorchvisionDataset,
    TrainingEvaluatorSpec,
)
from nas_cli.spec._search import HP_PREFIX, Searched, resolved, searched_fields
from nas_cli.spec._strategy_params import (
    LEARNED,
    MULTI_TRIAL,
    ONE_SHOT,
    STRATEGIES,
    STRATEGY_PARAMS,
    STRATEGY_TABLE,
    LearnedParams,
    SPOSParams,
    StrategyName,
    StrategySpec,
    canonical_strategy,
    one_shot_params,
    proposing_strategy,
    strategy_params,
    trial_limit,
)

__all__ = [
    "BUILTIN_DATASETS",
    "EARLY_STOPPING_PARAMS",
    "HP_PREFIX",
    "LEARNED",
    "LearnedParams",
    "MULTI_TRIAL",
    "ONE_SHOT",
    "STRATEGIES",
    "SPOSParams",
    "STRATEGY_PARAMS",
    "STRATEGY_TABLE",
    "DatasetFactory",
    "DatasetSpec",
    "ExperimentSpec",
    "Searched",
    "StrategyName",
    "StrategySpec",
    "TorchvisionDataset",
    "TrainingEvaluatorSpec",
    "canonical_strategy",
    "dump_spec",
    "early_stopping_params",
    "format_duration",
    "json_schema",
    "load_spec",
    "parse_duration",
    "one_shot_params",
    "proposing_strategy",
    "resolve_path",
    "resolved",
    "searched_fields",
    "strategy_params",
    "trial_limit",
    "validate_spec",
]
