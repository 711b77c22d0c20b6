"""Build bench/data/mlp_curves.csv: every architecture of `bench.data.mlp_space.DigitsMLPNet`
trained once on sklearn's digits, with its validation accuracy after every epoch.

The table is in the format the `table` evaluator reads (one column per label, one per metric,
`seconds`, `curve`), so `nas run` / `nas bench` use it directly (specs/mlp_table.yaml).

Run (about 20 minutes of CPU in all, single-threaded, in nice'd processes; the shipped table
took 1,192 CPU seconds of training, 88 minutes of wall time on two busy shared cores):

    nice -n 10 python -m bench.make_curve_table [--processes 2] [--limit N]

`seconds` is the trial's CPU time (thread time: training and the per-epoch validation), so a
busy machine does not inflate it; `curve` is the JSON list of val_acc after each epoch.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).parent / "data" / "mlp_curves.csv"
EPOCHS = 12
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
VAL_SHARE = 0.4
SPLIT_SEED = 0
TRAIN_SEED = 0

_DATA: tuple[Any, ...] | None = None


def _init_worker() -> None:
    global _DATA
    import torch

    from bench.bench_search import load_digits_split

    os.nice(10)
    torch.set_num_threads(1)
    _DATA = load_digits_split()
    train_curve({"depth": 1, "width": 32, "norm": "none", "act1": "relu", "dropout": 0.0})  # warm-up:
    # the first model a process trains pays one-time costs that its `seconds` must not show


def train_curve(arch: dict[str, Any]) -> dict[str, Any]:
    """Train `arch` for EPOCHS epochs; val_acc after each epoch, the last val_loss, params,
    CPU seconds."""
    import torch
    import torch.nn.functional as F

    from bench.bench_search import train_epoch
    from bench.data.mlp_space import DigitsMLPNet
    from nas_cli import freeze

    if _DATA is None:
        _init_worker()
    x_train, y_train, x_val, y_val = _DATA
    started = time.thread_time()
    torch.manual_seed(TRAIN_SEED)
    model = freeze(DigitsMLPNet, arch)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(TRAIN_SEED)
    curve = []
    loss = math.nan
    for _ in range(EPOCHS):
        train_epoch(model, optimizer, x_train, y_train, generator, BATCH_SIZE)
        model.eval()
        with torch.inference_mode():
            logits = model(x_val)
            loss = F.cross_entropy(logits, y_val).item()
            curve.append(round((logits.argmax(1) == y_val).float().mean().item(), 6))
    return {"val_acc": curve[-1], "val_loss": round(loss, 6),
            "params": sum(p.numel() for p in model.parameters()),
            "seconds": round(time.thread_time() - started, 4), "curve": curve}


def _train_indexed(item: tuple[int, dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    return item[0], train_curve(item[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.make_curve_table", description=__doc__)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="only the first N (a dry run)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    from bench.bench_search import cell
    from bench.data.mlp_space import DigitsMLPNet
    from nas_cli import search_space

    space = search_space(DigitsMLPNet)
    archs = list(space)[: args.limit]
    rows: dict[int, dict[str, Any]] = {}
    started = time.perf_counter()
    print(f"training {len(archs)} architectures, {EPOCHS} epochs each, {args.processes} processes",
          flush=True)
    with multiprocessing.get_context("spawn").Pool(args.processes, initializer=_init_worker) as pool:
        for done, (index, row) in enumerate(
                pool.imap_unordered(_train_indexed, list(enumerate(archs)), chunksize=8), 1):
            rows[index] = row
            if done % 100 == 0 or done == len(archs):
                elapsed = time.perf_counter() - started
                print(f"  {done}/{len(archs)}, {elapsed:.0f} s, about "
                      f"{elapsed / done * (len(archs) - done):.0f} s left", flush=True)
    labels = list(space.decisions)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*labels, "val_acc", "val_loss", "params", "seconds", "curve"])
        for index, arch in enumerate(archs):
            row = rows[index]
            writer.writerow([cell(arch[k]) if k in arch else "" for k in labels]
                            + [row["val_acc"], row["val_loss"], row["params"], row["seconds"],
                               json.dumps(row["curve"])])
    print(f"wrote {args.output} ({len(archs)} rows) in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
