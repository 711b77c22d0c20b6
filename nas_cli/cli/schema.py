"""`nas schema`: the experiment spec's JSON schema (for editors)."""

from __future__ import annotations

import json

from nas_cli.cli._common import out


def schema() -> None:
    """Print the JSON schema of experiment specs."""
    from nas_cli.spec import json_schema

    out.file.write(json.dumps(json_schema(), indent=2) + "\n")
