"""Search strategies on a tabular benchmark: every architecture of a small digits space trained
once, so a search is a sequence of table look-ups and many seeded searches take seconds.

Run: python -m bench.bench_search. `main()` returns [(name, value, target)] rows.
Rebuild the table (about 3-10 minutes on 2 cores): python -m bench.bench_search --build-table

The space is `bench.data.space.DigitsBenchNet` (648 architectures, one nested decision); the
table `bench/data/digits_table.json` maps each architecture's JSON key to its validation accuracy.
Each strategy runs through its own propose/tell interface, one trial at a time, for
SEEDS seeds and BUDGETS[-1] trials (a run's first 50 trials are its 50-trial search: strategies
do not know the budget). Reported per strategy and budget: the mean regret (the table's optimum
minus the best accuracy found), the share of runs that found a top-1% architecture, and a
one-sided Mann-Whitney U test (regrets lower than random's) at the largest budget.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

TABLE = Path(__file__).parent / "data" / "digits_table.json"
STRATEGIES = ("random", "evolution", "tpe", "rl")  # grid is printed as a sanity line only
SEEDS = 30
BUDGETS = (50, 100)
ALPHA = 0.05
TIME_TARGET_S = 120.0

# How the table is built: a fixed stratified split, a hand-written loop, one thread, one seed.
EPOCHS = 2
BATCH_SIZE = 32
LEARNING_RATE = 3e-3
VAL_SHARE = 0.4
SPLIT_SEED = 0
TRAIN_SEED = 0
PROCESSES = 2


# --- the table ------------------------------------------------------------------------------


def load_digits_split() -> tuple[Any, Any, Any, Any]:
    """sklearn's digits as (x_train, y_train, x_val, y_val) tensors, 1x8x8 in [0, 1]."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    x_train, x_val, y_train, y_val = train_test_split(
        x, digits.target, test_size=VAL_SHARE, stratify=digits.target, random_state=SPLIT_SEED)
    return (torch.from_numpy(x_train), torch.from_numpy(y_train).long(),
            torch.from_numpy(x_val), torch.from_numpy(y_val).long())


_DATA: tuple[Any, ...] | None = None


def _init_worker() -> None:
    global _DATA
    import torch

    torch.set_num_threads(1)
    _DATA = load_digits_split()


def train_one(arch: dict[str, Any], learning_rate: float = LEARNING_RATE) -> float:
    """Train `arch` with the fixed recipe (at `learning_rate`); its validation accuracy."""
    import torch

    from bench.data.space import DigitsBenchNet
    from nas_cli import freeze

    if _DATA is None:
        _init_worker()
    torch.manual_seed(TRAIN_SEED)
    return fit_and_score(freeze(DigitsBenchNet, arch), _DATA, epochs=EPOCHS,
                         batch_size=BATCH_SIZE, learning_rate=learning_rate, seed=TRAIN_SEED)


def fit_and_score(model: Any, data: tuple[Any, Any, Any, Any], *, epochs: int, batch_size: int,
                  learning_rate: float, seed: int) -> float:
    """The tables' recipe: Adam, cross-entropy, shuffling seeded by `seed`; the validation
    accuracy of `model` after `epochs` epochs on (x_train, y_train, x_val, y_val)."""
    import torch
    import torch.nn.functional as F

    x_train, y_train, x_val, y_val = data
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for index in torch.randperm(len(x_train), generator=generator).split(batch_size):
            loss = F.cross_entropy(model(x_train[index]), y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.inference_mode():
        correct = (model(x_val).argmax(1) == y_val).sum().item()
    return correct / len(y_val)


def _train_indexed(item: tuple[int, dict[str, Any]]) -> tuple[int, float]:
    return item[0], train_one(item[1])


def bench_space() -> Any:
    from bench.data.space import DigitsBenchNet
    from nas_cli import search_space

    return search_space(DigitsBenchNet)


def build_table(path: Path = TABLE, processes: int = PROCESSES) -> dict[str, Any]:
    """Train every architecture once (in `processes` worker processes) and write the table."""
    import multiprocessing

    import torch

    from nas_cli.strategy import arch_key

    space = bench_space()
    archs = list(space)
    accs: dict[int, float] = {}
    started = time.perf_counter()
    print(f"training {len(archs)} architectures, {EPOCHS} epochs each, {processes} processes")
    with multiprocessing.get_context("spawn").Pool(processes, initializer=_init_worker) as pool:
        for done, (index, acc) in enumerate(
                pool.imap_unordered(_train_indexed, list(enumerate(archs)), chunksize=4), 1):
            accs[index] = acc
            if done % 25 == 0 or done == len(archs):
                elapsed = time.perf_counter() - started
                left = elapsed / done * (len(archs) - done)
                print(f"  {done}/{len(archs)} trained, {elapsed:.0f} s, about {left:.0f} s left",
                      flush=True)
    table = {arch_key(archs[i]): round(accs[i], 6) for i in range(len(archs))}
    x_train, _, x_val, _ = load_digits_split()
    meta = {
        "space": f"bench.data.space.DigitsBenchNet: {space.size} architectures, "
                 f"{len(space.decisions)} decisions",
        "decisions": {k: d.to_json() for k, d in space.decisions.items()},
        "size": space.size,
        "metric": "val_acc",
        "dataset": (f"sklearn.datasets.load_digits, 1x8x8 scaled to [0, 1]; stratified "
                    f"train_test_split(test_size={VAL_SHARE}, random_state={SPLIT_SEED}): "
                    f"{len(x_train)} train, {len(x_val)} validation"),
        "training": (f"hand-written torch loop: Adam lr={LEARNING_RATE}, batch {BATCH_SIZE}, "
                     f"{EPOCHS} epochs, torch.manual_seed({TRAIN_SEED}) before building the model, "
                     f"shuffling generator seeded {TRAIN_SEED}, torch.set_num_threads(1); "
                     "each architecture trained once"),
        "built_with": "python -m bench.bench_search --build-table",
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
        "build_s": round(time.perf_counter() - started, 1),
    }
    write_table(path, meta, table)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB) in {meta['build_s']} s")
    return {"meta": meta, "table": table}


def write_table(path: Path, meta: dict[str, Any], table: dict[str, Any]) -> None:
    """{"meta": ..., "table": {arch_key: val_acc}}: one architecture a line, keys sorted."""
    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(table.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"meta": ' + json.dumps(meta, indent=1) + ',\n"table": {\n'
                    + ",\n".join(lines) + "\n}}\n")


def load_table(path: Path = TABLE) -> dict[str, float]:
    """{arch_key: val_acc}; a clear message when the table has not been built."""
    if not path.exists():
        raise SystemExit(f"{path} is missing: build it with python -m bench.bench_search --build-table")
    return json.loads(path.read_text())["table"]


# --- the searches ---------------------------------------------------------------------------


def search(name: str, space: Any, table: dict[str, float], seed: int, budget: int) -> list[float]:
    """One sequential search: the best accuracy found after each trial."""
    from nas_cli.strategy import arch_key, create
    from nas_cli.trials import TrialState

    strategy = create(name, space, seed=seed, dedup=True)
    best, curve = -math.inf, []
    for _ in range(budget):
        arch = strategy.propose()
        if arch is None:
            break
        score = table[arch_key(arch)]
        strategy.tell(arch, score, TrialState.COMPLETE)
        best = max(best, score)
        curve.append(best)
    return curve


def _at(curve: list[float], budget: int) -> float:
    return curve[min(budget, len(curve)) - 1]


def main(argv: list[str] | None = None) -> list[tuple[str, float, str]]:
    """Run every strategy on the table; print a table of regrets; return the summary rows."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_search", description=__doc__)
    parser.add_argument("--build-table", action="store_true",
                        help="train every architecture once and write bench/data/digits_table.json")
    parser.add_argument("--seeds", type=int, default=SEEDS)
    args = parser.parse_args([] if argv is None else argv)
    if args.build_table:
        build_table()
        return []

    from scipy.stats import mannwhitneyu

    warnings.filterwarnings("ignore", module="optuna")
    started = time.perf_counter()
    table = load_table()
    space = bench_space()
    assert len(table) == space.size, "the table does not match the space: rebuild it"
    values = sorted(table.values(), reverse=True)
    optimum = values[0]
    top = values[math.ceil(len(values) / 100) - 1]  # top 1%: at least as good as this
    n_top = sum(v >= top for v in values)
    regrets: dict[tuple[str, int], list[float]] = {}
    seconds: dict[str, float] = {}
    for name in (*STRATEGIES, "grid"):
        t0 = time.perf_counter()
        curves = [search(name, space, table, seed, max(BUDGETS)) for seed in range(args.seeds)]
        seconds[name] = time.perf_counter() - t0
        for budget in BUDGETS:
            regrets[name, budget] = [optimum - _at(c, budget) for c in curves]

    print(f"tabular benchmark: {space.size} architectures, optimum val_acc {optimum:.4f}, "
          f"median {statistics.median(values):.4f}; top 1% = {n_top} archs >= {top:.4f}; "
          f"{args.seeds} seeds")
    header = f"{'strategy':<10} {'trials':>6} {'mean regret':>12} {'median':>8} {'top-1%':>7}" \
             f" {'p vs random':>12} {'s/run':>6}"
    print(header)
    print("-" * len(header))
    rows: list[tuple[str, float, str]] = []
    for name in (*STRATEGIES, "grid"):
        for budget in BUDGETS:
            r = regrets[name, budget]
            found = sum(x <= optimum - top for x in r) / len(r)
            p_text = ""
            if name != "random":
                p = mannwhitneyu(r, regrets["random", budget], alternative="less").pvalue
                p_text = f"{p:.3g}"
                if budget == max(BUDGETS) and name in ("evolution", "tpe"):
                    rows.append((f"{name} vs random regret p ({budget} trials)", p, f"< {ALPHA}"))
            print(f"{name:<10} {budget:>6} {statistics.fmean(r):>12.4f} "
                  f"{statistics.median(r):>8.4f} {found:>7.0%} {p_text:>12} "
                  f"{seconds[name] / args.seeds:>6.2f}")
            rows.append((f"{name} mean regret ({budget} trials)", statistics.fmean(r),
                         "< random" if name in ("evolution", "tpe") else ""))
    elapsed = time.perf_counter() - started
    print(f"p: one-sided Mann-Whitney U, regrets lower than random's; total {elapsed:.0f} s "
          f"(target < {TIME_TARGET_S:.0f} s)")
    rows.append(("bench_search seconds", elapsed, f"< {TIME_TARGET_S:.0f}"))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
