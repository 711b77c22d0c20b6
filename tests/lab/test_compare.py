"""The comparison's arithmetic on hand-made trajectories, and runs through the engine."""

from __future__ import annotations

import math

import pytest
from helpers.tables import every_row, table_spec, write_table

from nas_cli.lab import BenchResult, Trajectory, mann_whitney_less, run_bench
from nas_cli.spec import load_spec


def test_regret_top_share_and_p_from_trajectories(tmp_path):
    spec = load_spec(table_spec(tmp_path, write_table(tmp_path, every_row())))
    result = BenchResult(spec, ["random", "good"], seeds=3, trials=3, workers=[1],
                         optimum=1.0, top=0.9, size=100)
    for seed in range(3):
        result.runs.append(Trajectory("random", seed, 1, [1, 2, 3], [0.1, None, 0.5 + seed / 10]))
        result.runs.append(Trajectory("good", seed, 1, [1, 2, 3], [0.9, 1.0, 0.2]))
    random_row, good_row = result.summary(1)
    assert result.budgets() == [1, 2, 3]
    assert random_row["regret"] == {1: pytest.approx(0.9), 2: pytest.approx(0.9),
                                    3: pytest.approx(0.4)}
    assert good_row["regret"] == {1: pytest.approx(0.1), 2: 0.0, 3: 0.0}
    assert (random_row["top_share"], good_row["top_share"]) == (0.0, 1.0)
    assert random_row["p_vs_random"] is None and good_row["p_vs_random"] < 0.05
    assert result.best_by(result.runs[0], 2.5) == 0.1  # what had ended by then
    assert result.regret(None) == math.inf


def test_mann_whitney_is_one_sided():
    low, high = [0.0, 0.01, 0.02, 0.0, 0.01], [0.05, 0.04, 0.06, 0.03, 0.05]
    assert mann_whitney_less(low, high) < 0.01 < 0.99 < mann_whitney_less(high, low)
    assert mann_whitney_less([0.0] * 5, [0.0] * 5) == 1.0
    assert mann_whitney_less([0.0, math.inf], [math.inf, math.inf]) < 0.5


def test_runs_every_strategy_seed_and_worker_count_on_the_engine(tmp_path):
    seconds = {(h, a): float(h) for h in (4, 8, 16) for a in (0, 1)}
    spec = load_spec(table_spec(tmp_path, write_table(tmp_path, every_row(seconds)),
                                strategy={"name": "evolution", "population_size": 2,
                                          "sample_size": 1}))
    result = run_bench(spec, ["random", "evolution"], seeds=2, trials=6, workers=[1, 3])
    assert len(result.runs) == 2 * 2 * 2
    assert (result.optimum, result.size) == (1.01, 6)
    for run in result.runs:  # with dedup, six trials try the whole table: regret 0 at the end
        assert len(run.values) == 6 and result.regret(result.best_after(run, 6)) == 0.0
        assert run.ends == sorted(run.ends)
        if run.workers == 1:
            assert run.ends[-1] == sum(seconds.values())
    assert max(r.ends[-1] for r in result.runs if r.workers == 3) < sum(seconds.values())
