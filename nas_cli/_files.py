"""Small file helpers: atomic writes (a reader never sees half a file; a full disk leaves the
old file in place), and nas-cli's cache folder."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from nas_cli.errors import StoreError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def _replacing(path: Path, *, durable: bool) -> Iterator[BinaryIO]:
    """A binary handle on a temp file next to `path` that replaces `path` when the block ends
    (readers see the old or the new file, never half of one); `durable` also syncs it to disk
    before the rename. A failure (a full disk) leaves the old file and no temp file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> None:
    """Write `text` to `path` atomically (see `_replacing`)."""
    with _replacing(path, durable=durable) as handle:
        handle.write(text.encode("utf-8"))


def atomic_copy(source: Path, path: Path) -> None:
    """Copy the file `source` to `path` atomically (see `_replacing`)."""
    with _replacing(path, durable=False) as handle, open(source, "rb") as original:
        shutil.copyfileobj(original, handle)


def atomic_write_json(path: Path, data: Any, *, durable: bool = True) -> None:
    atomic_write_text(path, json.dumps(data, default=str) + "\n", durable=durable)


def cache_dir() -> Path:
    """nas-cli's cache folder (things worth keeping between runs, safe to delete):
    `$XDG_CACHE_HOME/nas-cli`, else `~/.cache/nas-cli`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nas-cli"
