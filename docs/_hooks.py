"""MkDocs hooks: fill the generated reference pages (see _gen.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import _gen  # noqa: E402

_MARKERS = {
    "<!-- nas:spec-reference -->": _gen.spec_reference,
    "<!-- nas:strategy-table -->": _gen.strategy_table,
    "<!-- nas:cli-reference -->": _gen.cli_reference,
    "<!-- nas:results-reference -->": _gen.results_reference,
    "<!-- nas:study-reference -->": _gen.study_reference,
}


def on_page_markdown(markdown: str, **_: object) -> str:
    for marker, generate in _MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, generate())
    return markdown
