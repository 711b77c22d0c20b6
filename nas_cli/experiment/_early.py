"""Early stopping from intermediate results, with Optuna's pruners over the trial store.

`median` is Optuna's MedianPruner, `asha` its SuccessiveHalvingPruner (asynchronous successive
halving). They read the intermediate values the driver writes to study.db (of the first
objective's metric, the one early stopping watches).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nas_cli.store import TrialStore


def make_pruner(kind: str, params: Any) -> Any:
    import optuna

    if kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=params.n_startup_trials, n_warmup_steps=params.n_warmup_steps,
            interval_steps=params.interval_steps)
    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource=params.min_resource, reduction_factor=params.reduction_factor,
        min_early_stopping_rate=params.min_early_stopping_rate)


class EarlyStopping:
    """Decides, after each intermediate result, whether a running trial should stop.

    With several objectives it prunes on the first one (the intermediate results are that
    metric): Optuna's pruners see the study as if it had that objective only."""

    def __init__(self, kind: str, params: Any, store: TrialStore):
        self.pruner = make_pruner(kind, params)
        self.store = store
        self.study = store.study  # Optuna's view, opened before the run, not at a first report

    def should_stop(self, number: int) -> bool:
        trial = self.store.frozen_trial(number)
        study = self.study
        if len(study.directions) > 1:
            study = _FirstObjective(study)
        return bool(self.pruner.prune(study, trial))


class _FirstObjective:
    """A multi-objective study as a pruner reads it: its first direction only."""

    def __init__(self, study: Any):
        self._study = study

    @property
    def direction(self) -> Any:
        return self._study.directions[0]

    @property
    def directions(self) -> list[Any]:
        return self._study.directions[:1]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)
