"""Known spaces: a model space's description, kept between runs while its files are unchanged.

Discovering a space imports the user's code (and with it torch, ~1.5 s) and builds every
candidate; `nas run`, `nas resume` and `nas space` on a space that did not change reuse the
description instead. An entry lives in `<cache folder>/spaces/<key>.json`; the key is what
the spec names (module, class, init kwargs, mutators and, for runs, the evaluator function or
dataset), the Python and nas-cli in use. The entry lists every source file the build had
imported from outside the Python installation, with a hash of its content, and is used only
while all of them are unchanged. Only a build that succeeded is remembered, so a broken space
is built (and its error reported) every time. `NAS_SPACE_CACHE=0` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_cli._files import atomic_write_json, cache_dir

if TYPE_CHECKING:
    from nas_cli.space import SearchSpace
    from nas_cli.spec import ExperimentSpec

ENV = "NAS_SPACE_CACHE"
_FORMAT = 1
_KEEP = 256  # entries; the oldest go first


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _folder() -> Path:
    return cache_dir() / "spaces"


def _nas_cli_stamp() -> list[Any]:
    """nas-cli's own sources (how spaces are discovered and described) by size and mtime."""
    package = Path(__file__).resolve().parent.parent
    stamp = []
    for path in sorted(package.rglob("*.py")):
        with contextlib.suppress(OSError):
            info = path.stat()
            stamp.append([str(path.relative_to(package)), info.st_size, info.st_mtime_ns])
    return stamp


def _key(spec: ExperimentSpec, with_evaluator: bool) -> str:
    ms = spec.model_space
    what: dict[str, Any] = {
        "format": _FORMAT, "python": sys.version, "nas_cli": _nas_cli_stamp(),
        "module": ms.module, "class": ms.class_name, "init_kwargs": ms.init_kwargs,
        "mutators": ms.mutators, "base_dir": str(spec.base_dir),
    }
    if ms.module.endswith(".py"):
        what["module"] = str((Path(spec.base_dir) / ms.module).resolve())
    else:  # a dotted module is looked up from the current folder too
        what["cwd"] = os.getcwd()
    if with_evaluator:
        evaluator = spec.evaluator.model_dump(mode="json")
        what["evaluator"] = (
            {k: evaluator.get(k) for k in ("type", "function", "kwargs")}
            if spec.evaluator.type == "function" else {"dataset": evaluator.get("dataset")}
        )
    text = json.dumps(what, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _digest(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _library_roots() -> tuple[str, ...]:
    """Folders whose modules are not the user's: Python's own, installed packages, nas-cli
    (as written and with links resolved)."""
    import site
    import sysconfig

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             *sysconfig.get_paths().values(), str(Path(__file__).resolve().parent.parent)}
    with contextlib.suppress(AttributeError):  # virtualenv's old site.py lacks these
        roots.update(site.getsitepackages())
        roots.add(site.getusersitepackages())
    roots = {r for r in roots if r}
    return tuple({os.path.join(r, "") for r in roots} | {os.path.join(os.path.realpath(r), "")
                                                       for r in roots})


def _named_sources(spec: ExperimentSpec) -> set[str]:
    """The files of the modules the spec names (wherever they are installed)."""
    refs = [spec.model_space.module, *(m.rpartition(":")[0] for m in spec.model_space.mutators)]
    for name in ("function", "dataset"):
        ref = getattr(spec.evaluator, name, None)
        ref = getattr(ref, "factory", ref)
        if isinstance(ref, str) and ":" in ref:
            refs.append(ref.rpartition(":")[0])
    found = set()
    for ref in refs:
        path: str | None
        if ref.endswith(".py"):
            path = str((Path(spec.base_dir) / ref).resolve())
        else:
            path = getattr(sys.modules.get(ref), "__file__", None)
        if isinstance(path, str) and os.path.isfile(path):
            found.add(os.path.realpath(path))
    return found


def user_sources(spec: ExperimentSpec) -> list[str]:
    """The files the spec names and every source file this process imported from outside the
    Python installation (what the user's spaces import, a project's editable packages)."""
    roots = _library_roots()
    found = _named_sources(spec)
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or file.startswith(roots):  # most: no link to resolve
            continue
        path = os.path.realpath(file)
        if not path.startswith(roots) and os.path.isfile(path):
            found.add(path)
    return sorted(found)


def lookup(spec: ExperimentSpec, *, with_evaluator: bool) -> SearchSpace | None:
    """The space of `spec` as it was last built, if none of its files changed since."""
    if not enabled():
        return None
    try:
        entry = json.loads((_folder() / f"{_key(spec, with_evaluator)}.json").read_text())
        if entry.get("format") != _FORMAT:
            return None
        if any(_digest(path) != digest for path, digest in entry["files"]):
            return None
        from nas_cli.space import SearchSpace

        return SearchSpace.from_json(entry["space"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing, unreadable or from another format: build it


def remember(spec: ExperimentSpec, space: SearchSpace, *, with_evaluator: bool) -> None:
    """Keep the space just built for `spec` (best effort: a cache that cannot be written
    only means the next run builds it again)."""
    if not enabled():
        return
    folder = _folder()
    files = [[path, digest] for path in user_sources(spec) if (digest := _digest(path))]
    entry = {"format": _FORMAT, "files": files, "space": space.to_json()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / f"{_key(spec, with_evaluator)}.json", entry, durable=False)
        _prune(folder)
    except Exception:  # noqa: BLE001 - StoreError, OSError: the cache is an optimisation
        pass


def _prune(folder: Path) -> None:
    entries = list(folder.glob("*.json"))
    if len(entries) <= _KEEP:
        return
    entries.sort(key=lambda p: p.stat().st_mtime)
    for path in entries[:len(entries) - _KEEP]:
        path.unlink(missing_ok=True)
