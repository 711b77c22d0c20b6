"""The strategy lab: compare search strategies on a table of measured results, on a simulated
cluster of any size, with regret against the table's optimum and a test against random search.

    result = run_bench(load_spec("specs/table_digits.yaml"), ["random", "evolution", "rl"],
                       seeds=30, trials=150, workers=[1, 64])
    result.summary(64)   # per strategy: mean regret per budget, top-1% share, p vs random

`nas bench` is the command over it; `nas_cli.report.write_bench_report` draws the regret
curves.
"""

from nas_cli.lab._bench import BenchResult, Trajectory, check_bench, run_bench
from nas_cli.lab._stats import mann_whitney_less

__all__ = ["BenchResult", "Trajectory", "check_bench", "mann_whitney_less", "run_bench"]
