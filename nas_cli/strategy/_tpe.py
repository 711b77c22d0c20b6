"""TPE: Optuna's Tree-structured Parzen Estimator over the decision tree.

An in-memory Optuna study holds the strategy's own history (scores are "higher is better", so
its direction is always maximize: no silent minimization). Conditional decisions are asked
define-by-run, which TPE's `group` mode handles; running trials count through the constant liar.
A repeated suggestion is told its known result; a pruned trial is PRUNED (below every complete
trial) and a failed one FAIL (ignored), as Optuna's own pruners and failures would leave them.
"""

from __future__ import annotations

import logging
from typing import Any

from nas_cli.strategy._base import Strategy, arch_key
from nas_cli.trials import TrialState

_TRIES = 50


class TPEStrategy(Strategy):
    name = "tpe"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        logging.getLogger("optuna").setLevel(logging.WARNING)
        import warnings

        with warnings.catch_warnings():  # multivariate/group/constant_liar are "experimental"
            warnings.simplefilter("ignore")
            sampler = optuna.samplers.TPESampler(
                seed=self.seed, n_startup_trials=self.params.n_startup_trials,
                multivariate=self.params.multivariate, group=self.params.multivariate,
                constant_liar=self.params.constant_liar,
            )
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self.pending: dict[str, Any] = {}
        self.scores: dict[str, float | None] = {}  # arch key -> score told (None: failed)

    def _suggest(self, trial: Any) -> dict[str, Any]:
        """TPE's architecture, asked define-by-run over the active decisions."""
        return self.space.choose(lambda decision: trial.suggest_categorical(
            decision.label, list(range(len(decision.candidates)))))

    def propose(self) -> dict[str, Any] | None:
        import optuna

        if self.exhausted:
            return None
        for _ in range(_TRIES):
            trial = self.study.ask()
            arch = self._suggest(trial)
            if not self.dedup or self.is_new(arch):
                self.pending[arch_key(arch)] = trial
                return self.accept(arch)
            # A duplicate: let TPE learn it from the known result rather than waste a trial.
            # (Told as PRUNED it would rank below every complete trial: TPE would learn that
            # the region it rates best is bad.) Pending or failed: PRUNED, i.e. not promising.
            known = self.scores.get(arch_key(arch))
            if known is None:
                self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                self.study.tell(trial, known)
        return self.random_new()  # TPE learns it when told, through `_add`

    def tell(self, arch: dict[str, Any], score: float | None, state: TrialState) -> None:
        self.scores[arch_key(arch)] = score
        trial = self.pending.pop(arch_key(arch), None)
        if trial is None:
            self._add(arch, score, state)
            return
        if score is None:
            self.study.tell(trial, state=_optuna_state(state))
        else:
            self.study.tell(trial, score)

    def _add(self, arch: dict[str, Any], score: float | None, state: TrialState) -> None:
        """Record an architecture TPE did not propose (random fallback, restored history)."""
        import optuna
        from optuna.distributions import CategoricalDistribution

        params = {k: self.space.decisions[k].index_of(v) for k, v in arch.items()}
        distributions = {k: CategoricalDistribution(list(range(len(self.space.decisions[k].candidates))))
                         for k in arch}
        if score is None:
            done, value = _optuna_state(state), None
        else:
            done, value = optuna.trial.TrialState.COMPLETE, score
        self.study.add_trial(optuna.trial.create_trial(
            state=done, value=value, params=params, distributions=distributions))


def _optuna_state(state: TrialState) -> Any:
    """A trial without a score: PRUNED (stopped for bad intermediate results, which TPE ranks
    below every complete trial, as with Optuna's own pruners) or FAIL (ignored by TPE)."""
    import optuna

    if state is TrialState.PRUNED:
        return optuna.trial.TrialState.PRUNED
    return optuna.trial.TrialState.FAIL
