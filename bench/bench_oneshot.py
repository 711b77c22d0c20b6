"""One-shot search (SPOS) against ground truth: every architecture of `SignalNet` (252, on the
procedurally generated signals of `bench.data.signals`) trained stand-alone, 3 seeds averaged,
in `bench/data/signal_table.json`.

Run: python -m bench.bench_oneshot [--seeds N] [--ablations | --methods [--paper-arch-lr]
[--only METHOD ...]].
`main()` returns the rows.
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

`--methods` (the methods that learn a distribution: darts, first and second order
(`unrolled`), gumbel_darts, proxyless, enas; `--only` some of them)
instead compares, over `--seeds` seeds (default 5), each method's derived architecture (its
stand-alone accuracy from the table, as if retrained) with SPOS and with random search at
equal compute. Compute is CPU seconds of this process on one thread (`time.process_time`, less
sensitive than wall time to what else the machine runs), in units of one stand-alone
training: each method gets SPOS's mean total cost (supernet, scoring, 3 retrainings) minus the
one retraining of its derived architecture, as supernet epochs (their number from timed runs
of 1 and 3 epochs); the cost it actually spent is measured and printed, and random search is
given that cost. `gumbel_darts` runs as GDAS (`hard: true`: one sampled path) and as SNAS
(`gumbel soft`: `hard: false`, every candidate weighted, the default, as NNI's). The
architecture learning rate is 1e-2 for every method (`--paper-arch-lr`:
each method's default instead, the papers' 3e-4..1e-3); the first third of the epochs are
warm-up (weights only) except for DARTS. ProxylessNAS cannot search ValueChoice arguments, so
it runs on the sub-space of width 16 and conv kernel 3 (`SignalNet(widths=(16,),
kernels=(3,))`, 39 architectures) and its random search draws from that sub-space too. Then
DARTS with a parameter penalty of increasing weight: the accuracy and size of what it derives,
next to the table's best accuracy among architectures no larger.
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

# The methods that learn a distribution (`--methods`).
METHODS = {  # row: (strategy, its keys)
    "darts": ("darts", {}),
    "darts unrolled": ("darts", {"unrolled": True}),  # second order (DARTS paper, eq. 7-8)
    "gumbel_darts": ("gumbel_darts", {"hard": True}),  # GDAS
    "gumbel soft": ("gumbel_darts", {"hard": False}),  # SNAS, NNI's GumbelDARTS, the default
    "proxyless": ("proxyless", {}),
    "enas": ("enas", {}),
}
METHOD_SEEDS = 5
ARCH_LEARNING_RATE = 1e-2  # --paper-arch-lr: each method's default (3e-4 .. 1e-3)
WARMUP_SHARE = {"darts": 0.0, "gumbel_darts": 1 / 3, "proxyless": 1 / 3, "enas": 1 / 3}
SUB_SPACE = {"widths": (16,), "kernels": (3,)}  # the space without ValueChoice arguments
PENALTY_WEIGHTS = (0.01, 0.03, 0.1, 0.3)
PENALTY_SEEDS = 3
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


def random_search(seed: int, table: dict[str, Any], budget: float,
                  keys: list[str] | None = None) -> float:
    """Regret of random multi-trial search (no repeats) with `budget` stand-alone trainings:
    it keeps the architecture whose training (seed 0) scored best. `keys`: search only these
    architectures (the regret is still against the whole table's optimum)."""
    order = sorted(keys if keys is not None else table)
    random.Random(seed).shuffle(order)
    tried = order[: max(1, int(budget))]
    picked = max(tried, key=lambda k: table[k]["seeds"][0])
    return max(row["val_acc"] for row in table.values()) - table[picked]["val_acc"]


# --- the methods that learn a distribution --------------------------------------------------


def _table_key(arch: dict[str, Any], kwargs: dict[str, Any]) -> str:
    """The table's key of an architecture of `SignalNet(**kwargs)` (a sub-space's architecture
    gets the sub-space's fixed width and kernel)."""
    from bench.data.signal_space import SignalNet
    from nas_cli import search_space
    from nas_cli.strategy import arch_key

    full = dict(arch)
    if "widths" in kwargs:
        full["width"] = kwargs["widths"][0]
        full.update({f"kernel{b}": kwargs["kernels"][0] for b in range(3)
                     if arch.get(f"op{b}") == "conv"})
    return arch_key(search_space(SignalNet).validate(full))


def _params_of(key: str) -> int:
    from bench.data.signal_space import SignalNet
    from nas_cli import freeze

    return sum(p.numel() for p in freeze(SignalNet, json.loads(key)).parameters())


def _run_learned(method: str, seed: int, epochs: int, folder: str,
                 penalty: dict[str, Any] | None = None,
                 arch_lr: float | None = ARCH_LEARNING_RATE) -> tuple[dict[str, Any], float]:
    """Phase 1 of `method` (a row of METHODS) for `epochs` epochs: its progress.json and its
    CPU seconds. `arch_lr` None: the method's default architecture learning rate."""
    from bench.data.signal_space import SignalNet
    from nas_cli.oneshot import Supernet
    from nas_cli.oneshot._train import train_supernet
    from nas_cli.spec import STRATEGY_PARAMS

    rate = {"arch_learning_rate": arch_lr} if arch_lr is not None else {}
    strategy, keys = METHODS[method]
    params = STRATEGY_PARAMS[strategy](
        **rate, **keys, search_trials=1, penalty=penalty,
        warmup_epochs=int(epochs * WARMUP_SHARE[strategy]))
    kwargs = SUB_SPACE if strategy == "proxyless" else {}
    started = time.process_time()
    train_supernet(Supernet(SignalNet, kwargs, seed=seed), _config(), epochs=epochs,
                   folder=Path(folder), seed=seed, method=strategy, params=params,
                   recalibration_batches=RECALIBRATION_BATCHES, base_dir=REPO)
    spent = time.process_time() - started
    return json.loads((Path(folder) / "progress.json").read_text()), spent


def epochs_within(method: str, budget_s: float,
                  arch_lr: float | None = ARCH_LEARNING_RATE) -> int:
    """The supernet epochs of `method` that fit `budget_s` CPU seconds: runs of 1 and 3 epochs
    (seed 0, thrown away) give the fixed cost (cost tables, exactness check, Lightning) and
    the cost of one epoch (weight and architecture steps, the derived path's validation)."""
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as three:
        t1 = _run_learned(method, 0, 1, one, arch_lr=arch_lr)[1]
        t3 = _run_learned(method, 0, 3, three, arch_lr=arch_lr)[1]
    per_epoch = max((t3 - t1) / 2, t1 / 3)
    fixed = max(t1 - per_epoch, 0.0)
    return max(2, round((budget_s - fixed) / per_epoch))


def learned(method: str, seed: int, table: dict[str, Any], epochs: int, unit_s: float, *,
            penalty: dict[str, Any] | None = None,
            arch_lr: float | None = ARCH_LEARNING_RATE) -> dict[str, Any]:
    """One run of `method` (`epochs` supernet epochs), then its derived architecture: table
    accuracy, regret, parameters, the run's cost in stand-alone trainings (the supernet's CPU
    seconds measured here, plus one training: retraining the derived architecture)."""
    kwargs = SUB_SPACE if method == "proxyless" else {}
    with tempfile.TemporaryDirectory() as folder:
        progress, train_s = _run_learned(method, seed, epochs, folder, penalty, arch_lr)
    key = _table_key(progress["derived"], kwargs)
    optimum = max(row["val_acc"] for row in table.values())
    last = progress["arch_weights"][-1]["probs"]
    return {"epochs": epochs, "arch": key, "accuracy": table[key]["val_acc"],
            "regret": optimum - table[key]["val_acc"], "params": _params_of(key),
            "cost": train_s / unit_s + 1, "train_s": train_s,
            "collapse": (progress.get("param_free") or {}).get("count", 0),
            "unmoved": [label for label, probs in last.items()  # still uniform at the end
                        if max(probs) - min(probs) < 0.01]}


def _spread(values: list[float]) -> str:
    return (f"{statistics.fmean(values):.4f} +- "
            f"{statistics.stdev(values) if len(values) > 1 else 0.0:.4f}")


def compare_methods(seeds: int, space: Any, table: dict[str, Any], unit_s: float, *,
                    arch_lr: float | None = ARCH_LEARNING_RATE, penalties: bool = True,
                    only: list[str] | None = None) -> list[tuple[str, float, str]]:
    """Each learned method against SPOS and random search at equal compute, then DARTS's
    accuracy/size trade-off under a parameter penalty (see the module docstring)."""
    from scipy.stats import mannwhitneyu

    main_key = (SUPERNET_EPOCHS, RECALIBRATION_BATCHES)
    spos = []
    for seed in range(seeds):
        spos.append(one_shot(seed, space, table, unit_s, epochs=(SUPERNET_EPOCHS,))[main_key])
        print(f"  spos seed {seed}: regret {spos[-1]['regret']:.4f}, cost "
              f"{spos[-1]['cost']:.1f} trainings", flush=True)
    spos_cost = statistics.fmean(r["cost"] for r in spos)
    budget_s = (spos_cost - 1) * unit_s  # the learned methods retrain one architecture
    spos_regrets = [r["regret"] for r in spos]
    optimum = max(row["val_acc"] for row in table.values())
    sub_keys = [k for k in table if json.loads(k).get("width") == SUB_SPACE["widths"][0]
                and all(v == SUB_SPACE["kernels"][0] for label, v in json.loads(k).items()
                        if label.startswith("kernel"))]
    results: dict[str, list[dict[str, Any]]] = {}
    epochs_of: dict[str, int] = {}
    for method in only or METHODS:
        epochs = epochs_of[method] = epochs_within(method, budget_s, arch_lr)
        results[method] = []
        for seed in range(seeds):
            run = learned(method, seed, table, epochs, unit_s, arch_lr=arch_lr)
            results[method].append(run)
            print(f"  {method} seed {seed}: {epochs} epochs, val_acc {run['accuracy']:.4f}, "
                  f"params {run['params']}, cost {run['cost']:.1f} trainings, derived "
                  f"{run['arch']}; labels still uniform: {', '.join(run['unmoved']) or '-'}",
                  flush=True)
    print(f"\nper method, {seeds} seeds (mean +- std); equal compute = SPOS's mean total cost, "
          f"{spos_cost:.1f} stand-alone trainings of {unit_s:.2f} CPU s; random search gets each "
          f"row's own mean cost ({RANDOM_SEEDS} seeds); U tests on the regrets")
    print("method        epochs  cost  stand-alone val_acc  regret            random regret"
          "  p(<random)  p(!=spos)  params  param-free ops")
    rows: list[tuple[str, float, str]] = []
    spos_random = [random_search(1000 + s, table, spos_cost) for s in range(RANDOM_SEEDS)]
    spos_acc = [optimum - r for r in spos_regrets]
    print(f"{'spos':13s} {SUPERNET_EPOCHS:6d} {spos_cost:5.1f}  {_spread(spos_acc)}   "
          f"{_spread(spos_regrets)}  {statistics.fmean(spos_random):.4f}         "
          f"{mannwhitneyu(spos_regrets, spos_random, alternative='less').pvalue:.3f}       "
          "-          -       -")
    for method, runs in results.items():
        regrets = [r["regret"] for r in runs]
        cost = statistics.fmean(r["cost"] for r in runs)
        keys = sub_keys if method == "proxyless" else None
        random_regrets = [random_search(1000 + s, table, cost, keys) for s in range(RANDOM_SEEDS)]
        p_random = mannwhitneyu(regrets, random_regrets, alternative="less").pvalue
        p_spos = mannwhitneyu(regrets, spos_regrets, alternative="two-sided").pvalue
        print(f"{method:13s} {runs[0]['epochs']:6d} {cost:5.1f}  "
              f"{_spread([r['accuracy'] for r in runs])}   {_spread(regrets)}  "
              f"{statistics.fmean(random_regrets):.4f}         {p_random:.3f}       "
              f"{p_spos:.3f}  {statistics.fmean(r['params'] for r in runs):6.0f}  "
              f"{statistics.fmean(r['collapse'] for r in runs):.1f}", flush=True)
        rows += [(f"{method} derived val_acc (mean over seeds)",
                  statistics.fmean(r["accuracy"] for r in runs), ""),
                 (f"{method} regret vs random at equal compute, p (one-sided U)", p_random, "")]
    sub_optimum = max(table[k]["val_acc"] for k in sub_keys)
    print(f"(proxyless searches the {len(sub_keys)} architectures of width 16 and kernel 3, whose "
          f"best is {sub_optimum:.3f}, {optimum - sub_optimum:.3f} below the table's optimum; its "
          "random search draws from them too)")
    if not penalties or "darts" not in results:
        return rows
    sizes = {k: _params_of(k) for k in table}

    def best_within(size: int) -> float:
        return max(table[k]["val_acc"] for k in table if sizes[k] <= size)

    def trade_off(runs: list[dict[str, Any]]) -> str:
        return (f"val_acc {_spread([r['accuracy'] for r in runs])}, params "
                f"{statistics.fmean(r['params'] for r in runs):6.0f} "
                f"({', '.join(str(r['params']) for r in runs)}); the table's best within each "
                f"run's size {statistics.fmean(best_within(r['params']) for r in runs):.4f}")

    print(f"\nDARTS with a params penalty ({PENALTY_SEEDS} seeds each, {epochs_of['darts']} "
          "epochs as above, weight * expected params / the uniform distribution's):")
    print(f"    no penalty:   {trade_off(results['darts'][:PENALTY_SEEDS])}")
    for weight in PENALTY_WEIGHTS:
        runs = [learned("darts", seed, table, epochs_of["darts"], unit_s,
                        penalty={"metric": "params", "weight": weight})
                for seed in range(PENALTY_SEEDS)]
        print(f"    weight {weight:<5}: {trade_off(runs)}", flush=True)
        rows.append((f"darts penalty {weight}: derived val_acc (at "
                     f"{statistics.fmean(r['params'] for r in runs):.0f} params)",
                     statistics.fmean(r["accuracy"] for r in runs), ""))
    return rows


def main(argv: list[str] | None = None) -> list[tuple[str, float, str]]:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_oneshot", description=__doc__)
    parser.add_argument("--build-table", action="store_true",
                        help="train every architecture and write bench/data/signal_table.json")
    parser.add_argument("--seeds", type=int, default=None,
                        help=f"seeds ({SEEDS}; with --methods {METHOD_SEEDS})")
    parser.add_argument("--methods", action="store_true",
                        help="compare darts, gumbel_darts, proxyless and enas with SPOS and "
                             "random search (5 seeds unless --seeds), and DARTS's penalty")
    parser.add_argument("--paper-arch-lr", action="store_true",
                        help="with --methods: each method's default arch_learning_rate (the "
                             f"paper's) instead of {ARCH_LEARNING_RATE}, no penalty runs")
    parser.add_argument("--only", nargs="+", choices=list(METHODS), metavar="METHOD",
                        help=f"with --methods: only these rows ({', '.join(METHODS)}), no "
                             "penalty runs")
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
    if args.methods:
        arch_lr = None if args.paper_arch_lr else ARCH_LEARNING_RATE
        print(f"architecture learning rate: {arch_lr or 'each method default (the paper)'}")
        rows = compare_methods(args.seeds or METHOD_SEEDS, space, table, unit_s,
                               arch_lr=arch_lr, penalties=not (args.paper_arch_lr or args.only),
                               only=args.only)
        print(f"total {time.perf_counter() - started:.0f} s")
        return rows
    args.seeds = args.seeds or SEEDS
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
