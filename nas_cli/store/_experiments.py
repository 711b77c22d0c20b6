"""Experiment folders: where they live, their ids, and finding one from what a user typed.

    nas-experiments/<id>/{spec.yaml, study.db, results.json, trials/<n>/, run.pid, stop}
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas_cli._files import atomic_write_json
from nas_cli.errors import StoreError, UsageError
from nas_cli.trials import TrialRecord, rank

ENV_DIR = "NAS_EXPERIMENTS_DIR"
RESULTS = "results.json"
SPEC = "spec.yaml"
STUDY = "study.db"
PID = "run.pid"
STOP = "stop"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def experiments_root(exp_dir: str | os.PathLike[str] | None = None) -> Path:
    """`--exp-dir`, else $NAS_EXPERIMENTS_DIR, else ./nas-experiments."""
    return Path(exp_dir or os.environ.get(ENV_DIR) or "nas-experiments")


def new_experiment_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def check_name(name: str) -> str:
    """Experiment names become folder-safe labels; refuse anything that could escape."""
    if not _SAFE.match(name) or ".." in name:
        raise UsageError(
            f"invalid experiment name {name!r}: use letters, digits, '.', '_' and '-' only"
        )
    return name


@dataclass
class ExperimentInfo:
    """What `nas status` shows of one experiment, read from its results.json."""

    id: str
    path: Path
    name: str
    status: str
    data: dict[str, Any]

    @property
    def records(self) -> list[TrialRecord]:
        return [self.parse(t) for t in self.data.get("trials", [])]

    def parse(self, entry: Any) -> TrialRecord:
        """One trial entry of results.json as a record; a malformed one is a StoreError."""
        try:
            return TrialRecord.from_json(entry)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(f"{self.path / RESULTS} has a malformed trial entry "
                             f"({type(exc).__name__}: {exc}); `nas resume {self.id}` "
                             "rewrites it") from None

    @property
    def objectives(self) -> list[dict[str, str]]:
        """Every objective ({metric, mode}), in the spec's order."""
        data = self.data
        return list(data.get("objectives") or ([data["objective"]] if data.get("objective") else []))

    @property
    def created(self) -> float:
        return float(self.data.get("created", 0) or 0)


def read_results(path: Path) -> dict[str, Any]:
    file = path / RESULTS
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise StoreError(f"{file} not found: not an experiment folder") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"{file} is unreadable ({exc}); `nas resume` rewrites it") from None
    if not isinstance(data, dict):
        raise StoreError(f"{file} is not a results object")
    return data


def load_info(path: Path) -> ExperimentInfo:
    data = read_results(path)
    status = data.get("status", "unknown")
    if status == "running" and not driver_alive(path):
        status = "interrupted"
    return ExperimentInfo(path.name, path, data.get("name", path.name), status, data)


def list_experiments(root: Path) -> list[ExperimentInfo]:
    """Every experiment under `root`, oldest first; one whose results.json cannot be read is
    listed as "unreadable" (`nas resume` rewrites it from study.db)."""
    if not root.is_dir():
        return []
    infos = []
    for child in root.iterdir():
        if child.is_dir() and ((child / RESULTS).exists() or (child / STUDY).exists()):
            try:
                infos.append(load_info(child))
            except StoreError:
                infos.append(ExperimentInfo(child.name, child, child.name, "unreadable", {}))
    return sorted(infos, key=lambda i: (i.created or _mtime(i.path), i.id))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def resolve(root: Path, ref: str | None) -> Path:
    """An experiment folder from an id, a unique id prefix or a name (the latest with it);
    None means the latest experiment."""
    infos = list_experiments(root)
    if not infos:
        raise UsageError(f"no experiments under {root}: run one with `nas run SPEC`")
    if ref is None:
        return infos[-1].path
    if "/" in ref or "\\" in ref or ref.startswith("."):
        raise UsageError(f"invalid experiment id {ref!r}")
    exact = [i for i in infos if i.id == ref]
    if exact:
        return exact[0].path
    named = [i for i in infos if i.name == ref]
    if named:
        return named[-1].path
    prefixed = [i for i in infos if i.id.startswith(ref)]
    if len(prefixed) == 1:
        return prefixed[0].path
    if len(prefixed) > 1:
        ids = ", ".join(i.id for i in prefixed[:5])
        raise UsageError(f"experiment {ref!r} is ambiguous: it matches {ids}; type more of the id")
    known = ", ".join(i.id for i in infos[-5:])
    raise UsageError(f"no experiment {ref!r} under {root} (latest: {known}); see `nas status`")


def write_results(path: Path, *, experiment: str, name: str, status: str,
                  objective: dict[str, str], records: list[TrialRecord],
                  extra: dict[str, Any] | None = None,
                  objectives: list[dict[str, str]] | None = None) -> None:
    """Rewrite results.json (atomically): ranked completed trials (by the first objective),
    then the others. With several `objectives`, each trial has its `values` and the Pareto
    front is listed (`pareto_front`, trial numbers) and marked (`"pareto": true`)."""
    ranked = rank(records, objective["mode"])
    on_front = set(pareto_numbers(records, objectives)) if objectives and len(objectives) > 1 \
        else set()
    trials = []
    position = 0
    for record in ranked:
        entry = record.to_json()
        if record.state.value == "complete" and record.metric is not None:
            position += 1
            entry = {"rank": position, **entry}
            if record.number in on_front:
                entry["pareto"] = True
        trials.append(entry)
    data = {"experiment": experiment, "name": name, "status": status, "objective": objective}
    if objectives and len(objectives) > 1:
        data["objectives"] = objectives
        data["pareto_front"] = sorted(on_front)
    data.update({**(extra or {}), "trials": trials})
    # Derived from study.db, rewritten often: atomic, but not synced to disk every time.
    atomic_write_json(path / RESULTS, data, durable=status != "running")


def pareto_numbers(records: list[TrialRecord], objectives: list[dict[str, str]]) -> list[int]:
    """Trial numbers of the Pareto front: completed trials that no other one dominates."""
    from nas_cli.pareto import front, oriented

    modes = [o["mode"] for o in objectives]
    done = [r for r in records if r.state.value == "complete" and r.values is not None]
    return [done[i].number for i in front([oriented(r.values, modes) for r in done])]


def study_meta(path: Path, key: str) -> Any:
    """One study attribute read straight from study.db (read-only), or None."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path / STUDY}?mode=ro", uri=True, timeout=10) as conn:
            row = conn.execute("SELECT value_json FROM study_user_attributes WHERE key = ?",
                               (key,)).fetchone()
        return json.loads(row[0]) if row else None
    except (sqlite3.Error, ValueError):
        return None


def driver_alive(path: Path) -> bool:
    """Whether the process that runs this experiment is still there."""
    try:
        pid = int((path / PID).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
