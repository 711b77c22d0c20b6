"""A new study.db in a millisecond: copy a template of Optuna's empty RDB schema.

Creating the schema with SQLAlchemy and alembic costs about a second per experiment; the
template is made that way once per Optuna version, kept in the user's cache folder
(`$XDG_CACHE_HOME/nas-cli`, else `~/.cache/nas-cli`), and rebuilt when it is missing, damaged
or was made by another Optuna version. Without a writable cache folder, the schema is created
in place as before.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sqlite3
import tempfile
from pathlib import Path

from nas_cli._files import atomic_copy, cache_dir

_VERSION = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def optuna_version() -> str:
    """The installed Optuna's version, read without importing Optuna (that takes ~0.4 s)."""
    spec = importlib.util.find_spec("optuna")
    if spec is not None and spec.origin:
        with contextlib.suppress(OSError):
            found = _VERSION.search((Path(spec.origin).parent / "version.py").read_text())
            if found:
                return found.group(1)
    from importlib.metadata import version

    return version("optuna")


def _valid(path: Path, version: str) -> bool:
    """An empty Optuna schema made by this Optuna version, in WAL mode."""
    try:
        with open(path, "rb") as handle:
            if handle.read(20)[18:20] != b"\x02\x02":  # SQLite's header: WAL mode
                return False
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)) as conn:
            made_by = conn.execute("SELECT library_version FROM version_info").fetchone()
            studies = conn.execute("SELECT COUNT(*) FROM studies").fetchone()[0]
    except (OSError, sqlite3.Error):
        return False
    return made_by is not None and made_by[0] == version and studies == 0


def _build(path: Path) -> None:
    """Optuna's own schema (tables, version info, alembic revision) in a new file at `path`."""
    import logging

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}")
    storage.engine.dispose()
    with contextlib.closing(sqlite3.connect(path)) as conn:  # copies open in WAL mode
        conn.execute("PRAGMA journal_mode=WAL")


def template() -> Path | None:
    """The template for the installed Optuna (made now if needed), or None when the cache
    folder cannot hold it."""
    version = optuna_version()
    path = cache_dir() / f"study-template-optuna-{version}.db"
    if path.is_file() and _valid(path, version):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError:
        return None
    try:
        os.unlink(tmp)  # SQLite creates it
        _build(Path(tmp))
        if not _valid(Path(tmp), version):
            return None
        os.replace(tmp, path)  # concurrent builders each leave a valid file: the last one wins
    except Exception:  # noqa: BLE001 - sqlalchemy/optuna raise many kinds; fall back in place
        return None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return path


def copy_template(path: Path) -> bool:
    """Put an empty Optuna schema at `path` (a new file, written atomically); False when no
    template can be had."""
    source = template()
    if source is None:
        return False
    atomic_copy(source, path)
    return True
