"""An experiment's first second: start-up costs, each against a baseline measured in this run.

(a) a 20-trial `nas run` of trivial trials (a fresh process, as a user types it, the space
    known from an earlier run; median of 3) against running each trial in a fresh `python -c`
    process that imports torch and the space and evaluates the architecture (as NNI does), 2 at
    a time too. Target >= 10x. Shown too: the same run with its workers spawned, each importing
    torch (`NAS_WORKER_START=spawn`, not forked from the fork server), and when the space is
    not known (`NAS_SPACE_CACHE=0`: the driver imports the user's code and torch, as every run
    did before), and the time from the command to the first trial's result (its metrics.json).
(b) a whole one-trial experiment (`nas run`, concurrency 1) against a bare
    `python -c "import torch, nas_cli"`: median of 5 each. Target <= 1.5x.
(c) `nas space SPEC` (a known space), `nas status` and `nas --help` against `python -c pass`:
    median wall and CPU of 7 fresh processes each. Target < 0.5 s for status and help.
(d) creating a study.db (a copy of the cached template, what every experiment does) against
    Optuna creating the schema and the study (what it did before): median of 20 each, target
    < 100 ms; opening a 200-trial study and reading its trials against Optuna's
    `load_study(...).trials`: median of 9 each.

Every run uses a cache folder of its own (XDG_CACHE_HOME), filled by the first experiment.
Run: python -m bench.bench_startup. `main()` returns [(name, value, target)] rows.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.bench_engine import _nas_command, _spec, _timed_run

E2E_TRIALS = 20
E2E_REPEATS = 3
ONE_TRIAL_REPEATS = 5
STARTUP_REPEATS = 7
STORE_REPEATS, READ_REPEATS, READ_TRIALS = 20, 9, 200


def _median_times(command: list[str], env: dict[str, str],
                  repeats: int = STARTUP_REPEATS) -> tuple[float, float]:
    """Median wall and CPU (user + system, children included) seconds of a fresh process."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def _nas_run(spec: Path, root: Path, env: dict[str, str]) -> tuple[float, float]:
    """`nas run SPEC -q` in a fresh process: (wall seconds, seconds to the first result)."""
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    subprocess.run([*_nas_command(), "run", str(spec), "--quiet", "--exp-dir", str(root)],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.time() - t0
    results = [p.stat().st_mtime for p in root.glob("*/trials/*/metrics.json")]
    return wall, min(results) - t0


def _fresh_processes(folder: Path) -> float:
    """Every trial in a fresh `python -c` importing torch and the space, 2 at a time."""
    space = folder / "benchspace.py"
    archs = [{"hidden": h, "act": a} for h in (4, 8, 16) for a in (0, 1)]
    code = textwrap.dedent(f"""
        import importlib.util, json, sys
        import torch
        from nas_cli import freeze
        spec = importlib.util.spec_from_file_location("benchspace", {str(space)!r})
        module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
        model = freeze(module.Tiny, json.loads(sys.argv[1]))
        print(json.dumps({{"default": module.forward_once(model)}}))
    """)

    def one(arch: dict[str, int]) -> None:
        subprocess.run([sys.executable, "-c", code, json.dumps(arch)], check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})

    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, [archs[i % len(archs)] for i in range(E2E_TRIALS)]))
    return time.perf_counter() - t0


def end_to_end(folder: Path) -> dict[str, float]:
    """(a): the 20-trial run, known space and not, workers forked and spawned, against a fresh
    process per trial; each `nas run` figure is the median of E2E_REPEATS runs, alternated."""
    spec = _spec(folder, "e2e", function="forward_once", trials=E2E_TRIALS, concurrency=2)
    env = dict(os.environ)
    _nas_run(spec, folder / "warm-up", env)  # fills the cache: study template, the space
    kinds = {"nas": env, "spawn": {**env, "NAS_WORKER_START": "spawn"},
             "cold": {**env, "NAS_SPACE_CACHE": "0"}}
    runs: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
    for index in range(E2E_REPEATS):
        for kind, kind_env in kinds.items():
            runs[kind].append(_nas_run(spec, folder / f"{kind}-{index}", kind_env))
    out = {"fresh_s": _fresh_processes(folder)}
    for kind, times in runs.items():
        out[f"{kind}_s"] = statistics.median(wall for wall, _ in times)
        out[f"{kind}_first_s"] = statistics.median(first for _, first in times)
    return out


def one_trial(folder: Path) -> dict[str, float]:
    """(b): a whole one-trial experiment against `python -c "import torch, nas_cli"`."""
    spec = _spec(folder, "one", function="forward_once", trials=1, concurrency=1)
    env = {**os.environ, "NAS_EXPERIMENTS_DIR": str(folder / "one-experiments")}
    nas = [*_nas_command(), "run", str(spec), "--quiet"]
    subprocess.run(nas, check=True, env=env, stdout=subprocess.DEVNULL)  # the space known
    out = {}
    out["nas_s"], out["nas_cpu_s"] = _median_times(nas, env, ONE_TRIAL_REPEATS)
    out["bare_s"], out["bare_cpu_s"] = _median_times(
        [sys.executable, "-c", "import torch, nas_cli"], env, ONE_TRIAL_REPEATS)
    return out


def commands(folder: Path, experiments: Path) -> dict[str, float]:
    """(c): `nas space SPEC`, `nas status`, `nas --help` and `python -c pass`."""
    spec = _spec(folder, "space", function="forward_once", trials=1, concurrency=1)
    env = {**os.environ, "NAS_EXPERIMENTS_DIR": str(experiments)}
    nas = _nas_command()
    subprocess.run([*nas, "space", str(spec)], check=True, env=env, stdout=subprocess.DEVNULL)
    out = {}
    for name, command in (("python", [sys.executable, "-c", "pass"]),
                          ("space", [*nas, "space", str(spec)]), ("help", [*nas, "--help"]),
                          ("status", [*nas, "status"])):
        out[f"{name}_s"], out[f"{name}_cpu_s"] = _median_times(command, env)
    return out


def _median_ms(action, repeats: int) -> float:
    times = []
    for index in range(repeats):
        t0 = time.perf_counter()
        action(index)
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def store(folder: Path) -> dict[str, float]:
    """(d): creating and reading a study.db, ours against Optuna's own, in this process."""
    import optuna

    from nas_cli.store import TrialStore

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    stores = folder / "stores"
    stores.mkdir()
    TrialStore(stores / "warm.db", study_name="warm", create=True).close()  # the template

    def ours(index: int) -> None:
        TrialStore(stores / f"ours{index}.db", study_name="s", direction="maximize",
                   create=True).close()

    def theirs(index: int) -> None:
        storage = optuna.storages.RDBStorage(f"sqlite:///{stores / f'optuna{index}.db'}")
        optuna.create_study(storage=storage, study_name="s", direction="maximize")
        storage.engine.dispose()

    spec = _spec(folder, "read", function="forward_once", trials=READ_TRIALS, concurrency=2)
    run, _, _ = _timed_run(spec, folder / "read-experiments")
    db = run.path / "study.db"

    def read_ours(index: int) -> None:
        opened = TrialStore(db, study_name=run.id)
        assert len(opened.records()) == READ_TRIALS
        opened.close()

    def read_theirs(index: int) -> None:
        storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
        assert len(optuna.load_study(storage=storage, study_name=run.id).trials) == READ_TRIALS
        storage.engine.dispose()

    return {"create_ms": _median_ms(ours, STORE_REPEATS),
            "optuna_create_ms": _median_ms(theirs, STORE_REPEATS),
            "read_ms": _median_ms(read_ours, READ_REPEATS),
            "optuna_read_ms": _median_ms(read_theirs, READ_REPEATS)}


def main() -> list[tuple[str, float, str]]:
    saved = os.environ.get("XDG_CACHE_HOME")
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        folder = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(folder / "cache")  # its own, filled by run one
        try:
            a = end_to_end(folder)
            b = one_trial(folder)
            c = commands(folder, folder / "known")
            d = store(folder)
        finally:
            if saved is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = saved
    load = os.getloadavg()[0]
    print(f"(a) {E2E_TRIALS} trivial trials, 2 at a time, median of {E2E_REPEATS}: nas run "
          f"{a['nas_s']:.2f} s (first result after {a['nas_first_s']:.2f} s); workers spawned "
          f"{a['spawn_s']:.2f} s (first {a['spawn_first_s']:.2f} s); space not known "
          f"{a['cold_s']:.2f} s (first {a['cold_first_s']:.2f} s); a fresh python per trial "
          f"{a['fresh_s']:.1f} s -> {a['fresh_s'] / a['nas_s']:.1f}x "
          f"({a['fresh_s'] / a['spawn_s']:.1f}x, {a['fresh_s'] / a['cold_s']:.1f}x)")
    print(f"(b) one-trial experiment {b['nas_s']:.2f} s wall ({b['nas_cpu_s']:.2f} s CPU), "
          f"python -c 'import torch, nas_cli' {b['bare_s']:.2f} s ({b['bare_cpu_s']:.2f}) -> "
          f"{b['nas_s'] / b['bare_s']:.2f}x")
    print(f"(c) median of {STARTUP_REPEATS}, wall (CPU): python -c pass {c['python_s']:.3f} s "
          f"({c['python_cpu_s']:.3f}), nas space {c['space_s']:.3f} s ({c['space_cpu_s']:.3f}), "
          f"nas status {c['status_s']:.3f} s ({c['status_cpu_s']:.3f}), nas --help "
          f"{c['help_s']:.3f} s ({c['help_cpu_s']:.3f})")
    print(f"(d) study.db: created in {d['create_ms']:.1f} ms (Optuna: {d['optuna_create_ms']:.0f}"
          f" ms); {READ_TRIALS} trials read in {d['read_ms']:.1f} ms (Optuna: "
          f"{d['optuna_read_ms']:.1f} ms)   [cores {os.cpu_count()}, load {load:.1f}]")
    return [
        ("startup 20-trial run vs fresh process per trial (x)", a["fresh_s"] / a["nas_s"], ">= 10"),
        ("startup 20-trial run, workers spawned, vs fresh (x)", a["fresh_s"] / a["spawn_s"], ""),
        ("startup 20-trial run, space not known, vs fresh (x)", a["fresh_s"] / a["cold_s"], ""),
        ("startup 20-trial run wall (s)", a["nas_s"], ""),
        ("startup 20-trial run wall, workers spawned (s)", a["spawn_s"], ""),
        ("startup time to the first result (s)", a["nas_first_s"], ""),
        ("startup time to the first result, space not known (s)", a["cold_first_s"], ""),
        ("startup one-trial experiment / import torch (x)", b["nas_s"] / b["bare_s"], "<= 1.5"),
        ("startup nas space / python -c pass (x)", c["space_s"] / c["python_s"], ""),
        ("startup nas status / python -c pass (x)", c["status_s"] / c["python_s"], ""),
        ("startup nas --help / python -c pass (x)", c["help_s"] / c["python_s"], ""),
        ("startup nas space wall (s)", c["space_s"], ""),
        ("startup nas status wall (s)", c["status_s"], "< 0.5"),
        ("startup nas --help wall (s)", c["help_s"], "< 0.5"),
        ("startup study.db creation (ms)", d["create_ms"], "< 100"),
        ("startup study.db creation, Optuna (ms)", d["optuna_create_ms"], ""),
        ("startup 200-trial study read (ms)", d["read_ms"], ""),
        ("startup 200-trial study read, Optuna (ms)", d["optuna_read_ms"], ""),
    ]


if __name__ == "__main__":
    from bench.__main__ import print_table

    sys.exit(0 if print_table(main()) else 1)
