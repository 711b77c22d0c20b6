"""One-shot search (SPOS) against ground truth: every architecture of `SignalNet` (252, on the
procedurally generated signals of `bench.data.signals`) trained stand-alone, 3 seeds averaged,
in `bench/data/signal_table.json`.

Run: python -m bench.bench_oneshot [--seeds N] [--ablations]. `main()` returns the rows.
Rebuild the table (about 20-40 minutes of one CPU thread): python -m bench.bench_oneshot --build-table

Per seed, in this process and on one thread: a supernet of the unchanged `SignalNet` is
trained with `train_supernet` (the code `nas run` runs in phase 1), every architecture is
scored on its inherited weights with batch norm recalibrated (phase 2's evaluator), the
search strategy picks `SEARCH_TRIALS` of them by inherited accuracy, and the best
`RETRAIN_TOP` are "retrained" (their table accuracy; their table cost). Printed:

(a) Kendall tau between inherited and stand-alone accuracy over all 252 architectures;
(b) the regret (table optimum minus the table accuracy of the architecture finally picked)
    against random multi-trial search given the same compute (as many stand-alone trainings
    as the one-shot run cost): both pick by a single training's accuracy (the table's seed 0,
    what a retrained or multi-trial run measures); means over seeds, one-sided Mann-Whitney U;
(c) the cost of the whole one-shot run (supernet, search, retraining) as a multiple of one
    stand-alone training of the space's mean architecture, both timed here in CPU seconds of
    this process (one thread; wall time on a shared machine varies with its load).

Paths are drawn uniformly over architectures (`path_sampling: per_architecture`): here 76% of
the architectures are 3 blocks deep, and per-decision sampling (SPOS's default) trains the
third block a third of the time. `--ablations` also prints, on 3 seeds, tau without batch-norm
recalibration, with per-decision sampling, and after fewer supernet epochs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TABLE = Path(__file__).parent / "data" / "signal_table.json"

# The stand-alone recipe (the table's, and the evaluator's for the supernet and retraining).
EPOCHS = 5
BATCH_SIZE = 64
LEARNING_RATE = 3e-3
TABLE_SEEDS = (0, 1, 2)

# The one-shot run.
SUPERNET_EPOCHS = 30
SEARCH = ("evolution", {"population_size": 20, "sample_size": 5})
SEARCH_TRIALS = 60
RETRAIN_TOP = 3
RECALIBRATION_BATCHES = 10
FAIR = False  # paths uniform over architectures: see the ablation of per-decision sampling
SEEDS = 10
RANDOM_SEEDS = 200
CALIBRATION = 6  # stand-alone trainings timed to price one
ALPHA = 0.05


# --- the stand-alone table -----------------------------------------------------------------


def _data() -> tuple[Any, Any]:
    from bench.data.signals import signal_data

    return signal_data()


def stand_alone(arch: dict[str, Any], seed: int, data: tuple[Any, Any]) -> tuple[float, float]:
    """Train `arch` from scratch with the table's recipe: (validation accuracy, CPU seconds)."""
    import torch

    from bench.bench_search import fit_and_score
    from bench.data.signal_space import SignalNet
    from nas_cli import freeze, search_space

    started = time.process_time()
    (x, y), (xv, yv) = (t.tensors for t in data)
    search_space(SignalNet)  # discovered (and cached) before the seed: it builds modules too
    torch.manual_seed(seed)
    accuracy = fit_and_score(freeze(SignalNet, arch), (x, y, xv, yv), epochs=EPOCHS,
                             batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, seed=seed)
    return accuracy, time.process_time() - started


def build_table(path: Path = TABLE) -> None:
    """Train every architecture with each of TABLE_SEEDS (one thread) and write the table:
    {arch_key: {"val_acc": mean over the seeds, "seeds": [one per seed]}}."""
    import torch

    from bench.bench_search import write_table
    from bench.data.signal_space import SignalNet
    from nas_cli import search_space
    from nas_cli.strategy import arch_key

    torch.set_num_threads(1)
    space = search_space(SignalNet)
    data = _data()
    started = time.perf_counter()
    table: dict[str, Any] = {}
    for done, arch in enumerate(space, 1):
        accs = [round(stand_alone(arch, seed, data)[0], 5) for seed in TABLE_SEEDS]
        table[arch_key(arch)] = {"val_acc": round(statistics.fmean(accs), 5), "seeds": accs}
        if done % 12 == 0 or done == space.size:
            elapsed = time.perf_counter() - started
            print(f"  {done}/{space.size} trained, {elapsed:.0f} s, about "
                  f"{elapsed / done * (space.size - done):.0f} s left", flush=True)
    meta = {
        "space": f"bench.data.signal_space.SignalNet: {space.size} architectures",
        "decisions": {k: d.to_json() for k, d in space.decisions.items()},
        "size": space.size,
        "metric": "val_acc (mean over seeds)",
        "dataset": "bench.data.signals.signal_data(): 2000 train, 1000 validation signals",
        "training": (f"hand-written torch loop: Adam lr={LEARNING_RATE}, batch {BATCH_SIZE}, "
                     f"{EPOCHS} epochs; seeds {list(TABLE_SEEDS)} (torch.manual_seed before "
                     "building the model, shuffling generator seeded alike); one thread"),
        "built_with": "python -m bench.bench_oneshot --build-table",
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
        "build_s": round(time.perf_counter() - started, 1),
    }
    write_table(path, meta, table)
    print(f"wrote {path} in {meta['build_s']} s")


def load_table(path: Path = TABLE) -> dict[str, dict[str, Any]]:
    if not path.exists():
        raise SystemExit(f"{path} is missing: build it with python -m bench.bench_oneshot "
                         "--build-table")
    return json.loads(path.read_text())["table"]


# --- one-shot runs --------------------------------------------------------------------------


def _config() -> Any:
    from nas_cli.spec._models import TrainingEvaluatorSpec

    return TrainingEvaluatorSpec(type="classification", max_epochs=EPOCHS,
                                 dataset={"factory": "bench.data.signals:signal_data"},
                                 batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE)


def unit_seconds(space: Any, data: tuple[Any, Any], n: int = CALIBRATION) -> float:
    """Seconds of one stand-alone training, the mean over `n` uniformly drawn architectures
    timed here now (what a multi-trial search pays per trial, on average)."""
    rng = random.Random(12345)
    return statistics.fmean(stand_alone(space.sample(rng), 0, data)[1] for _ in range(n))


def inherited_scores(net: Any, space: Any, recalibration: int) -> tuple[dict[str, float], float]:
    """Every architecture's validation accuracy on inherited weights; seconds per architecture."""
    from nas_cli.oneshot._inherit import SubnetJudge
    from nas_cli.strategy import arch_key

    judge = SubnetJudge(_config(), REPO, recalibration)
    started = time.process_time()
    scores = {arch_key(a): judge(net.subnet(a), "cpu")["val_acc"] for a in space}
    return scores, (time.process_time() - started) / space.size


def search_and_retrain(space: Any, scores: dict[str, float], table: dict[str, Any],
                       seed: int) -> str:
    """Phase 2 on the inherited scores; phase 3 retrains the RETRAIN_TOP best distinct ones
    (their table accuracy of seed 0: the table's recipe, retrained) and picks the best."""
    from nas_cli.spec import STRATEGY_PARAMS
    from nas_cli.strategy import arch_key, create
    from nas_cli.trials import TrialState

    name, params = SEARCH
    strategy = create(name, space, seed=seed, dedup=True, params=STRATEGY_PARAMS[name](**params))
    seen: dict[str, float] = {}
    for _ in range(SEARCH_TRIALS):
        arch = strategy.propose()
        if arch is None:
            break
        key = arch_key(arch)
        seen[key] = scores[key]
        strategy.tell(arch, scores[key], TrialState.COMPLETE)
    top = sorted(seen, key=lambda k: -seen[k])[:RETRAIN_TOP]
    return max(top, key=lambda k: table[k]["seeds"][0])


def one_shot(seed: int, space: Any, table: dict[str, Any], unit_s: float, *,
             fair: bool = FAIR, epochs: tuple[int, ...] = (SUPERNET_EPOCHS,),
             recalibrations: tuple[int, ...] = (RECALIBRATION_BATCHES,)) -> dict[str, Any]:
    """Train one supernet (stopping to measure at each of `epochs`); per (epochs, batches):
    Kendall tau over the space, the picked architectures' regret, the run's cost in units.
    Other recalibrations than the default are measured at the last stop only."""
    from scipy.stats import kendalltau

    from bench.data.signal_space import SignalNet
    from nas_cli.oneshot import Supernet
    from nas_cli.oneshot._train import train_supernet

    optimum = max(row["val_acc"] for row in table.values())
    keys = sorted(table)
    net = Supernet(SignalNet, seed=seed)
    out: dict[str, Any] = {}
    train_s = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for stop in epochs:
            started = time.process_time()
            train_supernet(net, _config(), epochs=stop, folder=Path(folder), seed=seed, fair=fair,
                           recalibration_batches=RECALIBRATION_BATCHES, base_dir=REPO)
            train_s += time.process_time() - started
            for batches in recalibrations if stop == epochs[-1] else (RECALIBRATION_BATCHES,):
                scores, eval_s = inherited_scores(net, space, batches)
                tau = kendalltau([scores[k] for k in keys], [table[k]["val_acc"] for k in keys])
                picked = search_and_retrain(space, scores, table, seed)
                cost = (train_s + SEARCH_TRIALS * eval_s) / unit_s + RETRAIN_TOP
                out[stop, batches] = {
                    "tau": tau.statistic, "regret": optimum - table[picked]["val_acc"],
                    "cost": cost, "train_s": train_s, "eval_s": eval_s}
    return out


def random_search(seed: int, table: dict[str, Any], budget: float) -> float:
    """Regret of random multi-trial search (no repeats) with `budget` stand-alone trainings:
    it keeps the architecture whose training (seed 0) scored best."""
    order = sorted(table)
    random.Random(seed).shuffle(order)
    tried = order[: max(1, int(budget))]
    picked = max(tried, key=lambda k: table[k]["seeds"][0])
    return max(row["val_acc"] for row in table.values()) - table[picked]["val_acc"]


def main(argv: list[str] | None = None) -> list[tuple[str, float, str]]:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_oneshot", description=__doc__)
    parser.add_argument("--build-table", action="store_true",
                        help="train every architecture and write bench/data/signal_table.json")
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--ablations", action="store_true",
                        help="also: no BN recalibration, uniform-architecture sampling, "
                             "fewer supernet epochs (3 seeds)")
    args = parser.parse_args([] if argv is None else argv)
    if args.build_table:
        build_table()
        return []
    import torch
    from scipy.stats import mannwhitneyu

    from bench.data.signal_space import SignalNet
    from nas_cli import search_space

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    started = time.perf_counter()
    table = load_table()
    space = search_space(SignalNet)
    assert len(table) == space.size, "the table does not match the space: rebuild it"
    values = sorted((row["val_acc"] for row in table.values()), reverse=True)
    unit_s = unit_seconds(space, _data())
    print(f"one-shot benchmark: {space.size} architectures, stand-alone val_acc "
          f"{values[-1]:.3f}..{values[0]:.3f} (median {statistics.median(values):.3f}); one "
          f"stand-alone training = {unit_s:.2f} CPU s here")
    main_key = (SUPERNET_EPOCHS, RECALIBRATION_BATCHES)
    runs = []
    for seed in range(args.seeds):
        ablate = args.ablations and seed < 3
        run = one_shot(seed, space, table, unit_s,
                       epochs=(10, 20, SUPERNET_EPOCHS) if ablate else (SUPERNET_EPOCHS,),
                       recalibrations=(0, RECALIBRATION_BATCHES) if ablate
                       else (RECALIBRATION_BATCHES,))
        if ablate:
            other = one_shot(seed, space, table, unit_s, fair=not FAIR)
            run["other_sampling"] = other[main_key]
        runs.append(run)
        m = run[main_key]
        print(f"  seed {seed}: tau {m['tau']:.3f}, regret {m['regret']:.4f}, cost "
              f"{m['cost']:.1f} trainings (supernet {m['train_s']:.0f} s, "
              f"{m['eval_s'] * 1000:.0f} ms per architecture scored)", flush=True)
    taus = [r[main_key]["tau"] for r in runs]
    regrets = [r[main_key]["regret"] for r in runs]
    costs = [r[main_key]["cost"] for r in runs]
    budget = statistics.fmean(costs)
    random_regrets = [random_search(1000 + s, table, budget) for s in range(RANDOM_SEEDS)]
    p = mannwhitneyu(regrets, random_regrets, alternative="less").pvalue
    print(f"(a) Kendall tau, inherited vs stand-alone accuracy: mean {statistics.fmean(taus):.3f} "
          f"(min {min(taus):.3f}, max {max(taus):.3f}) over {len(runs)} seeds")
    print(f"(b) regret of the best retrained architecture: one-shot {statistics.fmean(regrets):.4f} "
          f"vs random search with the same compute ({budget:.1f} trainings) "
          f"{statistics.fmean(random_regrets):.4f}; one-sided Mann-Whitney U p = {p:.3g} "
          f"({'significant' if p < ALPHA else 'not significant'} at {ALPHA})")
    print(f"(c) cost of the one-shot run: {budget:.1f} stand-alone trainings "
          f"({SUPERNET_EPOCHS} supernet epochs, paths uniform over "
          f"{'decisions' if FAIR else 'architectures'}, {SEARCH_TRIALS} architectures scored, "
          f"{RETRAIN_TOP} retrained)")
    if args.ablations:
        ablated = runs[:3]
        for label, key in (("no BN recalibration", (SUPERNET_EPOCHS, 0)),
                           ("10 supernet epochs", (10, RECALIBRATION_BATCHES)),
                           ("20 supernet epochs", (20, RECALIBRATION_BATCHES)),
                           ("per-decision paths (SPOS's default)" if not FAIR
                            else "architecture-uniform paths", "other_sampling")):
            print(f"    ablation, {label}: tau {statistics.fmean(r[key]['tau'] for r in ablated):.3f}"
                  f", regret {statistics.fmean(r[key]['regret'] for r in ablated):.4f} "
                  f"(3 seeds; main setting tau "
                  f"{statistics.fmean(r[main_key]['tau'] for r in ablated):.3f})")
    elapsed = time.perf_counter() - started
    print(f"total {elapsed:.0f} s")
    return [
        ("oneshot kendall tau (mean over seeds)", statistics.fmean(taus), ">= 0.4"),
        ("oneshot mean regret", statistics.fmean(regrets), ""),
        ("random search mean regret, same compute", statistics.fmean(random_regrets), ""),
        ("oneshot vs random regret p (one-sided U)", p, ""),
        ("oneshot run cost / stand-alone training", budget, ""),
    ]


if __name__ == "__main__":
    main(sys.argv[1:])
