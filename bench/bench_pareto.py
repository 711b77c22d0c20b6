"""Multi-objective search and searched hyperparameters on a ground-truth table.

The table (`bench/data/digits_pareto_table.json`) extends the search benchmark's digits space
(`bench.data.space.DigitsBenchNet`, 648 architectures) with a learning-rate axis: every
architecture trained once at each of LEARNING_RATES with bench_search's recipe (Adam, batch
32, 2 epochs, one thread, seeds fixed), plus its parameter count and FLOPs (one 1x8x8 input,
counted by nas_cli's cost metrics). Build it (about 40-90 minutes on one core, resumable):

    nice -n 10 python -m bench.bench_pareto --build-table

Run: python -m bench.bench_pareto. `main()` returns [(name, value, target)] rows.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

TABLE = Path(__file__).parent / "data" / "digits_pareto_table.json"
PARTIAL = TABLE.with_name(".digits_pareto_table.partial.jsonl")
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
INPUT_SHAPE = (1, 8, 8)


# --- the table ------------------------------------------------------------------------------


def build_table(path: Path = TABLE) -> dict[str, Any]:
    """Train every (architecture, learning rate) once in this process, one thread; progress is
    kept in a side file, so an interrupted build continues where it stopped."""
    import torch

    from bench.bench_search import EPOCHS, _init_worker, bench_space, load_digits_split, train_one
    from bench.data.space import DigitsBenchNet
    from nas_cli import freeze
    from nas_cli.evaluator._cost import count_flops, count_params
    from nas_cli.strategy import arch_key

    torch.set_num_threads(1)
    _init_worker()
    space = bench_space()
    archs = list(space)
    done: dict[str, dict[str, Any]] = {}
    if PARTIAL.exists():
        for line in PARTIAL.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                done[row["key"]] = row
    train_one(archs[0], LEARNING_RATES[0])  # warm-up: a process's first training differs
    started = time.perf_counter()
    todo = [a for a in archs if arch_key(a) not in done]
    print(f"training {len(todo)} of {len(archs)} architectures at {len(LEARNING_RATES)} "
          f"learning rates, {EPOCHS} epochs each, one thread", flush=True)
    with PARTIAL.open("a") as partial:
        for i, arch in enumerate(todo, 1):
            model = freeze(DigitsBenchNet, arch)
            row = {"key": arch_key(arch), "params": count_params(model),
                   "flops": count_flops(model, INPUT_SHAPE),
                   "val_acc": [round(train_one(arch, lr), 6) for lr in LEARNING_RATES]}
            partial.write(json.dumps(row) + "\n")
            partial.flush()
            done[row["key"]] = row
            if i % 10 == 0 or i == len(todo):
                elapsed = time.perf_counter() - started
                print(f"  {i}/{len(todo)}, {elapsed:.0f} s, about "
                      f"{elapsed / i * (len(todo) - i):.0f} s left", flush=True)
    x_train, _, x_val, _ = load_digits_split()
    meta = {
        "space": f"bench.data.space.DigitsBenchNet: {space.size} architectures x "
                 f"{len(LEARNING_RATES)} learning rates",
        "learning_rates": list(LEARNING_RATES),
        "input_shape": list(INPUT_SHAPE),
        "metrics": {"val_acc": "validation accuracy, one per learning rate",
                    "params": "parameter count", "flops": "FLOPs of one 1x8x8 input"},
        "dataset": (f"sklearn digits, {len(x_train)} train / {len(x_val)} validation "
                    "(bench_search's split)"),
        "training": "bench_search's recipe (Adam, batch 32, 2 epochs, seeds 0, one thread) "
                    "at each learning rate, after one warm-up training in the process",
        "built_with": "nice -n 10 python -m bench.bench_pareto --build-table",
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
    }
    table = {row["key"]: {k: row[k] for k in ("params", "flops", "val_acc")}
             for row in done.values()}
    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(table.items())]
    path.write_text('{"meta": ' + json.dumps(meta, indent=1) + ',\n"table": {\n'
                    + ",\n".join(lines) + "\n}}\n")
    PARTIAL.unlink(missing_ok=True)
    print(f"wrote {path}")
    return {"meta": meta, "table": table}


def load_table(path: Path = TABLE) -> dict[str, dict[str, Any]]:
    """{arch_key: {"params", "flops", "val_acc": [one per learning rate]}}."""
    if not path.exists():
        raise SystemExit(f"{path} is missing: build it with "
                         "nice -n 10 python -m bench.bench_pareto --build-table")
    return json.loads(path.read_text())["table"]


# --- the searches ---------------------------------------------------------------------------

MO_STRATEGIES = ("nsga2", "evolution", "tpe", "random")
SO_STRATEGIES = ("evolution", "tpe", "random")
SEEDS = 20
BUDGETS = (50, 100)
FIXED_LR = 1e-3  # the classification evaluator's default learning_rate
ALPHA = 0.05
TIME_TARGET_S = 300.0
LR = "hp/learning_rate"


def spaces() -> dict[str, Any]:
    """The searched spaces: the architecture alone (learning rate fixed), and the architecture
    with the learning rate as a choice of the measured rates, or as a log range."""
    from bench.bench_search import bench_space
    from nas_cli.distributions import Distribution
    from nas_cli.space import SearchSpace
    from nas_cli.space._discover import Decision

    arch = bench_space()
    rates = list(LEARNING_RATES)
    choice = Decision(LR, "hp", rates, [f"{r:g}" for r in rates])
    ranged = Decision(LR, "hp", [], [], distribution=Distribution(rates[0], rates[-1], log=True))
    return {"fixed": arch, "choice": SearchSpace({**arch.decisions, LR: choice}),
            "range": SearchSpace({**arch.decisions, LR: ranged})}


class Lookup:
    """Objective values from the table; a learning rate from a range reads the measured rate
    nearest to it in log space (the table is a grid)."""

    def __init__(self, table: dict[str, dict[str, Any]]):
        self.table = table
        self.logs = [math.log(r) for r in LEARNING_RATES]

    def rate_index(self, rate: float) -> int:
        return min(range(len(self.logs)), key=lambda i: abs(self.logs[i] - math.log(rate)))

    def row(self, arch: dict[str, Any]) -> tuple[dict[str, Any], int]:
        from nas_cli.strategy import arch_key

        model = {k: v for k, v in arch.items() if k != LR}
        index = self.rate_index(arch[LR]) if LR in arch else LEARNING_RATES.index(FIXED_LR)
        return self.table[arch_key(model)], index

    def accuracy(self, arch: dict[str, Any]) -> float:
        row, index = self.row(arch)
        return row["val_acc"][index]

    def objectives(self, arch: dict[str, Any]) -> tuple[float, float]:
        """(val_acc, -params): both higher is better."""
        row, index = self.row(arch)
        return row["val_acc"][index], -float(row["params"])


def run_search(name: str, space: Any, tell: Any, seed: int, budget: int,
               objectives: int) -> list[tuple[float, ...] | float]:
    """One sequential search; the score of each trial in order."""
    from nas_cli.strategy import create
    from nas_cli.trials import TrialState

    strategy = create(name, space, seed=seed, dedup=True, objectives=objectives)
    scores = []
    for _ in range(budget):
        arch = strategy.propose()
        if arch is None:
            break
        score = tell(arch)
        strategy.tell(arch, score, TrialState.COMPLETE)
        scores.append(score)
    return scores


def normalizer(table: dict[str, dict[str, Any]]) -> Any:
    """(val_acc, -params) -> [0, 1]^2 over the whole table (1: the best value in the table);
    the hypervolume's reference point is (0, 0): the table's worst accuracy and largest model."""
    accs = [a for row in table.values() for a in row["val_acc"]]
    params = [row["params"] for row in table.values()]
    low, high = (min(accs), -max(params)), (max(accs), -min(params))
    return lambda p: tuple((v - lo) / (hi - lo) for v, lo, hi in zip(p, low, high))


def main(argv: list[str] | None = None) -> list[tuple[str, float, str]]:
    """Hypervolume of the multi-objective strategies, and the regret of searching the learning
    rate jointly vs fixing it; prints tables, returns the summary rows."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_pareto", description=__doc__)
    parser.add_argument("--build-table", action="store_true",
                        help="train every architecture at every learning rate (resumable)")
    parser.add_argument("--seeds", type=int, default=SEEDS)
    args = parser.parse_args([] if argv is None else argv)
    if args.build_table:
        build_table()
        return []

    import statistics
    import warnings

    from scipy.stats import mannwhitneyu

    from nas_cli.pareto import front, hypervolume

    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    table = load_table()
    found = spaces()
    assert len(table) == found["fixed"].size, "the table does not match the space: rebuild it"
    lookup = Lookup(table)
    unit = normalizer(table)
    everything = [unit((acc, -float(row["params"]))) for row in table.values()
                  for acc in row["val_acc"]]
    best_volume = hypervolume([everything[i] for i in front(everything)], (0.0, 0.0))
    rows: list[tuple[str, float, str]] = []

    # 1. hypervolume: val_acc up, params down, the learning rate a choice of the measured ones
    volumes: dict[tuple[str, int], list[float]] = {}
    seconds: dict[str, float] = {}
    for name in MO_STRATEGIES:
        t0 = time.perf_counter()
        for seed in range(args.seeds):
            points = [unit(p) for p in run_search(name, found["choice"], lookup.objectives,
                                                  seed, max(BUDGETS), 2)]
            for budget in BUDGETS:
                volumes.setdefault((name, budget), []).append(
                    hypervolume(points[:budget], (0.0, 0.0)) / best_volume)
        seconds[name] = (time.perf_counter() - t0) / args.seeds
    print(f"\nhypervolume (val_acc up, params down), {len(table)} architectures x "
          f"{len(LEARNING_RATES)} learning rates, {args.seeds} seeds: the share of the whole "
          "table's front's hypervolume (objectives scaled to [0, 1] over the table, reference "
          "point: its worst accuracy and largest model); gap = 1 - share, gap/random: the gap "
          "as a ratio of random search's (lower is better)")
    header = (f"{'strategy':<10} {'trials':>6} {'mean HV':>8} {'median':>8} {'gap':>7} "
              f"{'gap/random':>10} {'p > random':>10} {'s/run':>6}")
    print(header)
    print("-" * len(header))
    for name in MO_STRATEGIES:
        for budget in BUDGETS:
            mine, base = volumes[name, budget], volumes["random", budget]
            p = "" if name == "random" else \
                f"{mannwhitneyu(mine, base, alternative='greater').pvalue:.3g}"
            gap = 1 - statistics.fmean(mine)
            ratio = gap / (1 - statistics.fmean(base))
            print(f"{name:<10} {budget:>6} {statistics.fmean(mine):>8.4f} "
                  f"{statistics.median(mine):>8.4f} {gap:>7.4f} {ratio:>10.3f} {p:>10} "
                  f"{seconds[name]:>6.2f}")
            rows.append((f"{name} hypervolume gap vs random ({budget} trials)", ratio,
                         "< 1" if name != "random" and budget == max(BUDGETS) else ""))
            if name != "random" and budget == max(BUDGETS):
                rows.append((f"{name} vs random hypervolume p ({budget} trials)", float(p),
                             f"< {ALPHA}"))

    # 2. regret of the best accuracy: the learning rate fixed vs searched with the architecture
    optimum = max(a for row in table.values() for a in row["val_acc"])
    fixed_best = max(row["val_acc"][LEARNING_RATES.index(FIXED_LR)] for row in table.values())
    print(f"\nregret of the best val_acc (optimum over every architecture and rate "
          f"{optimum:.4f}; the best at learning rate {FIXED_LR:g} alone: {fixed_best:.4f}, "
          f"regret {optimum - fixed_best:.4f})")
    header = (f"{'strategy':<10} {'lr':<8} {'trials':>6} {'mean regret':>12} {'median':>8} "
              f"{'p < fixed':>10}")
    print(header)
    print("-" * len(header))
    for name in SO_STRATEGIES:
        regrets: dict[tuple[str, int], list[float]] = {}
        for mode in ("fixed", "choice", "range"):
            for seed in range(args.seeds):
                accs = run_search(name, found[mode], lookup.accuracy, seed, max(BUDGETS), 1)
                for budget in BUDGETS:
                    regrets.setdefault((mode, budget), []).append(optimum - max(accs[:budget]))
        for mode in ("fixed", "choice", "range"):
            for budget in BUDGETS:
                mine = regrets[mode, budget]
                p = "" if mode == "fixed" else f"{mannwhitneyu(mine, regrets['fixed', budget], alternative='less').pvalue:.3g}"
                print(f"{name:<10} {mode:<8} {budget:>6} {statistics.fmean(mine):>12.4f} "
                      f"{statistics.median(mine):>8.4f} {p:>10}")
                if budget == max(BUDGETS):
                    rows.append((f"{name} regret, lr {mode} ({budget} trials)",
                                 statistics.fmean(mine), ""))
    elapsed = time.perf_counter() - started
    print(f"p: one-sided Mann-Whitney U; lr fixed = {FIXED_LR:g}, choice = one of the "
          f"{len(LEARNING_RATES)} measured rates, range = loguniform({LEARNING_RATES[0]:g}, "
          f"{LEARNING_RATES[-1]:g}) read at the nearest measured rate; total {elapsed:.0f} s")
    rows.append(("bench_pareto seconds", elapsed, f"< {TIME_TARGET_S:.0f}"))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
