"""The simulated backend's throughput: simulated trials per second through the whole engine
(strategy, store, results.json) on one core, each figure against a baseline run in this process.

(a) random search (no dedup) on 64 simulated workers over the digits table: 1,000 trials and
    100,000 trials. Per-trial wall time over each run's second half (start-up excluded) and the
    trials per second. Flat with the trial count: within the 100,000-trial run, the per-trial
    time of the last 10,000 trials against that of trials 1,000-11,000 (the same run, so the
    same periodic costs: results.json rewrites, grouped commits, the garbage collector's full
    passes, which a 1,000-trial run's short second half never reaches; the ratio of the two
    runs' second halves is shown too). Baseline: the same proposals as a bare loop (propose,
    look up, tell; no engine). Targets: >= 2,000 trials/s at both ends; last / first <= 1.25.
(b) where the time goes for the other strategies: 1,000 trials each (TPE 300), trials/s and
    the share of the wall time spent inside the strategy's own propose() and tell().
(c) early stopping (median pruner) on the mlp table's curves: 300 trials, trials/s (the
    median rule reads its cache of the completed trials; Optuna reads the reporting trial).

Run: nice python -m bench.bench_simulated. `main()` returns [(name, value, target)] rows.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
DIGITS = ROOT / "specs" / "table_digits.yaml"
MLP = ROOT / "specs" / "table_mlp.yaml"
SMALL, LARGE = 1_000, 100_000
OTHERS = {"evolution": 1_000, "rl": 1_000, "tpe": 300}
PRUNED_TRIALS = 300
WORKERS = 64


class _Timed:
    """Wraps a strategy class: counts the seconds spent in its propose() and tell()."""

    spent = 0.0

    @classmethod
    def wrap(cls, base: type) -> type:
        def propose(self: Any) -> Any:
            started = time.perf_counter()
            try:
                return base.propose(self)
            finally:
                cls.spent += time.perf_counter() - started

        def tell(self: Any, *args: Any) -> None:
            started = time.perf_counter()
            try:
                base.tell(self, *args)
            finally:
                cls.spent += time.perf_counter() - started

        return type(base.__name__, (base,), {"propose": propose, "tell": tell})


def engine_run(spec_path: Path, strategy: str, trials: int, folder: Path,
               **overrides: Any) -> dict[str, float]:
    """One experiment through the engine; wall seconds per trial over its second half, and the
    share of the whole run spent in the strategy."""
    from nas_cli import strategy as strategies
    from nas_cli.experiment import Listener, create_experiment, execute
    from nas_cli.spec import load_spec

    class Clock(Listener):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def trial_finished(self, run: Any, record: Any) -> None:
            self.ends.append(time.perf_counter())

    spec = load_spec(spec_path, {"max_trial_number": trials, "strategy": {
        "name": strategy, "seed": 0, "dedup": False}, "trial_concurrency": WORKERS,
        "training_service.workers": WORKERS, **overrides})
    clock = Clock()
    run = create_experiment(spec, folder, clock)
    original = strategies.STRATEGIES[strategy]
    strategies.STRATEGIES[strategy] = _Timed.wrap(original)
    _Timed.spent = 0.0
    started = time.perf_counter()
    try:
        execute(run)
    finally:
        strategies.STRATEGIES[strategy] = original
    total = time.perf_counter() - started
    ends = clock.ends
    half = len(ends) // 2
    per_trial = (ends[-1] - ends[half]) / (len(ends) - 1 - half)
    window = min(10_000, len(ends) // 4)
    first = (ends[1_000 + window] - ends[1_000]) / window if len(ends) > 1_000 + window else 0.0
    last = (ends[-1] - ends[-1 - window]) / window
    return {"per_trial_s": per_trial, "rate": 1 / per_trial, "total_s": total,
            "strategy_share": _Timed.spent / total, "trials": len(ends),
            "first_window_s": first, "last_window_s": last}


def bare_loop(trials: int) -> float:
    """Seconds per trial of random search as a bare loop over the table (no engine)."""
    from nas_cli.experiment import build_payload
    from nas_cli.spec import load_spec
    from nas_cli.strategy import create
    from nas_cli.trials import TrialState

    payload, space = build_payload(load_spec(DIGITS))
    table = payload.evaluator.table
    strategy = create("random", space, seed=0, dedup=False)
    started = time.perf_counter()
    for _ in range(trials):
        arch = strategy.propose()
        strategy.tell(arch, table.lookup(arch).metrics["val_acc"], TrialState.COMPLETE)
    return (time.perf_counter() - started) / trials


def main() -> list[tuple[str, float, str]]:
    import warnings

    warnings.filterwarnings("ignore", module="optuna")
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-simulated-") as tmp:
        folder = Path(tmp)
        bare = bare_loop(SMALL * 10)
        small = engine_run(DIGITS, "random", SMALL, folder)
        large = engine_run(DIGITS, "random", LARGE, folder)
        ratio = large["per_trial_s"] / small["per_trial_s"]
        flat = large["last_window_s"] / large["first_window_s"]
        print(f"(a) random, {WORKERS} simulated workers: {SMALL:,} trials {small['rate']:,.0f} "
              f"trials/s ({small['per_trial_s'] * 1e6:.0f} us/trial); {LARGE:,} trials "
              f"{large['rate']:,.0f} trials/s ({large['per_trial_s'] * 1e6:.0f} us/trial, "
              f"{large['total_s']:.0f} s in all); in the long run, trials 1,000-11,000 "
              f"{large['first_window_s'] * 1e6:.0f} us/trial, the last 10,000 "
              f"{large['last_window_s'] * 1e6:.0f} -> {flat:.2f}x (the two runs' second halves: "
              f"{ratio:.2f}x); bare loop {bare * 1e6:.0f} us/trial, so the engine adds "
              f"{(large['per_trial_s'] - bare) * 1e6:.0f} us/trial (load {os.getloadavg()[0]:.1f})")
        rows += [
            (f"simulated random trials/s at {SMALL:,}", small["rate"], ">= 2000"),
            (f"simulated random trials/s at {LARGE:,}", large["rate"], ">= 2000"),
            ("per-trial cost, last 10,000 / trials 1,000-11,000 (x)", flat, "<= 1.25"),
            (f"per-trial cost, second halves of {LARGE:,} / {SMALL:,} trials (x)", ratio, ""),
            ("engine / bare loop per trial (x)", large["per_trial_s"] / bare, ""),
        ]
        for name, trials in OTHERS.items():
            other = engine_run(DIGITS, name, trials, folder)
            print(f"(b) {name}, {trials:,} trials: {other['rate']:,.0f} trials/s over the second "
                  f"half ({other['per_trial_s'] * 1e3:.2f} ms/trial); "
                  f"{other['strategy_share']:.0%} of the run inside the strategy")
            rows += [(f"simulated {name} trials/s at {trials:,}", other["rate"], ""),
                     (f"simulated {name} share of time in the strategy", other["strategy_share"],
                      "")]
        pruned = engine_run(MLP, "random", PRUNED_TRIALS, folder,
                            early_stopping={"type": "median", "n_startup_trials": 5})
        print(f"(c) random with median early stopping on the mlp curves, {PRUNED_TRIALS} trials: "
              f"{pruned['rate']:,.0f} trials/s ({pruned['per_trial_s'] * 1e3:.2f} ms/trial)")
        rows.append((f"simulated trials/s with early stopping at {PRUNED_TRIALS}",
                     pruned["rate"], ""))
    return rows


if __name__ == "__main__":
    main()
    sys.exit(0)
