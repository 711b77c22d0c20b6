"""`nas stop EXP`: ask a running experiment to stop cleanly."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from nas_cli.cli._common import out


def stop(
    experiment: Annotated[str, typer.Argument(metavar="EXP", help="Experiment id, prefix or name.")],
    exp_dir: Annotated[Optional[Path], typer.Option("--exp-dir")] = None,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for it to stop.")] = 10.0,
) -> None:
    """Ask a running experiment to stop; running trials are marked interrupted."""
    from nas_cli.errors import UsageError
    from nas_cli.store import STOP, driver_alive, experiments_root, resolve

    path = resolve(experiments_root(exp_dir), experiment)
    if not driver_alive(path):
        raise UsageError(f"experiment {path.name} is not running")
    (path / STOP).touch()
    deadline = time.time() + wait
    while time.time() < deadline and driver_alive(path):
        time.sleep(0.1)
    if driver_alive(path):
        out.print(f"asked experiment {path.name} to stop; it is finishing up", markup=False)
    else:
        out.print(f"experiment {path.name} stopped; continue with `nas resume {path.name}`",
                  markup=False)
