"""The `nas` application: one module per command, each a thin shell over library calls."""

from __future__ import annotations

import typer

from nas_cli.cli import bench, export, report, run, schema, space, status, stop, trial, view

app = typer.Typer(
    name="nas", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Multi-trial neural architecture search from one YAML file.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command()(run.run)
app.command()(run.resume)
app.command()(status.status)
app.command()(export.export)
app.command()(space.space)
app.command()(trial.trial)
app.command()(stop.stop)
app.command()(schema.schema)
app.command()(view.view)
app.command()(report.report)
app.command()(bench.bench)
