"""Per-trial overhead of the Ray backend against the local pool, both measured in this run.

Run: python -m bench.bench_ray. `main()` returns [(name, ratio, target)] rows.

A trivial function evaluator (one forward pass of a tiny model) makes each trial's time almost
all overhead: submitting it, running it in a warm worker, and getting its result and its one
intermediate report back. Both backends keep two trials in flight, as the run loop does with
`trial_concurrency: 2`, on warm workers (starting the pool or Ray is reported, not compared).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import cloudpickle
import torch

import nas_cli.nn as nn
from nas_cli import model_wrapper, report_intermediate_result
from nas_cli.evaluator._function import FunctionEvaluator
from nas_cli.execution import Backend, Finished, LocalBackend, RayBackend, TrialPayload

TRIALS = 48
CONCURRENCY = 2
ROUNDS = 7          # back to back, alternating order: each pair shares the machine's noise
TARGET = 2.0        # Ray's per-trial overhead may be this many times the local pool's


@model_wrapper
class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, nn.ValueChoice([4, 8, 16], label="hidden"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def forward_once(model: torch.nn.Module) -> float:
    with torch.no_grad():
        value = float(model(torch.ones(2, 4)).sum())
    report_intermediate_result(value)
    return value


def _payload() -> bytes:
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import bench
    return cloudpickle.dumps(TrialPayload(Tiny, {}, [], FunctionEvaluator(forward_once), "default"))


def _run_trials(backend: Backend, folder: Path, first: int) -> float:
    """Seconds for TRIALS trials, CONCURRENCY at a time (the next starts as one ends)."""
    numbers = iter(range(first, first + TRIALS))
    started = time.perf_counter()

    def submit_next() -> None:
        number = next(numbers, None)
        if number is not None:
            trial_dir = folder / str(number)
            trial_dir.mkdir(parents=True)
            backend.submit(number, {"hidden": (4, 8, 16)[number % 3]}, trial_dir, None)

    for _ in range(CONCURRENCY):
        submit_next()
    done = 0
    while done < TRIALS:
        for event in backend.events(timeout=1.0):
            if isinstance(event, Finished):
                assert event.reason is None, event.reason
                done += 1
                submit_next()
    return time.perf_counter() - started


def main() -> list[tuple[str, float, float]]:
    payload = _payload()
    backends = {"local": LocalBackend(CONCURRENCY), "ray": RayBackend(CONCURRENCY)}
    per_trial: dict[str, list[float]] = {name: [] for name in backends}
    start_s: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="nas-bench-ray-") as tmp:
        try:
            for name, backend in backends.items():
                t0 = time.perf_counter()
                backend.start(payload)
                _run_trials(backend, Path(tmp) / f"{name}-warmup", 0)  # workers up and warm
                start_s[name] = time.perf_counter() - t0
            number = TRIALS
            for round_ in range(ROUNDS):
                for name in list(backends) if round_ % 2 == 0 else list(reversed(backends)):
                    seconds = _run_trials(backends[name], Path(tmp) / f"{name}-{number}", number)
                    per_trial[name].append(seconds / TRIALS)
                    number += TRIALS
        finally:
            for backend in backends.values():
                backend.shutdown()
    ratio = statistics.median(r / lo for r, lo in zip(per_trial["ray"], per_trial["local"]))
    print(f"{TRIALS} trivial trials x {ROUNDS} paired rounds, {CONCURRENCY} at a time, "
          "warm workers")
    print(f"{'':<6} {'ms/trial':>9} {'best':>6} {'start + warm-up s':>18}")
    for name in backends:
        print(f"{name:<6} {1e3 * statistics.median(per_trial[name]):>9.2f} "
              f"{1e3 * min(per_trial[name]):>6.2f} {start_s[name]:>18.1f}")
    print(f"ray/local per-trial overhead: {ratio:.2f}x (median of paired rounds; "
          f"target <= {TARGET}x)")
    return [("ray/local per-trial overhead", ratio, TARGET)]


if __name__ == "__main__":
    main()
