"""What the strategies built on an Optuna sampler share (TPE, NSGA-II).

An in-memory Optuna study holds the strategy's own history. Scores are "higher is better", so
every direction is maximize (no silent minimization); with several objectives the study has one
direction per objective. Decisions are asked define-by-run over the active ones: a candidate
index (categorical) for a choice, the value itself for a continuous range. A repeated
suggestion is told its known result; a pruned trial is PRUNED and a failed one FAIL, as
Optuna's own pruners and failures would leave them.
"""

from __future__ import annotations

import logging
import warnings
from abc import abstractmethod
from typing import Any

from nas_cli.strategy._base import Score, Strategy, arch_key
from nas_cli.trials import TrialState

_TRIES = 50


class OptunaStrategy(Strategy):
    """A strategy whose proposals come from an Optuna sampler (`make_sampler`)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        logging.getLogger("optuna").setLevel(logging.WARNING)
        with warnings.catch_warnings():  # several sampler options are "experimental"
            warnings.simplefilter("ignore")
            self.sampler = self.make_sampler()
        self.study = optuna.create_study(directions=["maximize"] * self.objectives,
                                         sampler=self.sampler)
        self.pending: dict[str, Any] = {}
        self.scores: dict[str, Score | None] = {}  # arch key -> score told (None: failed)

    @abstractmethod
    def make_sampler(self) -> Any:
        """The Optuna sampler, seeded with `self.seed`."""

    def _suggest(self, trial: Any) -> dict[str, Any]:
        """The sampler's architecture, asked define-by-run over the active decisions."""

        def pick(decision: Any) -> Any:
            if decision.distribution is not None:
                return _suggest_range(trial, decision.label, decision.distribution)
            return trial.suggest_categorical(decision.label,
                                             list(range(len(decision.candidates))))

        with warnings.catch_warnings():  # samplers warn about conditional (dynamic) spaces
            warnings.simplefilter("ignore")
            return self.space.choose(pick)

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
            # A duplicate: let the sampler learn it from the known result rather than waste
            # a trial. (Told as PRUNED it would rank below every complete trial: the sampler
            # would learn that the region it rates best is bad.) Pending or failed: PRUNED.
            known = self.scores.get(arch_key(arch))
            if known is None:
                self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                self.study.tell(trial, _values(known))
        return self.random_new()  # the sampler learns it when told, through `_add`

    def tell(self, arch: dict[str, Any], score: Score | None, state: TrialState) -> None:
        self.scores[arch_key(arch)] = score
        trial = self.pending.pop(arch_key(arch), None)
        if trial is None:
            self._add(arch, score, state)
            return
        if score is None:
            self.study.tell(trial, state=_optuna_state(state))
        else:
            self.study.tell(trial, _values(score))

    def _add(self, arch: dict[str, Any], score: Score | None, state: TrialState,
             system_attrs: dict[str, Any] | None = None,
             constraints: dict[str, float] | None = None) -> Any:
        """Record an architecture the sampler did not propose (random fallback, restored
        history); returns the trial as recorded."""
        import optuna
        from optuna.distributions import CategoricalDistribution

        params: dict[str, Any] = {}
        distributions: dict[str, Any] = {}
        for label, value in arch.items():
            decision = self.space.decisions[label]
            if decision.distribution is not None:
                params[label], distributions[label] = value, decision.distribution.to_optuna()
            else:
                params[label] = decision.index_of(value)
                distributions[label] = CategoricalDistribution(
                    list(range(len(decision.candidates))))
        if score is None:
            done, values = _optuna_state(state), None
        else:
            done, values = optuna.trial.TrialState.COMPLETE, _values(score)
        self.study.add_trial(optuna.trial.create_trial(
            state=done, values=values, params=params, distributions=distributions,
            system_attrs=system_attrs or {}, constraints=constraints))
        return self.study.get_trials(deepcopy=False)[-1]


def _suggest_range(trial: Any, label: str, distribution: Any) -> float | int:
    """`trial.suggest_int/float` with the Optuna distribution the store records."""
    attrs = distribution.optuna_json()["attributes"]
    if distribution.integer:
        return trial.suggest_int(label, attrs["low"], attrs["high"], step=attrs["step"],
                                 log=attrs["log"])
    return trial.suggest_float(label, attrs["low"], attrs["high"], step=attrs["step"],
                               log=attrs["log"])


def _values(score: Score) -> list[float]:
    return list(score) if isinstance(score, tuple | list) else [score]


def _optuna_state(state: TrialState) -> Any:
    """A trial without a score: PRUNED (stopped for bad intermediate results, which TPE ranks
    below every complete trial, as with Optuna's own pruners) or FAIL (ignored)."""
    import optuna

    if state is TrialState.PRUNED:
        return optuna.trial.TrialState.PRUNED
    return optuna.trial.TrialState.FAIL
