"""Comparing strategies on a table: every strategy x seed x worker count is one experiment on
the simulated backend (the engine as `nas run` drives it), kept in a temporary folder; what is
kept of each is its trajectory: when each trial ended (virtual time) and its objective.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas_cli.errors import ExperimentError, UsageError
from nas_cli.experiment import Listener, Run, create_experiment, execute
from nas_cli.lab._stats import mann_whitney_less
from nas_cli.spec import ExperimentSpec
from nas_cli.trials import TrialState

TOP_SHARE = 0.01  # "found the top 1%"


@dataclass
class Trajectory:
    """One run: each finished trial's end (virtual seconds) and objective (None: no result),
    in the order the strategy learned them."""

    strategy: str
    seed: int
    workers: int
    ends: list[float] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    wall_s: float = 0.0


@dataclass
class BenchResult:
    """Every run of a comparison, and the table's optimum and top-1% threshold."""

    spec: ExperimentSpec
    strategies: list[str]
    seeds: int
    trials: int
    workers: list[int]
    optimum: float
    top: float                                     # at least this good: the top 1%
    size: int                                      # architectures in the table
    runs: list[Trajectory] = field(default_factory=list)

    @property
    def maximize(self) -> bool:
        return self.spec.objective.mode == "maximize"

    def regret(self, value: float | None) -> float:
        """Distance to the table's optimum (inf before any result)."""
        if value is None:
            return math.inf
        return self.optimum - value if self.maximize else value - self.optimum

    def best_after(self, run: Trajectory, trials: int) -> float | None:
        """The best objective among the first `trials` results."""
        return self._best(v for v in run.values[:trials])

    def best_by(self, run: Trajectory, seconds: float) -> float | None:
        """The best objective of the trials ended by virtual time `seconds`."""
        return self._best(v for t, v in zip(run.ends, run.values) if t <= seconds)

    def _best(self, values: Any) -> float | None:
        found = [v for v in values if v is not None]
        if not found:
            return None
        return max(found) if self.maximize else min(found)

    def of(self, strategy: str, workers: int) -> list[Trajectory]:
        return [r for r in self.runs if r.strategy == strategy and r.workers == workers]

    def budgets(self) -> list[int]:
        """The trial counts the summary reports regret at (a third, two thirds, all)."""
        return sorted({max(1, self.trials // 3), max(1, 2 * self.trials // 3), self.trials})

    def summary(self, workers: int) -> list[dict[str, Any]]:
        """Per strategy at `workers`: mean regret per budget, the share of runs that found a
        top-1% architecture, and the one-sided Mann-Whitney p that its final regrets are lower
        than random's (None for random, or without random runs)."""
        rows = []
        baseline = [self.regret(self.best_after(r, self.trials)) for r in self.of("random", workers)]
        for strategy in self.strategies:
            runs = self.of(strategy, workers)
            if not runs:
                continue
            final = [self.regret(self.best_after(r, self.trials)) for r in runs]
            rows.append({
                "strategy": strategy, "workers": workers, "runs": len(runs),
                "regret": {b: _mean([self.regret(self.best_after(r, b)) for r in runs])
                           for b in self.budgets()},
                "top_share": sum(self._is_top(self.best_after(r, self.trials))
                                 for r in runs) / len(runs),
                "p_vs_random": (mann_whitney_less(final, baseline)
                                if strategy != "random" and baseline else None),
                "virtual_s": _mean([r.ends[-1] if r.ends else 0.0 for r in runs]),
                "wall_s": _mean([r.wall_s for r in runs]),
            })
        return rows

    def _is_top(self, value: float | None) -> bool:
        if value is None:
            return False
        return value >= self.top if self.maximize else value <= self.top


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


class _Recorder(Listener):
    def __init__(self, trajectory: Trajectory):
        self.trajectory = trajectory

    def trial_finished(self, run: Run, record: Any) -> None:
        if record.state.is_finished:
            self.trajectory.ends.append(run.elapsed())
            self.trajectory.values.append(
                record.metric if record.state is TrialState.COMPLETE else None)


def _variant(spec: ExperimentSpec, strategy: str, seed: int, trials: int,
             workers: int) -> ExperimentSpec:
    """The spec for one run: its strategy (with the spec's parameters if it names the same
    one, else the defaults), seed, trial budget, and a simulated cluster of `workers`."""
    from nas_cli.spec import StrategySpec

    base = spec.strategy
    params = dict(base.model_extra or {}) if strategy == base.name else {}
    variant = spec.model_copy(deep=True)
    variant.strategy = StrategySpec(name=strategy, seed=seed, dedup=base.dedup, **params)
    variant.experiment_name = f"bench-{strategy}-w{workers}-s{seed}"
    variant.max_trial_number = trials
    variant.trial_concurrency = workers
    service = spec.training_service
    if service.platform != "simulated":  # the spec's own cluster settings otherwise
        service = type(service)()
    seed_of_service = seed if service.seed is None else service.seed + seed
    variant.training_service = service.model_copy(update={
        "platform": "simulated", "workers": workers, "seed": seed_of_service})
    return variant


def check_bench(spec: ExperimentSpec, strategies: Sequence[str]) -> list[str]:
    """The canonical strategy names; a spec without a table is refused in one line."""
    from nas_cli.spec import MULTI_TRIAL, canonical_strategy

    if spec.evaluator.type != "table":
        raise UsageError("nas bench replays a table: the spec needs evaluator.type: table "
                         "(with evaluator.path: FILE)")
    if len(spec.objectives) > 1:
        raise UsageError(f"nas bench compares strategies on one objective; the spec has "
                         f"{len(spec.objectives)}: keep the one to compare on")
    names = []
    for name in strategies:
        try:
            canonical = canonical_strategy(name.strip())
        except ValueError as exc:
            raise UsageError(f"--strategies: {exc}") from None
        if canonical not in MULTI_TRIAL:
            raise UsageError(f"--strategies: {canonical} is one-shot search: it trains a "
                             f"supernet, which a table cannot; compare {', '.join(MULTI_TRIAL)}")
        if canonical not in names:
            names.append(canonical)
    return names


def run_bench(spec: ExperimentSpec, strategies: Sequence[str], *, seeds: int, trials: int,
              workers: Sequence[int], progress: Callable[[str], None] | None = None,
              ) -> BenchResult:
    """Run every strategy x seed (0 .. seeds-1) x worker count for `trials` trials on the
    simulated backend; the table is read once.

    >>> result = run_bench(load_spec("specs/table_digits.yaml"), ["random", "rl"], seeds=5,
    ...                    trials=50, workers=[1, 8])
    """
    from nas_cli.experiment import prepare_run

    names = check_bench(spec, strategies)
    prepared = prepare_run(_variant(spec, names[0], 0, trials, workers[0]), shared_files=True)
    table = prepared[2].evaluator.table  # a table evaluator: the payload is built here
    metric = spec.objective.metric
    values = sorted(table.values(metric), reverse=spec.objective.mode == "maximize")
    if not values:
        raise UsageError(f"the table {table.path} has no {metric} to compare strategies on")
    top = values[max(1, math.ceil(len(values) * TOP_SHARE)) - 1]
    result = BenchResult(spec, names, seeds, trials, list(workers), values[0], top, len(values))
    with tempfile.TemporaryDirectory(prefix="nas-bench-") as folder:
        root = Path(folder)
        for count in workers:
            for name in names:
                started = time.perf_counter()
                for seed in range(seeds):
                    result.runs.append(_one(_variant(spec, name, seed, trials, count),
                                            root, prepared))
                if progress is not None:
                    progress(f"{name} on {count} worker{'s' * (count != 1)}: {seeds} runs in "
                             f"{time.perf_counter() - started:.1f}s")
    return result


def _one(spec: ExperimentSpec, root: Path, prepared: tuple[Any, bytes, Any]) -> Trajectory:
    trajectory = Trajectory(spec.strategy.name, spec.strategy.seed or 0, spec.trial_concurrency)
    run = create_experiment(spec, root, _Recorder(trajectory))
    run.prepared = prepared
    started = time.perf_counter()
    try:
        execute(run)
    except ExperimentError:  # e.g. every trial failed: its trajectory says so
        pass
    finally:
        shutil.rmtree(run.path, ignore_errors=True)
    trajectory.wall_s = time.perf_counter() - started
    return trajectory
