"""`nas space SPEC [--json]`: the search space's labels, candidates and size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nas_cli.cli._common import out


def space(
    spec: Annotated[Path, typer.Argument(help="The experiment spec (YAML).")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the search space a spec names: labels, kinds, candidates, size."""
    from rich.table import Table

    from nas_cli.experiment import load_space
    from nas_cli.space import search_space
    from nas_cli.spec import load_spec

    experiment_spec = load_spec(spec)
    model_class, mutators = load_space(experiment_spec)
    found = search_space(model_class, experiment_spec.model_space.init_kwargs, mutators)
    if as_json:
        out.file.write(json.dumps(found.to_json()) + "\n")
        return
    table = Table(title=f"{experiment_spec.model_space.class_name}: {found.size:,} architectures, "
                        f"{len(found.decisions)} decisions", title_justify="left")
    for column in ("label", "kind", "n", "candidates", "active when"):
        table.add_column(column)
    for decision in found.decisions.values():
        names = decision.names
        shown = ", ".join(names[:6]) + (f", ... ({len(names)})" if len(names) > 6 else "")
        when = f"{decision.parent[0]} in {decision.parent[1]}" if decision.parent else ""
        table.add_row(decision.label, decision.kind, str(len(names)), shown, when)
    out.print(table)
