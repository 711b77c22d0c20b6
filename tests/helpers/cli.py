"""Running the `nas` command in-process and writing spec files for it (used by the fixtures in
tests/conftest.py and by tests/cli/conftest.py's shared experiments)."""

from __future__ import annotations

import contextlib
import io
import json
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TINY = Path(__file__).parent / "tiny.py"


def base_spec() -> dict[str, Any]:
    """A valid spec: the 6-architecture `Tiny` space, a function evaluator, 2 trials."""
    return {
        "model_space": {"module": str(TINY), "class": "Tiny"},
        "strategy": {"name": "random", "seed": 0},
        "evaluator": {"type": "function", "function": f"{TINY}:evaluate"},
        "trial_concurrency": 1,
        "max_trial_number": 2,
    }


def deep_merge(into: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `overrides` into `into`; a None value deletes the key."""
    for key, value in overrides.items():
        if value is None:
            into.pop(key, None)
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = value
    return into


def make_spec(folder: Path, name: str = "spec", **overrides: Any) -> Path:
    """Write `<folder>/<name>.yaml`: `base_spec()` deep-merged with `overrides`.

    >>> make_spec(tmp_path, strategy={"name": "grid"}, objective={"metric": "loss"})
    """
    path = Path(folder) / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(deep_merge(base_spec(), overrides), sort_keys=False))
    return path


@contextlib.contextmanager
def restored_signals() -> Iterator[None]:
    """Put back the SIGINT/SIGTERM handlers that `nas run` installs."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def invoke(*args: Any) -> tuple[int, str, str]:
    """`nas ARGS...` in this process: (exit code, stdout, stderr)."""
    from nas_cli.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with restored_signals(), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([str(a) for a in args])
    return code, stdout.getvalue(), stderr.getvalue()


@dataclass
class Ran:
    """A finished `nas run`: what it printed and what it left."""

    code: int
    out: str
    err: str
    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def results(self) -> dict[str, Any]:
        return json.loads((self.path / "results.json").read_text())


def run_new(root: Path, *args: Any) -> Ran:
    """`nas run ARGS...`; the experiment folder it created under `root`."""
    before = set(root.iterdir()) if root.exists() else set()
    code, out, err = invoke("run", *args)
    created = set(root.iterdir()) - before
    assert len(created) == 1, (code, out, err)
    return Ran(code, out, err, created.pop())
