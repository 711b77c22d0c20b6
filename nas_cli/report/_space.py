"""Readable choices: the search space the driver stored in study.db, and a name per candidate.

Reads `<exp>/study.db` read-only with sqlite3 (no optuna, no torch), so a running experiment's
writer is never disturbed.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from nas_cli.store import StudyMeta

SPACE_ATTR = StudyMeta.key("space")


def read_only_uri(db: Path) -> str:
    """An SQLite URI that opens `db` read-only (for `sqlite3.connect(uri, uri=True)`)."""
    return f"file:{quote(str(Path(db).resolve()), safe='/')}?mode=ro"


def read_space(db: Path, study_name: str | None = None) -> dict[str, Any] | None:
    """The space JSON ({"size", "labels"}) stored in an experiment's study.db, or None when the
    file is missing or unreadable (a report then names choices by their raw values)."""
    if not Path(db).is_file():
        return None
    query = ("SELECT a.value_json FROM study_user_attributes a JOIN studies s "
             "ON a.study_id = s.study_id WHERE a.key = ?")
    args: tuple[str, ...] = (SPACE_ATTR,)
    if study_name is not None:
        query, args = query + " AND s.study_name = ?", (SPACE_ATTR, study_name)
    try:
        conn = sqlite3.connect(read_only_uri(db), uri=True, timeout=10)
        try:
            row = conn.execute(query, args).fetchone()
        finally:
            conn.close()
        space = json.loads(row[0]) if row else None
    except (sqlite3.Error, ValueError, TypeError):
        return None
    return space if isinstance(space, dict) and isinstance(space.get("labels"), dict) else None


def value_key(value: Any) -> Any:
    """How a decision's value is stored as an Optuna param: scalars as is, others as JSON."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value)


def choice_names(space: dict[str, Any] | None) -> dict[str, list[tuple[Any, str]]]:
    """label -> [(candidate as stored, readable name)], in the space's order.

    >>> choice_names({"labels": {"act": {"candidates": [0, 1], "names": ["0: ReLU", "1: Tanh"]}}})
    {'act': [(0, '0: ReLU'), (1, '1: Tanh')]}
    """
    out: dict[str, list[tuple[Any, str]]] = {}
    for label, decision in ((space or {}).get("labels") or {}).items():
        candidates = list(decision.get("candidates") or [])
        names = decision.get("names") or []
        if len(names) != len(candidates):
            names = [value_text(c) for c in candidates]
        out[label] = [(value_key(c), str(n)) for c, n in zip(candidates, names)]
    return out


def renamed(space: dict[str, Any] | None) -> dict[str, dict[Any, str]]:
    """label -> {stored value: name} for the labels whose names say more than their values
    (LayerChoice indices: `0` -> `"0: ReLU"`); the other labels read well as they are."""
    out = {}
    for label, pairs in choice_names(space).items():
        if any(name != value_text(key) for key, name in pairs):
            out[label] = dict(pairs)
    return out


def value_text(value: Any) -> str:
    """A decision's value as text: strings bare, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)
