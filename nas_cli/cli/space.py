"""`nas space SPEC [--json]`: the search space's labels, candidates and size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nas_cli.cli._common import out, print_table, size_text


def space(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", help="The experiment spec (YAML).")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the search space a spec names: labels, kinds, candidates, size."""
    from rich.table import Table

    from nas_cli.experiment import discover, with_hyperparameters
    from nas_cli.spec import load_spec

    experiment_spec = load_spec(spec)
    # a space known from an earlier run is not rebuilt; searched hyperparameters come last
    found, _ = with_hyperparameters(experiment_spec, discover(experiment_spec))
    feasible = _feasibility(experiment_spec, found)
    if as_json:
        data = found.to_json()
        if feasible is not None:
            data["feasible"] = dict(zip(("count", "checked", "exact"), feasible))
        out.file.write(json.dumps(data) + "\n")
        return
    table = Table(title=f"{experiment_spec.model_space.class_name}: {size_text(found.size)} "
                        f"architectures, {len(found.decisions)} decisions", title_justify="left")
    for column in ("label", "kind", "n", "candidates", "active when"):
        table.add_column(column)
    for decision in found.decisions.values():
        names = decision.names
        shown = ", ".join(names[:6]) + (f", ... ({len(names)})" if len(names) > 6 else "")
        count = str(len(names))
        if decision.distribution is not None:  # a continuous range
            shown, count = decision.distribution.describe(), "-"
        when = decision.when_text()
        table.add_row(decision.label, decision.kind, count, shown, when)
    print_table(table)
    if feasible is not None:
        count, checked, exact = feasible
        scope = "of all" if exact else "of a random sample of"
        out.print(f"feasible under the constraints: {count} {scope} {checked} architectures "
                  f"({100 * count / max(checked, 1):.0f}%)", markup=False)


def _feasibility(spec, found):
    """(feasible, checked, exact) under the spec's constraints, or None without any."""
    limits = spec.constraints
    if limits is None or not (limits.max_params or limits.max_flops):
        return None
    from nas_cli.experiment import Constraints, build_payload, feasible_share

    payload, _ = build_payload(spec)
    return feasible_share(found, Constraints(limits, payload))
