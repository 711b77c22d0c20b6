"""The documentation in docs/: its examples run, its references are complete, the site builds
in strict mode (broken links and references fail)."""

from __future__ import annotations

import importlib.util
import json
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


@pytest.mark.parametrize("part", ["results", "study"])
def test_the_experiments_page_documents_every_key_the_store_writes(part):
    """The page's reference of results.json and of the study's attributes is generated from
    the store's models, so it holds every key they have."""
    gen = _gen()
    assert f"<!-- nas:{part}-reference -->" in (DOCS / "experiments.md").read_text()
    assert f"<!-- nas:{part}-reference -->" in (DOCS / "_hooks.py").read_text()
    text = getattr(gen, f"{part}_reference")()
    missing = [(model, key) for model, keys in gen.file_keys(part).items() for key in keys
               if f"| `{key}` |" not in text]
    assert not missing, f"keys missing from the {part} reference: {missing}"


def test_the_results_json_example_is_a_file_the_store_reads():
    from nas_cli.store import Results, TrialEntry

    page = (DOCS / "experiments.md").read_text()
    section = page[page.index("## results.json"):]
    example = re.search(r"^```json\n(.*?)^```", section, re.S | re.M).group(1)
    results = Results.model_validate_json(example)
    data = json.loads(example)
    assert set(data) <= set(Results.model_fields)
    assert all(set(entry) <= set(TrialEntry.model_fields) for entry in data["trials"])
    assert results.trials[0].rank == 1


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
    experiments = (tmp_path / "site" / "experiments" / "index.html").read_text()
    assert "pareto_front" in experiments and "nas:reruns" in experiments  # generated tables
