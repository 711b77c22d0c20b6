"""The version of Optuna's RDB schema that the store's plain SQL writes, checked before it writes.

Optuna versions its SQLite schema with an alembic revision (table `alembic_version`) and notes
the Optuna that made the file (`version_info.library_version`). The driver writes its rows with
its own SQL statements (see `_study`), which are right for the revisions below only: a study.db
of another revision (written or upgraded by another Optuna) is refused before anything is
written to it, in one line that says what was found and what to do.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from nas_cli.errors import StoreError

# alembic revision -> the Optuna versions that write it (the store's SQL is tested on them)
SCHEMA_REVISIONS = {"v3.2.0.a": "Optuna 3.2 to 5.0"}
# The Optuna versions nas-cli is tested with (setup.cfg's requirement says the same).
OPTUNA_REQUIREMENT = "optuna>=5.0,<5.1"
# Revisions of older Optuna versions: `optuna storage upgrade` brings them to the current one.
_OLDER = ("v0.9.0.a", "v1.2.0.a", "v1.3.0.a", "v2.4.0.a", "v2.6.0.a", "v3.0.0.a", "v3.0.0.b",
          "v3.0.0.c", "v3.0.0.d")


def schema_revision(path: Path) -> tuple[str | None, str | None]:
    """(alembic revision, Optuna version that made the file) of a study.db, read-only; None
    for what the file does not say."""
    found: list[str | None] = []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        for query in ("SELECT version_num FROM alembic_version",
                      "SELECT library_version FROM version_info"):
            try:
                row = conn.execute(query).fetchone()
            except sqlite3.OperationalError:  # no such table
                row = None
            found.append(str(row[0]) if row and row[0] is not None else None)
    return found[0], found[1]


def check_schema(path: Path) -> None:
    """Refuse, in one line, a study.db whose schema revision the store's SQL is not made for."""
    try:
        revision, made_by = schema_revision(path)
    except sqlite3.Error as exc:
        raise StoreError(f"{path} is not a readable trial store ({exc}); start a new "
                         "experiment or restore the file") from None
    if revision in SCHEMA_REVISIONS:
        return
    known = ", ".join(f"{r} ({versions})" for r, versions in SCHEMA_REVISIONS.items())
    found = f"Optuna's storage schema {revision}" + (f" (Optuna {made_by})" if made_by else "")
    if revision is None:
        problem = f"{path} has no Optuna schema revision (table alembic_version)"
        fix = "it was not written by Optuna's RDB storage; start a new experiment"
    elif revision in _OLDER:
        problem = f"{path} was written with {found}, older than the one nas-cli writes ({known})"
        fix = (f"upgrade it with `optuna storage upgrade --storage sqlite:///{path}` "
               "(keep a copy first)")
    else:
        problem = f"{path} was written with {found}, which nas-cli does not know (it writes {known})"
        fix = ("upgrade nas-cli, or use it with the Optuna it is tested with "
               f"(pip install '{OPTUNA_REQUIREMENT}')")
    raise StoreError(f"{problem}; {fix}")
