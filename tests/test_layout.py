"""The package layout holds: no module reaches into another package's private modules or
names. A package's private modules (`nas_cli/space/_value.py`) and private names serve that
package (and its subpackages); everything else goes through the package's public names."""

from __future__ import annotations

import ast
from pathlib import Path

import nas_cli

ROOT = Path(nas_cli.__file__).parent


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of nas_cli: dotted name -> (file, is a package)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = ("nas_cli", *path.relative_to(ROOT).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


MODULES = _modules()


def _owner(target: str) -> str | None:
    """The package a private module belongs to (`nas_cli.space` for `nas_cli.space._value`)."""
    parts = target.split(".")
    for i, part in enumerate(parts):
        if _private(part):
            return ".".join(parts[:i])
    return None


def _inside(package: str, owner: str) -> bool:
    return package == owner or package.startswith(owner + ".")


def _imports(module: str, path: Path, is_package: bool):
    """(line, imported module, imported name or None) for every import, relative ones resolved."""
    here = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                yield node.lineno, base, alias.name


def cross_package_private_imports() -> list[str]:
    problems = []
    for module, (path, is_package) in MODULES.items():
        package = module if is_package else module.rpartition(".")[0]
        for line, target, name in _imports(module, path, is_package):
            if not target.startswith("nas_cli"):
                continue
            where = f"{path.relative_to(ROOT.parent)}:{line}"
            if name is not None and f"{target}.{name}" in MODULES:  # `from pkg import _module`
                target, name = f"{target}.{name}", None
            owner = _owner(target)
            if owner is not None and not _inside(package, owner):
                what = f"{name} from {target}" if name else target
                problems.append(f"{where} imports {what}, private to {owner}")
            elif name is not None and _private(name):
                target_package = target if MODULES.get(target, (None, True))[1] else target.rpartition(".")[0]
                if not _inside(package, target_package):
                    problems.append(f"{where} imports {name} from {target}, private to {target_package}")
    return problems


def test_no_module_imports_another_packages_private_modules_or_names():
    assert cross_package_private_imports() == []


def test_the_rule_sees_what_it_forbids(tmp_path):
    """The check itself: a private module of another package is caught, one's own is not."""
    assert _owner("nas_cli.space._value") == "nas_cli.space" and _owner("nas_cli.space") is None
    assert _owner("nas_cli._files") == "nas_cli"
    assert _inside("nas_cli.oneshot", "nas_cli") and not _inside("nas_cli.oneshot", "nas_cli.space")
    fake = tmp_path / "m.py"
    fake.write_text("from nas_cli.space._value import describe\nfrom . import _x\n")
    assert list(_imports("nas_cli.oneshot._m", fake, False)) == [
        (1, "nas_cli.space._value", "describe"), (2, "nas_cli.oneshot", "_x")]
