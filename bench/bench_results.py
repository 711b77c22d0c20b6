"""results.json through its model (`nas_cli.store.Results`) against plain JSON, in one process:

(a) writing: `write_results` (a `TrialEntry` per trial, checked, dumped by pydantic) over the
    same file built as plain dicts and dumped with `json.dumps` (how it was written before the
    model), both atomic. The driver rewrites results.json at most a bounded share of its time
    (see bench_scale), so this ratio sets how often, not how fast, a run goes.
(b) reading: `load_info(...).records` (what `nas status` and `nas export` read: the file
    checked against the model, every trial a record) over the same records read by hand
    (`json.loads`, then a record per entry, unchecked, as before the model).

5,000 trials of a typical run (architecture, metrics, intermediate values). Best of 7 each.
Run: python -m bench.bench_results [TRIALS]. `main()` returns [(name, value, target)] rows.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TRIALS = 5_000
REPEATS = 7


def _best(action: Any) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def _records(n: int) -> list[Any]:
    from nas_cli.trials import TrialRecord, TrialState

    states = [TrialState.COMPLETE] * 8 + [TrialState.FAILED, TrialState.PRUNED]
    out = []
    for i in range(n):
        state = states[i % len(states)]
        complete = state is TrialState.COMPLETE
        out.append(TrialRecord(
            i, {"conv1": ["conv3x3", "conv5x5", "skip"][i % 3], "channels": 8 << (i % 3),
                "hidden": 64 * (1 + i % 4), "hp/lr": 0.001 * (1 + i % 7)}, state,
            metric=(i * 7919 % 1000) / 1000 if complete else None,
            metrics={"val_acc": 0.9, "val_loss": 0.3} if complete else {},
            intermediate=[(1, 0.5), (2, 0.7), (3, 0.9)], params=10_000 + i,
            duration_s=1.234, error=None if complete else "ValueError: diverged"))
    return out


def _plain(folder: Path, records: list[Any]) -> None:
    """The same file as plain dicts (the layout spelled out by hand, as before the model)."""
    from nas_cli._files import atomic_write_json
    from nas_cli.trials import TrialState, rank

    trials, position = [], 0
    for r in rank(records, "maximize"):
        entry = {"trial": r.number, "arch": r.arch, "status": r.state.value, "metric": r.metric,
                 "metrics": r.metrics, "params": r.params, "duration_s": round(r.duration_s, 3)}
        if r.error is not None:
            entry["error"] = r.error
        if r.intermediate:
            entry["intermediate"] = [[s, v] for s, v in r.intermediate]
        if r.state is TrialState.COMPLETE and r.metric is not None:
            position += 1
            entry = {"rank": position, **entry}
        trials.append(entry)
    atomic_write_json(folder / "plain.json", {
        "experiment": folder.name, "name": "bench", "status": "done",
        "objective": {"metric": "val_acc", "mode": "maximize"}, "created": 1.0, "updated": 2.0,
        "elapsed_s": 3.0, "max_trial_number": len(records), "strategy": "random",
        "trials": trials}, durable=False)


def _plain_read(folder: Path) -> list[Any]:
    """The records read by hand from plain JSON (no check but what the conversions do)."""
    from nas_cli.trials import TrialRecord, TrialState

    data = json.loads((folder / "results.json").read_text())
    return [TrialRecord(
        number=int(t["trial"]), arch=dict(t.get("arch") or {}),
        state=TrialState(t.get("status", "running")), metric=t.get("metric"),
        values=t.get("values"), metrics=dict(t.get("metrics") or {}),
        intermediate=[(int(s), float(v)) for s, v in t.get("intermediate") or []],
        params=t.get("params"), duration_s=t.get("duration_s"), error=t.get("error"),
        peak_memory=t.get("peak_memory"), node=t.get("node"),
        attempts=list(t.get("attempts") or []), phase=t.get("phase"))
        for t in data["trials"]]


def main(trials: int = TRIALS) -> list[tuple[str, float, object]]:
    from nas_cli.store import RESULTS, Objective, Results, load_info, write_results

    records = _records(trials)
    folder = Path(tempfile.mkdtemp(prefix="bench-results-"))

    def model() -> None:
        write_results(folder, Results(
            experiment=folder.name, name="bench", status="running",  # not synced, as _plain
            objective=Objective(metric="val_acc", mode="maximize"), created=1.0, updated=2.0,
            elapsed_s=3.0, max_trial_number=trials, strategy="random"), records)

    write_model, write_plain = _best(model), _best(lambda: _plain(folder, records))
    read_model, read_plain = _best(lambda: load_info(folder).records), \
        _best(lambda: _plain_read(folder))
    assert load_info(folder).records == _plain_read(folder)  # the same records either way
    size = (folder / RESULTS).stat().st_size
    print(f"{trials} trials, results.json {size / 1e6:.2f} MB: write {write_model * 1e3:.1f} ms "
          f"(plain dicts {write_plain * 1e3:.1f} ms), read to records {read_model * 1e3:.1f} ms "
          f"(by hand {read_plain * 1e3:.1f} ms)")
    return [
        ("results.json write: model / plain dicts (x)", write_model / write_plain, "<= 3"),
        ("results.json read to records: model / by hand (x)", read_model / read_plain, "<= 3"),
        (f"results.json write, {trials} trials (ms)", write_model * 1e3, ""),
        (f"results.json read to records, {trials} trials (ms)", read_model * 1e3, ""),
    ]


if __name__ == "__main__":
    os.nice(10)
    from bench.__main__ import print_table

    print_table(main(int(sys.argv[1]) if len(sys.argv) > 1 else TRIALS))
