"""The engine's own cost, each figure against a baseline measured in this run:

(a) framework overhead per trial: 200 trials of a trivial function evaluator (one forward pass
    of a tiny model) at concurrency 2; steady state (from the 20th to the 200th trial finishing)
    wall time per trial, minus the evaluator's own time per trial (its duration / concurrency).
    Target <= 5 ms.
(b) concurrency 2 vs 1 on CPU-bound trials (about 0.5 s of single-threaded matrix work each):
    steady-state throughput ratio. Target >= 1.8x (with 2 free cores). The same trials on a
    bare process pool, in this run, show what the machine's free cores allow; the engine's
    scaling over the bare pool's is the figure that load on the machine does not change
    (target >= 0.9).

Start-up (a whole `nas run` against a fresh process per trial, `nas status`, `nas --help`) is
measured by bench_startup.

Run: python -m bench.bench_engine [--profile]. `main()` returns [(name, value, target)] rows;
--profile runs (a) alone under cProfile and prints where the driver's time goes.
"""

from __future__ import annotations

import os
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

OVERHEAD_TRIALS, OVERHEAD_FROM = 200, 20
SCALING_TRIALS, SCALING_FROM = 12, 2

SPACE = '''
"""Benchmark space: 6 architectures of a tiny MLP; function evaluators of several costs."""
import time

import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper, report_intermediate_result


@model_wrapper
class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        hidden = nn.ValueChoice([4, 8, 16], label="hidden")
        self.fc1 = nn.Linear(4, hidden)
        self.act = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="act")
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def forward_once(model):
    """Trivial: one forward pass, one intermediate report."""
    with torch.no_grad():
        value = float(model(torch.ones(2, 4)).sum())
    report_intermediate_result(value)
    return value


def constant(model, arch):
    """Nothing at all (bench_scale: the engine's own cost)."""
    return float(arch["hidden"])


def sleeping(model, seconds=60.0):
    """A trial that runs until it is stopped (bench_stop); its log says when it starts."""
    print("trial starts", flush=True)
    time.sleep(seconds)
    return 1.0


def matrix_work(model, iterations=100):
    """CPU-bound: a fixed number of single-threaded matrix products."""
    torch.set_num_threads(1)
    a = torch.randn(256, 256)
    for _ in range(iterations):
        a = torch.tanh(a @ a)
    return float(a.mean())
'''


def _write_space(folder: Path) -> Path:
    path = folder / "benchspace.py"
    path.write_text(SPACE)
    return path


def _spec(folder: Path, name: str, *, function: str, trials: int, concurrency: int,
          cpus_per_trial: int | None = None, kwargs: dict[str, Any] | None = None,
          **extra: Any) -> Path:
    """A spec of the benchmark space with `function` as its evaluator; `extra`: more keys."""
    import yaml

    space = _write_space(folder)
    data: dict[str, Any] = {
        "experiment_name": name,
        "model_space": {"module": str(space), "class": "Tiny"},
        "strategy": {"name": "random", "seed": 0, "dedup": False},
        "evaluator": {"type": "function", "function": f"{space}:{function}",
                      "kwargs": kwargs or {}},
        "trial_concurrency": concurrency,
        "max_trial_number": trials,
    }
    if cpus_per_trial:
        data["training_service"] = {"cpus_per_trial": cpus_per_trial}
    data.update(extra)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _timed_run(spec_path: Path, root: Path, profile: Path | None = None):
    """Run an experiment through the library; returns (run, finish times, started)."""
    from nas_cli.experiment import Listener, create_experiment, execute
    from nas_cli.spec import load_spec

    class Clock(Listener):
        def __init__(self) -> None:
            self.times: list[float] = []  # not `finished`: that is a Listener method

        def trial_finished(self, run, record) -> None:
            self.times.append(time.perf_counter())

    clock = Clock()
    run = create_experiment(load_spec(spec_path), root, clock)
    started = time.perf_counter()
    if profile is not None:
        import cProfile

        cProfile.runctx("execute(run)", globals(), {"execute": execute, "run": run},
                        filename=str(profile))
    else:
        execute(run)
    return run, clock.times, started


def overhead_per_trial(folder: Path, profile: Path | None = None) -> dict[str, float]:
    """(a): steady-state ms per trial, with and without the evaluator's own time."""
    spec = _spec(folder, "overhead", function="forward_once", trials=OVERHEAD_TRIALS,
                 concurrency=2)
    run, finished, started = _timed_run(spec, folder / "experiments", profile)
    steady = finished[OVERHEAD_FROM - 1:]
    wall_ms = 1e3 * (steady[-1] - steady[0]) / (len(steady) - 1)
    durations = [r.duration_s for r in run.records.values() if r.duration_s is not None]
    evaluator_ms = 1e3 * statistics.fmean(durations) / run.spec.trial_concurrency
    return {"wall_ms": wall_ms, "evaluator_ms": evaluator_ms, "overhead_ms": wall_ms - evaluator_ms,
            "first_s": finished[0] - started, "path": run.path}


def _nas_command() -> list[str]:
    """The installed `nas` script itself (not a version manager's shim in front of it)."""
    script = Path(sysconfig.get_path("scripts")) / "nas"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from nas_cli.cli import main; sys.exit(main())"]


def _calibrate(seconds: float = 0.5) -> int:
    """How many `matrix_work` iterations take `seconds` on one thread here (best of 3)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a = torch.randn(256, 256)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(20):
                a = torch.tanh(a @ a)
            best = min(best, (time.perf_counter() - t0) / 20)
    finally:
        torch.set_num_threads(threads)
    return max(1, round(seconds / best))


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _raw_matrix_work(iterations: int) -> float:
    """The same work as the space's `matrix_work`, in a plain process pool (the baseline)."""
    import torch

    a = torch.randn(256, 256)
    for _ in range(iterations):
        a = torch.tanh(a @ a)
    return time.perf_counter()


def _raw_rate(concurrency: int, iterations: int) -> float:
    """Trials per second of a bare process pool (no framework) doing the same trials."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(concurrency, mp_context=context, initializer=_one_thread) as pool:
        list(pool.map(_raw_matrix_work, [1] * concurrency))  # warm: torch imported everywhere
        finished = sorted(pool.map(_raw_matrix_work, [iterations] * SCALING_TRIALS))
    steady = finished[SCALING_FROM - 1:]
    return (len(steady) - 1) / (steady[-1] - steady[0])


def scaling(folder: Path) -> dict[str, float]:
    """(b): steady-state trials per second at concurrency 2 over concurrency 1, for `nas` and
    for a bare process pool doing the same work (what this machine's free cores allow now)."""
    rates, raw = {}, {}
    iterations = _calibrate()
    for concurrency in (1, 2):
        raw[concurrency] = _raw_rate(concurrency, iterations)
        spec = _spec(folder, f"scaling{concurrency}", function="matrix_work",
                     trials=SCALING_TRIALS, concurrency=concurrency, cpus_per_trial=1,
                     kwargs={"iterations": iterations})
        _, finished, _ = _timed_run(spec, folder / "experiments")
        steady = finished[SCALING_FROM - 1:]
        rates[concurrency] = (len(steady) - 1) / (steady[-1] - steady[0])
    return {"rate1": rates[1], "rate2": rates[2], "ratio": rates[2] / rates[1],
            "raw1": raw[1], "raw2": raw[2], "raw_ratio": raw[2] / raw[1],
            "iterations": iterations}


def main() -> list[tuple[str, float, str]]:
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        folder = Path(tmp)
        a = overhead_per_trial(folder)
        print(f"(a) {OVERHEAD_TRIALS} trivial trials, concurrency 2: first trial finished after "
              f"{a['first_s']:.1f} s (workers starting); steady state (trials {OVERHEAD_FROM}-"
              f"{OVERHEAD_TRIALS}) {a['wall_ms']:.1f} ms/trial, of which the evaluator "
              f"{a['evaluator_ms']:.2f} ms -> framework overhead {a['overhead_ms']:.1f} ms/trial")
        c = scaling(folder)
        print(f"(b) CPU-bound trials ({c['iterations']} products, ~0.5 s on 1 thread): nas "
              f"{c['rate1']:.2f} trials/s at concurrency 1, {c['rate2']:.2f} at 2 -> "
              f"{c['ratio']:.2f}x; a bare process pool {c['raw1']:.2f} and {c['raw2']:.2f} -> "
              f"{c['raw_ratio']:.2f}x (cores: {os.cpu_count()}, load "
              f"{os.getloadavg()[0]:.1f})")
    return [
        ("engine overhead per trial (ms)", a["overhead_ms"], "<= 5"),
        ("engine concurrency 2 vs 1 throughput (x)", c["ratio"], ">= 1.8"),
        ("bare pool concurrency 2 vs 1 throughput (x)", c["raw_ratio"], ""),
        ("engine / bare pool scaling (x)", c["ratio"] / c["raw_ratio"], ">= 0.9"),
    ]


def profile_overhead(top: int = 25) -> None:
    """(a) under cProfile (the driver only): where the per-trial time goes."""
    import pstats

    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        folder = Path(tmp)
        a = overhead_per_trial(folder, profile=folder / "profile")
        print(f"(a) under the profiler: {a['wall_ms']:.1f} ms/trial, overhead "
              f"{a['overhead_ms']:.1f} ms/trial")
        stats = pstats.Stats(str(folder / "profile"))
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(r"nas_cli|pebble|sqlalchemy|optuna", top)


if __name__ == "__main__":
    if "--profile" in sys.argv[1:]:
        profile_overhead()
    else:
        from bench.__main__ import print_table

        sys.exit(0 if print_table(main()) else 1)
