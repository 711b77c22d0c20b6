"""Hand-built tables over the `Tiny` space (tests/helpers/tiny.py: hidden in {4, 8, 16} x act
in {0, 1}) and specs that run them with the table evaluator, on the simulated backend by
default.

    path = write_table(tmp_path, [row(4, 0, acc=0.5, seconds=3), ...])
    spec = table_spec(tmp_path, path, workers=2)
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from helpers.cli import make_spec


def row(hidden: int, act: int, acc: float | None = None, seconds: float | None = None,
        curve: list[float] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"hidden": hidden, "act": act, "acc": acc, **extra}
    if seconds is not None:
        out["seconds"] = seconds
    if curve is not None:
        out["curve"] = curve
    return out


def every_row(seconds: dict[tuple[int, int], float] | None = None) -> list[dict[str, Any]]:
    """All six architectures; acc = hidden / 16 + act / 100 (distinct; best: hidden 16, act 1)."""
    return [row(h, a, acc=h / 16 + a / 100, seconds=(seconds or {}).get((h, a)))
            for h in (4, 8, 16) for a in (0, 1)]


def write_table(folder: Path, rows: list[dict[str, Any]], name: str = "table.csv") -> Path:
    """Rows as a CSV table (a JSON list for .json); None cells are left empty."""
    path = Path(folder) / name
    if path.suffix == ".json":
        path.write_text(json.dumps([{k: v for k, v in r.items() if v is not None} for r in rows]))
        return path
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for r in rows:
            writer.writerow(["" if r.get(c) is None else
                             json.dumps(r[c]) if isinstance(r[c], list) else r[c]
                             for c in columns])
    return path


def table_spec(folder: Path, table: Path, *, workers: int | None = 1,
               platform: str = "simulated", **overrides: Any) -> Path:
    """A spec that runs `table` (on the simulated backend with `workers` unless `platform`
    says otherwise); `overrides` as for `make_spec`."""
    service: dict[str, Any] = {"platform": platform}
    base: dict[str, Any] = {}
    if platform == "simulated" and workers is not None:
        service["workers"] = workers
        base["trial_concurrency"] = None  # the workers are the concurrency
    base |= {
        "evaluator": {"type": "table", "path": str(table), "function": None},
        "objective": {"metric": "acc", "mode": "maximize"},
        "training_service": service,
        "max_trial_number": 6,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key].update(value)
        else:
            base[key] = value
    return make_spec(folder, **base)
