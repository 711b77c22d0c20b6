"""NSGA-II: Optuna's NSGAIISampler (Deb et al., 2002) over the decision tree.

Generations of `population_size` trials; parents by non-dominated sorting and crowding
distance, children by uniform crossover and mutation. Architectures over the constraints
(`constraints: {max_params, max_flops}`) enter the population as infeasible, ranked by how far
they exceed the limits (Optuna's constrained domination, through `Trial.set_constraint`), so
the search learns where the feasible region is; they still use no trial. On `nas resume` the
restored trials keep their generations. Works with one objective too.
"""

from __future__ import annotations

import math
from typing import Any

from nas_cli.strategy._base import Score, arch_key
from nas_cli.strategy._optuna import OptunaStrategy
from nas_cli.trials import TrialState

_EXCESS = "excess"  # a trial's constraint: how far it exceeds the limits (0: feasible)


class NSGA2Strategy(OptunaStrategy):
    name = "nsga2"

    def make_sampler(self) -> Any:
        import optuna

        return optuna.samplers.NSGAIISampler(
            population_size=self.params.population_size,
            mutation_prob=self.params.mutation_prob,
            crossover_prob=self.params.crossover_prob,
            swapping_prob=self.params.swapping_prob,
            seed=self.seed,
        )

    def tell(self, arch: dict[str, Any], score: Score | None, state: TrialState) -> None:
        trial = self.pending.get(arch_key(arch))
        if trial is not None:
            trial.set_constraint(_EXCESS, 0.0)  # every member says whether it is feasible
        super().tell(arch, score, state)

    def infeasible(self, arch: dict[str, Any], excess: float) -> None:
        """A member of the population that breaks the constraints by `excess`: worse than
        every feasible one whatever its (unknown) objective values."""
        self.mark(arch)
        worst = tuple([-math.inf] * self.objectives)
        trial = self.pending.pop(arch_key(arch), None)
        if trial is None:
            self._add(arch, worst, TrialState.COMPLETE, constraints={_EXCESS: excess})
            return
        trial.set_constraint(_EXCESS, excess)
        self.study.tell(trial, list(worst))

    def _add(self, arch: dict[str, Any], score: Score | None, state: TrialState,
             system_attrs: dict[str, Any] | None = None,
             constraints: dict[str, float] | None = None) -> Any:
        """A restored or fallback trial joins the generation it would have been sampled in
        (as Optuna's `get_trial_generation` assigns one to a new trial)."""
        key = self.sampler._get_generation_key()
        complete = [t for t in self.study.get_trials(deepcopy=False)
                    if t.state.name == "COMPLETE" and key in t.system_attrs]
        generation = max((t.system_attrs[key] for t in complete), default=0)
        if sum(t.system_attrs[key] == generation for t in complete) >= self.sampler.population_size:
            generation += 1
        return super()._add(arch, score, state,
                            system_attrs={**(system_attrs or {}), key: generation},
                            constraints={_EXCESS: 0.0, **(constraints or {})})
