"""TPE: Optuna's Tree-structured Parzen Estimator over the decision tree.

Conditional decisions are asked define-by-run, which TPE's `group` mode handles; running
trials count through the constant liar. With several objectives it is Optuna's multi-objective
TPE (MOTPE). See `_optuna` for what every Optuna-based strategy shares.
"""

from __future__ import annotations

from typing import Any

from nas_cli.strategy._optuna import OptunaStrategy


class TPEStrategy(OptunaStrategy):
    name = "tpe"

    def make_sampler(self) -> Any:
        import optuna

        return optuna.samplers.TPESampler(
            seed=self.seed, n_startup_trials=self.params.n_startup_trials,
            multivariate=self.params.multivariate, group=self.params.multivariate,
            constant_liar=self.params.constant_liar,
        )
