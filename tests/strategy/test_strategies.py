"""What each strategy does beyond the common contract (tests/strategy/test_conformance.py):
evolution's population, mutation and failure policy; TPE and RL learning from a clear signal;
seeded reruns and exhaustion while results are still pending.

Objectives here are deterministic functions of the architecture with an obvious optimum, so a
strategy that learns anything finds it far more often than chance and the tests do not flake.
"""

from __future__ import annotations

import json
import random
import statistics
from typing import Any

import pytest
from helpers.spaces import space

from nas_cli.spec import STRATEGY_PARAMS
from nas_cli.strategy import (
    STRATEGIES,
    EvolutionStrategy,
    RLStrategy,
    Strategy,
    TPEStrategy,
    create,
)
from nas_cli.trials import TrialState

NAMES = sorted(STRATEGIES)
RATES = [0.0, 0.1, 0.2, 0.3, 0.4]  # the candidates of every decision p0..p7 of `Wide`


def key(arch: dict[str, Any]) -> str:
    return json.dumps(arch, sort_keys=True)


def total(arch: dict[str, Any]) -> float:
    """A clear signal on `Wide`: the sum of the eight rates (best: all 0.4, 3.2)."""
    return sum(arch.values())


def evolution(space_name: str = "wide", *, seed: int = 0, dedup: bool = True,
              **params: Any) -> EvolutionStrategy:
    return EvolutionStrategy(space(space_name), seed=seed, dedup=dedup,
                             params=STRATEGY_PARAMS["evolution"](**params))


def complete(strategy: Strategy, arch: dict[str, Any], score: float) -> None:
    strategy.tell(arch, score, TrialState.COMPLETE)


def search(strategy: Strategy, objective, trials: int) -> list[float]:
    """Propose and tell one at a time; the scores in order."""
    scores = []
    for _ in range(trials):
        arch = strategy.propose()
        assert arch is not None
        scores.append(objective(arch))
        complete(strategy, arch, scores[-1])
    return scores


class MutationSpy:
    """Wraps `strategy.mutate`: records every parent it is given."""

    def __init__(self, strategy: EvolutionStrategy):
        self.parents: list[dict[str, Any]] = []
        self._mutate = strategy.mutate
        strategy.mutate = self  # type: ignore[method-assign]

    def __call__(self, parent: dict[str, Any]) -> dict[str, Any]:
        self.parents.append(parent)
        return self._mutate(parent)


# --- evolution ------------------------------------------------------------------------------


def test_evolution_samples_at_random_until_the_population_is_in():
    strategy = evolution(population_size=5, sample_size=2)
    spy = MutationSpy(strategy)
    pending = [strategy.propose() for _ in range(12)]  # results still out: no parent yet
    assert all(a is not None for a in pending)
    assert len({key(a) for a in pending}) == 12
    for arch in pending[:4]:
        complete(strategy, arch, total(arch))
    strategy.propose()
    assert spy.parents == []  # 4 results < population_size
    complete(strategy, pending[4], total(pending[4]))
    strategy.propose()
    assert len(spy.parents) == 1 and spy.parents[0] in pending[:5]


def test_evolution_keeps_proposing_while_results_are_pending_until_the_space_is_used_up():
    found = space("nested")  # 9 architectures; population 2: mutation starts early
    strategy = evolution("nested", population_size=2, sample_size=2)
    first = [strategy.propose(), strategy.propose()]
    for arch in first:
        complete(strategy, arch, 1.0)
    rest = []
    while (arch := strategy.propose()) is not None:  # none of these is told
        rest.append(arch)
    assert sorted(map(key, first + rest)) == sorted(map(key, found))


def test_evolution_without_dedup_goes_on_past_the_space_size():
    found = space("tiny")  # 6 architectures
    strategy = evolution("tiny", dedup=False, population_size=2, sample_size=2)
    proposed = []
    for _ in range(30):
        arch = strategy.propose()
        assert arch is not None and found.validate(arch) == arch
        proposed.append(arch)
        complete(strategy, arch, arch["hidden"] + arch["act"])
    assert len({key(a) for a in proposed}) < len(proposed)  # repeats: nothing to avoid them


def test_evolution_with_dedup_never_proposes_an_architecture_twice():
    strategy = evolution("nested", population_size=2, sample_size=1, mutation_prob=1.0)
    proposed = []
    while (arch := strategy.propose()) is not None:
        proposed.append(arch)
        complete(strategy, arch, 0.5)
    assert len(proposed) == space("nested").size == len({key(a) for a in proposed})


@pytest.mark.parametrize("mutation_prob", [0.0, 0.05, 0.5, 1.0])
def test_a_mutation_changes_at_least_one_decision_and_is_valid(mutation_prob):
    found = space("wide")
    strategy = evolution(mutation_prob=mutation_prob)
    rng = random.Random(1)
    for _ in range(200):
        parent = found.sample(rng)
        child = strategy.mutate(parent)
        assert found.validate(child) == child
        changed = [label for label in parent if child[label] != parent[label]]
        assert changed
        if mutation_prob == 0.0:
            assert len(changed) == 1


def test_a_mutation_that_activates_a_nested_decision_fills_it_in():
    found = space("nested")  # `inner` exists only when op is "bottleneck"
    strategy = evolution("nested", mutation_prob=0.0)
    parent = {"op": "linear", "act": 1}
    children = [strategy.mutate(parent) for _ in range(100)]
    assert all(found.validate(c) == c and c != parent for c in children)
    grown = [c for c in children if c["op"] == "bottleneck"]
    assert grown and {c["inner"] for c in grown} == {2, 3}
    parent = {"op": "bottleneck", "inner": 2, "act": 1}
    shrunk = [strategy.mutate(parent) for _ in range(100)]
    assert all(found.validate(c) == c and c != parent for c in shrunk)
    assert any(c["op"] == "linear" and "inner" not in c for c in shrunk)


def test_evolution_ignores_failures_by_default():
    strategy = evolution(population_size=3, sample_size=2)
    spy = MutationSpy(strategy)
    for _ in range(6):
        strategy.tell(strategy.propose(), None, TrialState.FAILED)
    assert len(strategy.population) == 0
    assert strategy.propose() is not None and spy.parents == []  # still filling the population


def test_evolution_on_failure_worst_counts_a_failure_as_the_worst_member():
    strategy = evolution(population_size=2, sample_size=2, on_failure="worst")
    spy = MutationSpy(strategy)
    failed, good = strategy.propose(), strategy.propose()
    strategy.tell(failed, None, TrialState.FAILED)
    complete(strategy, good, 0.1)
    assert len(strategy.population) == 2  # the failure joined: mutation starts now
    for _ in range(5):
        strategy.propose()
    # The tournament always sees both members and the failure never wins it.
    assert spy.parents and all(p == good for p in spy.parents)


def test_the_oldest_member_leaves_the_population_even_when_it_is_the_best():
    strategy = evolution(population_size=4, sample_size=2)
    told = []
    for step in range(20):
        arch = strategy.propose()
        complete(strategy, arch, 100.0 if step == 0 else float(step))
        told.append(arch)
        assert len(strategy.population) <= 4
    assert [a for a, _ in strategy.population] == told[-4:]
    assert max(s for _, s in strategy.population) < 100.0


def test_evolution_climbs_a_clear_signal_better_than_random():
    def best(name: str, seed: int) -> float:
        strategy = create(name, space("wide"), seed=seed, dedup=True)
        return max(search(strategy, total, 80))

    seeds = range(4)
    assert statistics.fmean(best("evolution", s) for s in seeds) > \
        statistics.fmean(best("random", s) for s in seeds) + 0.05


# --- TPE ------------------------------------------------------------------------------------


def tpe(seed: int, **params: Any) -> TPEStrategy:
    return TPEStrategy(space("wide"), seed=seed, dedup=True,
                       params=STRATEGY_PARAMS["tpe"](**params))


def test_tpe_beats_random_on_a_clear_signal():
    seeds = range(4)
    tpe_best = [max(search(tpe(s), total, 40)) for s in seeds]
    random_best = [max(search(create("random", space("wide"), seed=s, dedup=True), total, 40))
                   for s in seeds]
    assert statistics.fmean(tpe_best) > statistics.fmean(random_best) + 0.1


def test_tpe_seeks_the_highest_score_when_the_engine_negates_a_minimized_metric():
    """A minimized metric (a loss) arrives as score = -loss: TPE must drive the loss down."""
    def loss(arch: dict[str, Any]) -> float:
        return total(arch)

    strategy = tpe(0, n_startup_trials=10)
    losses = []
    for _ in range(40):
        arch = strategy.propose()
        losses.append(loss(arch))
        complete(strategy, arch, -losses[-1])
    startup, learned = losses[:10], losses[-10:]  # random search's mean loss is 1.6
    assert statistics.fmean(learned) < statistics.fmean(startup) - 0.2


def test_the_engine_tells_minus_the_metric_when_minimizing(write_spec, tmp_path):
    from nas_cli.experiment import Run
    from nas_cli.spec import load_spec
    from nas_cli.trials import TrialRecord

    record = TrialRecord(0, {}, TrialState.COMPLETE, metric=0.25)
    for mode, expected in (("minimize", -0.25), ("maximize", 0.25)):
        spec = load_spec(write_spec(tmp_path, mode, objective={"metric": "loss", "mode": mode}))
        assert Run(spec=spec, path=tmp_path).score(record) == expected
    record.state = TrialState.FAILED
    assert Run(spec=spec, path=tmp_path).score(record) is None


def test_tpe_restore_then_propose_continues_from_the_history():
    rng = random.Random(7)
    found = space("wide")
    history: list[tuple[dict[str, Any], float | None, TrialState]] = []
    while len(history) < 31:
        arch = found.sample(rng)
        if key(arch) not in {key(a) for a, _, _ in history}:
            history.append((arch, total(arch), TrialState.COMPLETE))
    history[-1] = (history[-1][0], None, TrialState.FAILED)
    strategy = tpe(3)
    strategy.restore(history)
    assert len(strategy.study.trials) == len(history)
    after = [strategy.propose() for _ in range(10)]  # past n_startup_trials: model-based
    assert not {key(a) for a in after} & {key(a) for a, _, _ in history}
    random_mean = statistics.fmean(s for _, s, _ in history[:-1])
    assert statistics.fmean(total(a) for a in after) > random_mean + 0.2


def test_tpe_tells_a_repeated_suggestion_its_known_result():
    """On a 6-architecture space TPE often suggests a known architecture again: the repeat is
    told its known score (not "pruned", which would rank it below everything) and every trial
    slot still gets a new architecture."""
    import optuna

    found = space("tiny")
    strategy = TPEStrategy(found, seed=0, dedup=True,
                           params=STRATEGY_PARAMS["tpe"](n_startup_trials=2))
    proposed = []
    while (arch := strategy.propose()) is not None:
        proposed.append(arch)
        complete(strategy, arch, arch["hidden"] + arch["act"])
    assert sorted(map(key, proposed)) == sorted(map(key, found))
    trials = strategy.study.trials
    assert len(trials) > len(proposed)  # some suggestions were repeats
    for trial in trials:
        assert trial.state is optuna.trial.TrialState.COMPLETE
        assert trial.value == [4, 8, 16][trial.params["hidden"]] + trial.params["act"]


def test_tpe_ranks_a_pruned_trial_below_complete_ones_and_ignores_a_failed_one():
    import optuna

    strategy = tpe(0)
    pending = [strategy.propose() for _ in range(3)]
    complete(strategy, pending[0], 1.0)
    strategy.tell(pending[1], None, TrialState.PRUNED)
    strategy.tell(pending[2], None, TrialState.FAILED)
    restored = space("wide").sample(random.Random(0))
    strategy.restore([(restored, None, TrialState.PRUNED)])  # the path of `nas resume`
    states = [t.state for t in strategy.study.trials]
    state = optuna.trial.TrialState
    assert states == [state.COMPLETE, state.PRUNED, state.FAIL, state.PRUNED]


# --- RL -------------------------------------------------------------------------------------


def rl(seed: int = 0, dedup: bool = False, **params: Any) -> RLStrategy:
    return RLStrategy(space("wide"), seed=seed, dedup=dedup,
                      params=STRATEGY_PARAMS["rl"](**params))


def best_probability(strategy: RLStrategy) -> float:
    """The policy's probability of the best architecture (every rate 0.4)."""
    p = 1.0
    for label in (f"p{i}" for i in range(8)):
        p *= strategy.probs[label][RATES.index(0.4)]
    return p


@pytest.mark.parametrize("samples_per_update", [1, 5])
def test_rl_raises_the_probability_of_the_best_candidates(samples_per_update):
    strategy = rl(samples_per_update=samples_per_update)
    before = best_probability(strategy)
    assert before == pytest.approx(0.2 ** 8)
    search(strategy, total, 150)
    for label in (f"p{i}" for i in range(8)):
        probs = strategy.probs[label]
        assert probs[RATES.index(0.4)] > probs[RATES.index(0.0)], (label, probs)
    assert best_probability(strategy) > 10 * before


def test_rl_learns_from_ranks_not_from_the_reward_scale():
    """Rewards x4 rank the same: the same proposals, the same policy."""
    plain, scaled = rl(), rl()
    assert search(plain, total, 30) == [
        score / 4 for score in search(scaled, lambda a: 4 * total(a), 30)]
    assert plain.probs == scaled.probs
    assert plain.probs != rl().probs  # it did learn


def test_rl_ranks_a_failure_below_every_result():
    strategy = rl(window=2)
    good, bad = strategy.propose(), strategy.propose()
    complete(strategy, good, 0.1)
    strategy.tell(bad, None, TrialState.FAILED)
    for label, value in bad.items():
        if value != good[label]:
            index = strategy.space.decisions[label].index_of(value)
            assert strategy.probs[label][index] < 1 / len(RATES)


# --- every strategy -------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_a_seed_gives_the_same_proposals_and_another_seed_others(name):
    def run(seed: int) -> list[dict[str, Any]]:
        strategy = create(name, space("wide"), seed=seed, dedup=True)
        proposed = []
        for _ in range(6):  # two pending at a time, told in reverse
            pair = [strategy.propose(), strategy.propose()]
            proposed += pair
            for arch in reversed(pair):
                complete(strategy, arch, total(arch))
        return proposed

    assert run(5) == run(5)
    assert run(5) != run(6)


@pytest.mark.parametrize("name", NAMES)
def test_all_pending_a_small_space_is_used_up_then_none(name):
    found = space("nested")
    strategy = create(name, found, seed=0, dedup=True)
    proposed = [strategy.propose() for _ in range(found.size)]
    assert sorted(map(key, proposed)) == sorted(map(key, found))
    assert strategy.propose() is None
    for arch in proposed:
        complete(strategy, arch, 0.5)
    assert strategy.propose() is None
