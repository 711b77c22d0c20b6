"""`nas report [EXP] [--output report.html] [--top K]`: one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nas_cli.cli._common import out

_EXP = "Experiment id, prefix or name (default: the latest)."
_OUTPUT = "The HTML file (default: <experiment folder>/report.html)."
_TOP = "How many architectures the top table lists."


def report(
    experiment: Annotated[Optional[str], typer.Argument(metavar="EXP", help=_EXP)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help=_OUTPUT)] = None,
    top: Annotated[int, typer.Option("--top", "-k", min=1, help=_TOP)] = 10,
    exp_dir: Annotated[Optional[Path], typer.Option("--exp-dir")] = None,
) -> None:
    """Write an experiment's HTML report (opens offline); prints its path.

    Objective per trial, intermediate curves, choices in parallel; top and failed trials."""
    from nas_cli.errors import UsageError
    from nas_cli.report import write_report
    from nas_cli.store import experiments_root, load_info, resolve

    info = load_info(resolve(experiments_root(exp_dir), experiment))
    if output is not None and output.is_dir():
        raise UsageError(f"--output {output} is a folder; name a file "
                         f"(e.g. {output / 'report.html'})")
    path = write_report(info, output, top=top)
    out.print(str(path), markup=False)
