"""The documentation in docs/: its examples run, its references are complete, the site builds
in strict mode (broken links and references fail)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(DOCS.glob("*.md"))
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _gen():
    spec = importlib.util.spec_from_file_location("nas_docs_gen", DOCS / "_gen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", [p for p in PAGES if _BLOCK.search(p.read_text())],
                         ids=lambda p: p.name)
def test_the_python_examples_of_a_page_run(page, monkeypatch, tmp_path):
    """Each page's ```python blocks run in order in one namespace, as a reader would."""
    monkeypatch.chdir(DOCS.parent)
    namespace: dict = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for number, block in enumerate(_BLOCK.findall(page.read_text()), 1):
        try:
            exec(compile(block, f"{page.name} block {number}", "exec"), namespace)  # noqa: S102
        except Exception as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{page.name}, python block {number}: {type(exc).__name__}: {exc}")


def test_the_spec_reference_documents_every_key():
    gen = _gen()
    text = gen.spec_reference()
    missing = [key for key in sorted(gen.spec_keys()) if f"`{key}`" not in text]
    assert not missing, f"keys missing from the spec reference: {missing}"


def test_the_cli_reference_documents_every_command_and_option():
    gen = _gen()
    text = gen.cli_reference()
    for command, options in gen.cli_commands().items():
        assert f"## `nas {command}`" in text
        for option in options:
            if option.startswith("-"):
                assert f"`{option}`" in text, f"nas {command} {option} is not documented"


def test_the_strategies_page_names_every_strategy_and_its_nni_names():
    from nas_cli.spec import STRATEGY_TABLE

    text = _gen().strategy_table()
    assert "<!-- nas:strategy-table -->" in (DOCS / "strategies.md").read_text()
    for entry in STRATEGY_TABLE:
        assert all(f"`{name}`" in text for name in (entry.name, *entry.nni)), entry.name


def test_every_page_is_in_the_navigation():
    nav = (DOCS.parent / "mkdocs.yml").read_text()
    assert [p.name for p in PAGES if p.name not in nav] == []


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None,
                    reason="mkdocs is not installed: pip install -e '.[docs]'")
def test_the_site_builds_in_strict_mode(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                           "-f", str(DOCS.parent / "mkdocs.yml"), "-d", str(tmp_path / "site")],
                          capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert "population_size" in (tmp_path / "site" / "spec" / "index.html").read_text()
