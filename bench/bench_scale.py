"""Scale of the loop on the local pool: 20,000 trivial trials, 2 at a time, through the library
(`nas run` without the terminal display). Each figure compares the last thousand trials with
the first thousand of the same run (the run is its own baseline):

(a) wall time per trial, last thousand over first thousand. Target <= 1.2 (flat: no per-trial
    cost that grows with the number of trials, in the engine or the local pool).
(b) the driver's resident memory: growth per trial over the whole run (bytes per trial: what
    each kept record costs), and its resident memory at the end over after the first thousand.
(c) results.json rewrites: how many in the whole run (debounced: a bounded share of the run's
    time, however many trials there are), and the share of the run's wall time they took.
(d) the local pool's own per-trial tables (workers' pids, peaks, outcomes, futures, ...):
    entries left after the run. Target 0: nothing in the pool grows with the trial count.

The trial is as cheap as a trial can be (a constant score, no forward pass), so the figures
are the framework's own cost. Run: python -m bench.bench_scale [TRIALS]. `main()` returns
[(name, value, target)] rows. Single-threaded and nice'd like every benchmark here.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_engine import _spec

TRIALS = 20_000
WINDOW = 1_000

def _rss() -> int:
    """This process's resident memory now, in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def run_scale(folder: Path, trials: int = TRIALS) -> dict[str, Any]:
    from nas_cli.experiment import Listener, _run, create_experiment, execute
    from nas_cli.spec import load_spec

    spec_path = _spec(folder, "scale", function="constant", trials=trials, concurrency=2,
                      cpus_per_trial=1, max_failed_trials=0)

    class Meter(Listener):
        """Time and driver memory at every finished trial (a list append: negligible)."""

        def __init__(self) -> None:
            self.times: list[float] = []
            self.rss: dict[int, int] = {}

        def trial_finished(self, run: Any, record: Any) -> None:
            self.times.append(time.perf_counter())
            if len(self.times) % WINDOW == 0:
                self.rss[len(self.times)] = _rss()

    writes: list[float] = []
    write = _run._write_results_now

    def counted(run: Any) -> None:
        started = time.perf_counter()
        write(run)
        writes.append(time.perf_counter() - started)

    _run._write_results_now = counted
    meter = Meter()
    pools: list[Any] = []

    def backend(spec: Any) -> Any:
        pools.append(_run.default_backend(spec))
        return pools[-1]

    try:
        run = create_experiment(load_spec(spec_path), folder / "experiments", meter)
        run.backend_factory = backend
        started = time.perf_counter()
        execute(run)
        wall = time.perf_counter() - started
    finally:
        _run._write_results_now = write
    times = meter.times
    first = (times[WINDOW] - times[0]) / WINDOW
    last = (times[-1] - times[-WINDOW - 1]) / WINDOW
    return {
        "trials": len(times), "wall_s": wall, "first_ms": 1e3 * first, "last_ms": 1e3 * last,
        "ratio": last / first,
        "rss_first": meter.rss[WINDOW], "rss_last": meter.rss[max(meter.rss)],
        "bytes_per_trial": (meter.rss[max(meter.rss)] - meter.rss[WINDOW]) /
        max(1, max(meter.rss) - WINDOW),
        "writes": len(writes), "write_share": sum(writes) / wall,
        "results_mb": (run.path / "results.json").stat().st_size / 1e6,
        "pool_left": _left_in(pools[0]),
    }


def _left_in(pool: Any) -> int:
    """Entries left in the local pool's per-trial tables (each trial's are removed as it ends)."""
    tables = ("_waiting", "_futures", "_cancelled", "_pids", "_peaks", "_oom_kills", "_outcomes",
              "_prune", "_live", "_timeouts")
    left = {name: len(getattr(pool, name)) for name in tables}
    left["events"] = pool._events.qsize()
    if any(left.values()):
        print("left in the local pool:", {k: v for k, v in left.items() if v})
    return sum(left.values())


def main(trials: int = TRIALS) -> list[tuple[str, float, object]]:
    os.nice(10)
    with tempfile.TemporaryDirectory(prefix="nas-bench-scale-") as tmp:
        figures = run_scale(Path(tmp), trials)
    print(f"{figures['trials']} trials in {figures['wall_s']:.0f} s: "
          f"{figures['first_ms']:.2f} ms/trial over the first {WINDOW}, "
          f"{figures['last_ms']:.2f} ms/trial over the last {WINDOW}; driver memory "
          f"{figures['rss_first'] / 2**20:.0f} MiB after {WINDOW}, "
          f"{figures['rss_last'] / 2**20:.0f} MiB at the end "
          f"({figures['bytes_per_trial']:.0f} bytes per trial); results.json "
          f"({figures['results_mb']:.1f} MB) written {figures['writes']} times, "
          f"{100 * figures['write_share']:.1f}% of the run; {figures['pool_left']} entries left "
          "in the local pool's per-trial tables")
    return [
        ("scale: ms/trial, last 1000 / first 1000", figures["ratio"], "<= 1.2"),
        ("scale: driver memory, end / after 1000", figures["rss_last"] / figures["rss_first"], ""),
        ("scale: driver memory per trial (bytes)", figures["bytes_per_trial"], "<= 4000"),
        ("scale: results.json writes", figures["writes"], ""),
        ("scale: results.json share of the run", figures["write_share"], "<= 0.1"),
        ("scale: local pool entries left", figures["pool_left"], "== 0"),
    ]


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(main(int(sys.argv[1]) if len(sys.argv) > 1 else TRIALS))
