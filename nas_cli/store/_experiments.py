"""Experiment folders: where they live, their ids, and finding one from what a user typed.

    nas-experiments/<id>/{spec.yaml, study.db, results.json, trials/<n>/, run.pid, stop}
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from nas_cli.errors import StoreError, UsageError
from nas_cli.store._attrs import StudyMeta
from nas_cli.store._results import RESULTS, Objective, Results, read_results
from nas_cli.trials import ExperimentStatus, TrialRecord

ENV_DIR = "NAS_EXPERIMENTS_DIR"
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
    """What `nas status` shows of one experiment: its folder and its results.json."""

    id: str
    path: Path
    name: str
    status: ExperimentStatus  # results.json's; INTERRUPTED when its driver died; UNREADABLE
    _results: Results | None = field(default=None, repr=False)  # None: unreadable

    @property
    def results(self) -> Results:
        """Its results.json; a StoreError says why when it cannot be read."""
        if self._results is None:
            self._results = read_results(self.path)
        return self._results

    @cached_property
    def records(self) -> list[TrialRecord]:
        """Every trial, in results.json's order (ranked first)."""
        return [entry.record() for entry in self.results.trials]

    @property
    def objectives(self) -> list[Objective]:
        """Every objective, in the spec's order."""
        return self.results.all_objectives

    @property
    def created(self) -> float:
        return (self._results.created or 0.0) if self._results is not None else 0.0


def load_info(path: Path) -> ExperimentInfo:
    results = read_results(path)
    status = ExperimentStatus.read(results.status)
    if status is ExperimentStatus.RUNNING and not driver_alive(path):
        status = ExperimentStatus.INTERRUPTED
    return ExperimentInfo(path.name, path, results.name, status, results)


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
                infos.append(ExperimentInfo(child.name, child, child.name,
                                            ExperimentStatus.UNREADABLE))
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


def study_meta(path: Path) -> StudyMeta:
    """The study's `nas:*` attributes, read straight from study.db (read-only); empty when the
    file cannot be read."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path / STUDY}?mode=ro", uri=True, timeout=10) as conn:
            rows = conn.execute("SELECT key, value_json FROM study_user_attributes").fetchall()
        return StudyMeta.model_validate({key: json.loads(value) for key, value in rows})
    except (sqlite3.Error, ValueError):  # pydantic's ValidationError is a ValueError
        return StudyMeta()


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
