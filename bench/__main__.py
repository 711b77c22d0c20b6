"""Run every benchmark (`bench/bench_*.py`, each with `main() -> [(name, value, target)]`) and
print one table with PASS/MISS per target.

Run: python -m bench [NAME ...]   (NAME: engine, space, evaluator, ...; default: all)

A target is a string such as "<= 5", ">= 1.8" or "< 0.5 s" (units after the number are
ignored), a bare number meaning "<= number", or "" for a figure shown without a target.
A benchmark that is missing or fails is skipped with a note; the exit code is 1 when a target
is missed or a benchmark failed.
"""

from __future__ import annotations

import importlib
import operator
import re
import sys
import time
import traceback
from pathlib import Path

Row = tuple[str, float, object]
_TARGET = re.compile(r"^\s*(<=|>=|<|>|==)?\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)")
_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
        "==": operator.eq}


def target_text(target: object) -> str:
    if isinstance(target, int | float) and not isinstance(target, bool):
        return f"<= {target:g}"
    return str(target or "").strip()


def verdict(value: float, target: object) -> str:
    """PASS, MISS, or '' when there is no target (or it cannot be read)."""
    match = _TARGET.match(target_text(target))
    if not match:
        return ""
    compare = _OPS[match.group(1) or "<="]
    return "PASS" if compare(value, float(match.group(2))) else "MISS"


def print_table(rows: list[Row], notes: list[str] = ()) -> bool:
    """Print the rows with their verdicts; True when no target was missed."""
    width = max([len(name) for name, _, _ in rows] + [9])
    print(f"\n{'benchmark':<{width}}  {'value':>10}  {'target':<10}  result")
    print("-" * (width + 32))
    missed = False
    for name, value, target in rows:
        result = verdict(value, target)
        missed |= result == "MISS"
        print(f"{name:<{width}}  {value:>10.4g}  {target_text(target):<10}  {result}")
    for note in notes:
        print(f"note: {note}")
    return not missed


def discover() -> list[str]:
    return sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))


def run_all(names: list[str] | None = None) -> int:
    modules = discover()
    if names:
        wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in names]
        missing = [n for n in wanted if n not in modules]
        modules = [n for n in wanted if n in modules]
    else:
        missing = []
    rows: list[Row] = []
    notes = [f"{name}: no such benchmark (skipped)" for name in missing]
    for name in modules:
        print(f"\n=== {name}", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            result = module.main()
        except Exception as exc:  # noqa: BLE001 - one failing benchmark must not hide the rest
            traceback.print_exc()
            notes.append(f"{name}: failed ({type(exc).__name__}: {exc}); skipped")
            continue
        if not isinstance(result, list):
            notes.append(f"{name}: main() returned {type(result).__name__}, not rows; skipped")
            continue
        rows.extend((str(n), float(v), t) for n, v, t in result)
        print(f"({name}: {time.perf_counter() - started:.0f} s)")
    ok = print_table(rows, notes)
    return 0 if ok and not any("failed" in n for n in notes) else 1


if __name__ == "__main__":
    sys.exit(run_all(sys.argv[1:]))
