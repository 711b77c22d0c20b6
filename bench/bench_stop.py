"""How fast a run lets go: the timings the test suite no longer asserts (tests check events and
states; a busy CI machine makes wall-time bounds flaky), each against a baseline of this run.

(a) Ctrl-C: `nas run` of 2 trials that sleep 60 s, 2 at a time; SIGINT to its process group
    once both trials run; seconds until the driver has exited (the workers and the trials'
    children gone with it). Target <= 5 s. Baseline: `python -c pass` in this run.
(b) `nas stop EXP` from another process, the same run: seconds from the command to the
    driver's exit. Target <= 5 s.

Run: python -m bench.bench_stop. `main()` returns [(name, value, target)] rows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.bench_engine import _nas_command, _spec

REPEATS = 3

def _wait(condition: Callable[[], bool], limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the run did not reach the expected state")
        time.sleep(0.05)


def _running(root: Path, count: int) -> bool:
    """Whether `count` trials have started their evaluator (their logs say so)."""
    logs = list(root.glob("*/trials/*/trial.log"))
    try:
        return sum("trial starts" in log.read_text() for log in logs) >= count
    except OSError:
        return False


def _stop_once(folder: Path, how: str) -> float:
    """Seconds from the stop (SIGINT or `nas stop`) to the driver's exit."""
    root = folder / f"exps-{how}-{time.monotonic_ns()}"
    spec = _spec(folder, f"stop-{how}", function="sleeping", trials=2, concurrency=2)
    env = {**os.environ, "NAS_EXPERIMENTS_DIR": str(root)}
    driver = subprocess.Popen([*_nas_command(), "run", str(spec), "--quiet"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        _wait(lambda: _running(root, 2))
        t0 = time.perf_counter()
        if how == "sigint":
            os.killpg(driver.pid, signal.SIGINT)
        else:
            (name,) = [p.name for p in root.iterdir()]
            subprocess.run([*_nas_command(), "stop", name], env=env, check=True,
                           stdout=subprocess.DEVNULL)
        driver.wait(timeout=120)
        return time.perf_counter() - t0
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)


def _python_start() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def main() -> list[tuple[str, float, str]]:
    with tempfile.TemporaryDirectory(prefix="bench-stop-") as tmp:
        folder = Path(tmp)
        base = min(_python_start() for _ in range(5))
        sigint = max(_stop_once(folder, "sigint") for _ in range(REPEATS))
        stop = max(_stop_once(folder, "stop") for _ in range(REPEATS))
    load = os.getloadavg()[0]
    print(f"(a) Ctrl-C to exit: {sigint:.2f} s (worst of {REPEATS}) = {sigint / base:.0f}x "
          f"python -c pass ({base:.3f} s)")
    print(f"(b) nas stop to exit: {stop:.2f} s (worst of {REPEATS})"
          f"   [cores {os.cpu_count()}, load {load:.1f}]")
    return [
        ("Ctrl-C to exit (s)", round(sigint, 2), "<= 5 s"),
        ("Ctrl-C to exit / python start", round(sigint / base, 1), ""),
        ("nas stop to exit (s)", round(stop, 2), "<= 5 s"),
    ]


if __name__ == "__main__":
    main()
