"""Search strategies against ground truth: the two tables shipped in bench/data, each strategy
for SEEDS seeds and TRIALS trials on the simulated backend (through the engine, as `nas bench`
runs them), on one worker and on 64 asynchronous workers.

| table  | space                                  | what                                      |
|--------|----------------------------------------|-------------------------------------------|
| digits | bench.data.space.DigitsBenchNet (648)  | stand-alone val_acc, 2 epochs (no times)  |
| mlp    | bench.data.mlp_space.DigitsMLPNet (3,024) | val_acc after each of 12 epochs, CPU seconds |

Reported per table, worker count and strategy: mean regret (the table's optimum minus the best
found) at a third, two thirds and all of the budget, the share of runs that found a top-1%
architecture, and a one-sided Mann-Whitney U test that its final regrets are lower than random
search's. Targets: evolution, tpe and rl beat random at p < 0.05 on one worker.

Run: python -m bench.bench_search [--seeds N] [--trials N] [--workers 1,64] [--tables digits,mlp]
     [--strategies random,evolution,tpe,rl] [--html FOLDER]
Rebuild the digits table (3-10 minutes on 2 cores): python -m bench.bench_search --build-table
(the mlp table: python -m bench.make_curve_table). `main()` returns [(name, value, target)] rows.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
TABLES = {"digits": DATA / "digits_table.csv", "mlp": DATA / "mlp_curves.csv"}
SPECS = {"digits": Path(__file__).parents[1] / "specs" / "table_digits.yaml",
         "mlp": Path(__file__).parents[1] / "specs" / "table_mlp.yaml"}
STRATEGIES = ("random", "evolution", "tpe", "rl")
SEEDS = 30
TRIALS = 150
WORKERS = (1, 64)
ALPHA = 0.05

# How the digits table is built: a fixed stratified split, a hand-written loop, one thread.
EPOCHS = 2
BATCH_SIZE = 32
LEARNING_RATE = 3e-3
VAL_SHARE = 0.4
SPLIT_SEED = 0
TRAIN_SEED = 0
PROCESSES = 2


# --- the digits table ------------------------------------------------------------------------


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


def train_epoch(model: Any, optimizer: Any, x: Any, y: Any, generator: Any,
                batch_size: int = BATCH_SIZE) -> None:
    """One epoch of cross-entropy steps on mini-batches shuffled by `generator`."""
    import torch
    import torch.nn.functional as F

    model.train()
    for index in torch.randperm(len(x), generator=generator).split(batch_size):
        loss = F.cross_entropy(model(x[index]), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def fit_and_score(model: Any, data: tuple[Any, Any, Any, Any], *, epochs: int, batch_size: int,
                  learning_rate: float, seed: int) -> float:
    """The tables' recipe: Adam, cross-entropy, shuffling seeded by `seed`; the validation
    accuracy of `model` after `epochs` epochs on (x_train, y_train, x_val, y_val)."""
    import torch

    x_train, y_train, x_val, y_val = data
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        train_epoch(model, optimizer, x_train, y_train, generator, batch_size)
    model.eval()
    with torch.inference_mode():
        correct = (model(x_val).argmax(1) == y_val).sum().item()
    return correct / len(y_val)


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


def bench_space() -> Any:
    from bench.data.space import DigitsBenchNet
    from nas_cli import search_space

    return search_space(DigitsBenchNet)


def _train_indexed(item: tuple[int, dict[str, Any]]) -> tuple[int, float]:
    return item[0], train_one(item[1])


def cell(value: Any) -> str:
    """A label's value in a table cell: strings bare, everything else as JSON."""
    import json

    return value if isinstance(value, str) else json.dumps(value)


def build_table(path: Path = TABLES["digits"], processes: int = PROCESSES) -> None:
    """Train every architecture of DigitsBenchNet once and write the table (CSV)."""
    import multiprocessing

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
                print(f"  {done}/{len(archs)} trained, {time.perf_counter() - started:.0f} s",
                      flush=True)
    labels = list(space.decisions)
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*labels, "val_acc"])
        for index, arch in enumerate(archs):
            writer.writerow([cell(arch[k]) if k in arch else "" for k in labels]
                            + [round(accs[index], 6)])
    print(f"wrote {path} in {time.perf_counter() - started:.0f} s")


def write_table(path: Path, meta: dict[str, Any], table: dict[str, Any]) -> None:
    """A JSON table for other benchmarks (bench_oneshot): {"meta": ..., "table": {arch_key:
    value}}, one architecture a line, keys sorted."""
    import json

    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(table.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"meta": ' + json.dumps(meta, indent=1) + ',\n"table": {\n'
                    + ",\n".join(lines) + "\n}}\n")


# --- the comparison --------------------------------------------------------------------------


def compare(table: str, strategies: list[str], seeds: int, trials: int,
            workers: list[int]) -> Any:
    from nas_cli.lab import run_bench
    from nas_cli.spec import load_spec

    return run_bench(load_spec(SPECS[table]), strategies, seeds=seeds, trials=trials,
                     workers=workers, progress=lambda line: print(f"  {table}: {line}",
                                                                  flush=True))


def main(argv: list[str] | None = None) -> list[tuple[str, float, str]]:
    """Compare the strategies on each table; print the tables; return the summary rows."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_search", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-table", action="store_true",
                        help="train every digits architecture once and write its table")
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--trials", type=int, default=TRIALS)
    parser.add_argument("--workers", default=",".join(map(str, WORKERS)))
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--html", type=Path, default=None,
                        help="also write each table's HTML report into this folder")
    args = parser.parse_args([] if argv is None else argv)
    if args.build_table:
        build_table()
        return []

    import warnings

    warnings.filterwarnings("ignore", module="optuna")
    started = time.perf_counter()
    workers = [int(w) for w in args.workers.split(",")]
    strategies = args.strategies.split(",")
    rows: list[tuple[str, float, str]] = []
    for table in args.tables.split(","):
        result = compare(table, strategies, args.seeds, args.trials, workers)
        if args.html is not None:
            from nas_cli.report import write_bench_report

            args.html.mkdir(parents=True, exist_ok=True)
            write_bench_report(result, args.html / f"{table}.html")
        for count in workers:
            print(f"\n{table}: {result.size} architectures, optimum {result.optimum:.4f}, top 1% "
                  f">= {result.top:.4f}; {count} worker(s), {args.trials} trials x {args.seeds} "
                  "seeds")
            budgets = result.budgets()
            print(f"{'strategy':<10}" + "".join(f"{'regret@' + str(b):>12}" for b in budgets)
                  + f"{'top-1%':>8}{'p vs random':>13}{'wall s/run':>11}")
            for row in result.summary(count):
                p = row["p_vs_random"]
                print(f"{row['strategy']:<10}"
                      + "".join(f"{row['regret'][b]:>12.4f}" for b in budgets)
                      + f"{row['top_share']:>8.0%}{'' if p is None else f'{p:.3g}':>13}"
                      + f"{row['wall_s']:>11.2f}")
                name = f"{table} {row['strategy']} w{count}"
                rows.append((f"{name} mean regret @{args.trials}",
                             row["regret"][args.trials], ""))
                if p is not None:
                    target = f"< {ALPHA}" if count == 1 else ""
                    rows.append((f"{name} p vs random", p, target))
    elapsed = time.perf_counter() - started
    print(f"\np: one-sided Mann-Whitney U, final regrets lower than random's; total {elapsed:.0f} s")
    rows.append(("bench_search seconds", elapsed, ""))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
